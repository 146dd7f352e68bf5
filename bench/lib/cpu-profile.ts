/**
 * Reading V8 CPU profiles (`node --cpu-prof`) into hot-spot tables: where the
 * samples landed, by function and by package, so a missed goal comes with the
 * code that costs the time.
 */

/** The parts of a `.cpuprofile` file this module reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One row of a hot-spot table. */
export interface HotSpot {
  /** `function (file:line)` or a package name. */
  name: string;
  selfMs: number;
  /** Share of all samples, 0..100. */
  selfPct: number;
}

/** Which package (or Node internal, or the app) a script URL belongs to. */
export function packageOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const match = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1] as string;
  const lifeline = /\/(packages\/[^/]+|viewer)\//.exec(url);
  if (lifeline) return lifeline[1] === 'viewer' ? '@lifeline/viewer' : `@lifeline/${(lifeline[1] as string).slice(9)}`;
  return url.replace(/^file:\/\//, '').replace(/^.*\/(bench\/)/, '$1');
}

function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    // timeDeltas[i] is the time before sample i; attributing it to sample i is how DevTools does it.
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return self;
}

/**
 * Self time aggregated by `key(callFrame)`, largest first. Idle and GC
 * entries are kept: a profile spent mostly idle says the process was not the
 * bottleneck, and GC is a cost like any other.
 */
function aggregate(
  profile: CpuProfile,
  key: (frame: CpuProfile['nodes'][number]['callFrame']) => string,
  top: number,
): HotSpot[] {
  const self = selfTimes(profile);
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const byKey = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = self.get(node.id);
    if (!us) continue;
    const k = key(node.callFrame);
    byKey.set(k, (byKey.get(k) ?? 0) + us);
  }
  return [...byKey.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, selfPct: (us / total) * 100 }));
}

/** The functions with the most self time. */
export function hotFunctions(profile: CpuProfile, top = 15): HotSpot[] {
  return aggregate(
    profile,
    (f) => `${f.functionName || '(anonymous)'} (${packageOf(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''})`,
    top,
  );
}

/** Self time per package: which dependency the time goes to. */
export function hotPackages(profile: CpuProfile, top = 10): HotSpot[] {
  return aggregate(
    profile,
    (f) =>
      f.functionName === '(garbage collector)' || f.functionName === '(idle)' ? f.functionName : packageOf(f.url),
    top,
  );
}

/** A hot-spot table as indented text lines for a report or a terminal. */
export function formatHotSpots(spots: readonly HotSpot[]): string {
  return spots
    .map((s) => `${s.selfPct.toFixed(1).padStart(5)} %  ${s.selfMs.toFixed(0).padStart(6)} ms  ${s.name}`)
    .join('\n');
}
