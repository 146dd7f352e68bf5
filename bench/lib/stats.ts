/**
 * Small statistics used by every figure. Kept free of I/O so the harness test
 * can check them exactly.
 */

/**
 * The median of a list of numbers (the mean of the two middle values for an
 * even count). Benchmarks report medians because one slow round, caused by
 * another process on the shared cores, should not move the figure.
 *
 * @example
 * median([5, 1, 3]); // 3
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] as number;
  return ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The q-th quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks,
 * the same definition as numpy's default, so p50 of two values is their mean.
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError('quantile of an empty list');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside 0..1`);
  const sorted = Float64Array.from(values).sort();
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const low = sorted[lo] as number;
  const high = sorted[hi] as number;
  return low + (high - low) * (pos - lo);
}

/** The result of {@link fitPowerLaw}: `y ≈ coefficient · x^exponent`. */
export interface PowerLawFit {
  /** Growth exponent: 1 is linear, 2 quadratic. */
  exponent: number;
  coefficient: number;
  /** Coefficient of determination of the fit in log–log space. */
  r2: number;
}

/**
 * Least-squares fit of a straight line through (log x, log y): the slope is how
 * the cost grows with size. Used to tell linear diagram building from
 * accidentally quadratic.
 *
 * @example
 * fitPowerLaw([{ x: 10, y: 100 }, { x: 100, y: 10_000 }]).exponent; // 2
 */
export function fitPowerLaw(points: readonly { x: number; y: number }[]): PowerLawFit {
  if (points.length < 2) throw new RangeError('a growth fit needs at least two points');
  for (const p of points) {
    if (!(p.x > 0 && p.y > 0)) throw new RangeError(`a growth fit needs positive values, got (${p.x}, ${p.y})`);
  }
  const xs = points.map((p) => Math.log(p.x));
  const ys = points.map((p) => Math.log(p.y));
  const n = points.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0) throw new RangeError('a growth fit needs at least two different sizes');
  const exponent = sxy / sxx;
  const intercept = my - exponent * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { exponent, coefficient: Math.exp(intercept), r2 };
}
