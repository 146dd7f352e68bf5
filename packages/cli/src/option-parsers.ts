import { InvalidArgumentError } from 'commander';

/** Parses a whole number of at least `min` for an option such as `--limit 20`. */
export function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(`expected a whole number of ${min} or more, e.g. ${Math.max(min, 20)}`);
    }
    return parsed;
  };
}

/** Parses a non-negative decimal number for an option such as `--min-ms 12.5`. */
export function nonNegativeNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) {
    throw new InvalidArgumentError('expected a number of 0 or more, e.g. 100');
  }
  return parsed;
}

/** Parses a TCP port (0 lets the system pick a free one). */
export function port(value: string): number {
  const parsed = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || parsed > 65535) {
    throw new InvalidArgumentError('expected a port number from 0 to 65535, e.g. 4242');
  }
  return parsed;
}

/** Parses an HTTP status code such as `--status 500`. */
export function httpStatus(value: string): number {
  const parsed = Number(value);
  if (!/^\s*\d{3}\s*$/.test(value) || parsed < 100 || parsed > 599) {
    throw new InvalidArgumentError('expected an HTTP status code from 100 to 599, e.g. 500');
  }
  return parsed;
}
