import { TraceFileError } from './trace-file-error.js';

/** A JSON value read from an untrusted file, with the path that leads to it for error messages. */
export type JsonObject = Readonly<Record<string, unknown>>;

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

export function fail(place: string, problem: string): never {
  throw new TraceFileError(problem, { place });
}

export function child(place: string, key: string | number): string {
  if (typeof key === 'number') return `${place}[${key}]`;
  return place === '' ? key : `${place}.${key}`;
}

export function asObject(value: unknown, place: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(place, `expected an object, found ${describe(value)}`);
  }
  return value as JsonObject;
}

export function asArray(value: unknown, place: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(place, `expected an array, found ${describe(value)}`);
  return value;
}

/** An optional array: absent or null reads as empty. */
export function optionalArray(value: unknown, place: string): readonly unknown[] {
  return value === undefined || value === null ? [] : asArray(value, place);
}

export function asString(value: unknown, place: string): string {
  if (typeof value !== 'string') fail(place, `expected a string, found ${describe(value)}`);
  return value;
}

export function optionalString(value: unknown, place: string): string | undefined {
  return value === undefined || value === null ? undefined : asString(value, place);
}

/** A number given as a JSON number or a decimal string (as 64-bit integers are in OTLP/JSON). */
export function asNumber(value: unknown, place: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) fail(place, `expected a number, found ${describe(value)}`);
  return n;
}
