/**
 * Interleaved rounds: every configuration is measured once per round, in the
 * same order (A B C A B C …), so slow drift on a shared machine (another build,
 * a warming page cache) lands on all configurations alike instead of on
 * whichever ran last.
 */

/** One slot of an interleaved schedule. */
export interface ScheduleSlot<C extends string> {
  /** 0-based round number. */
  round: number;
  config: C;
}

/**
 * The order in which configurations are measured: `rounds` rounds, each
 * running every configuration once in the given order.
 *
 * @example
 * interleavedSchedule(['a', 'b'], 2); // a b a b
 */
export function interleavedSchedule<C extends string>(configs: readonly C[], rounds: number): ScheduleSlot<C>[] {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${rounds}`);
  if (new Set(configs).size !== configs.length) throw new RangeError('configurations must be distinct');
  const slots: ScheduleSlot<C>[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) slots.push({ round, config });
  }
  return slots;
}

/** Options of {@link runInterleaved}. */
export interface RunInterleavedOptions<C extends string, T> {
  configs: readonly C[];
  rounds: number;
  /** Measures one configuration once. */
  measure: (config: C, round: number) => Promise<T>;
}

/**
 * Runs {@link interleavedSchedule} strictly one measurement at a time (never in
 * parallel: two loads would compete for the same two cores) and collects each
 * configuration's samples in round order.
 *
 * @example
 * const samples = await runInterleaved({ configs: ['bare', 'traced'], rounds: 3, measure: (c) => load(c) });
 * median(samples.bare.map((s) => s.rps));
 */
export async function runInterleaved<C extends string, T>(
  options: RunInterleavedOptions<C, T>,
): Promise<Record<C, T[]>> {
  const samples = Object.fromEntries(options.configs.map((c) => [c, [] as T[]])) as Record<C, T[]>;
  for (const slot of interleavedSchedule(options.configs, options.rounds)) {
    samples[slot.config].push(await options.measure(slot.config, slot.round));
  }
  return samples;
}
