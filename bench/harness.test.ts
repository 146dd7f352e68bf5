import { generateTrace, seededRandom } from '@lifeline/test-support/generate';
import { describe, expect, it } from 'vitest';
import { diagramFigure } from './figures/diagram-building.ts';
import { ingestFigures } from './figures/ingest.ts';
import { attachMissedGoalNotes } from './figures/missed-goal-notes.ts';
import { type CpuProfile, hotFunctions, hotPackages, packageOf } from './lib/cpu-profile.ts';
import { interleavedSchedule, runInterleaved } from './lib/interleave.ts';
import { parseLastJson } from './lib/processes.ts';
import {
  type FigureReport,
  figureChanges,
  formatNumber,
  goalMet,
  type Measurement,
  type RunReport,
  ratioOf,
  renderMarkdown,
  toResultsJson,
} from './lib/report.ts';
import { fitPowerLaw, median, quantile } from './lib/stats.ts';

/** A core-diagram result of a folded drawing whose analysis takes as long as the drawing. */
function foldedResult(spans: number, diagramMs: number) {
  return {
    spans,
    diagramMs,
    timingFreeMs: diagramMs,
    analysisMs: diagramMs,
    textLength: 1,
    arrows: 1,
    folded: true,
    runs: 3,
  };
}

describe('median', () => {
  it('takes the middle value of an odd count whatever the input order', () => {
    expect(median([9, 1, 5])).toBe(5);
  });

  it('averages the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('ignores one wild round', () => {
    expect(median([10, 11, 10.5, 900, 10.2])).toBe(10.5);
  });

  it('refuses an empty list', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('quantile', () => {
  it('interpolates between closest ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.99)).toBeCloseTo(9.9, 10);
  });

  it('returns the extremes at 0 and 1', () => {
    expect(quantile([7, 3, 5], 0)).toBe(3);
    expect(quantile([7, 3, 5], 1)).toBe(7);
  });

  it('refuses a quantile outside 0..1', () => {
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
  });
});

describe('fitPowerLaw', () => {
  it('finds exponent 1 for linear growth', () => {
    const fit = fitPowerLaw([100, 1000, 10_000, 100_000].map((x) => ({ x, y: 0.02 * x })));
    expect(fit.exponent).toBeCloseTo(1, 10);
    expect(fit.coefficient).toBeCloseTo(0.02, 10);
    expect(fit.r2).toBeCloseTo(1, 10);
  });

  it('finds exponent 2 for quadratic growth', () => {
    expect(fitPowerLaw([10, 20, 40].map((x) => ({ x, y: x * x }))).exponent).toBeCloseTo(2, 10);
  });

  it('reports a poor fit when the points scatter', () => {
    const fit = fitPowerLaw([
      { x: 1, y: 1 },
      { x: 2, y: 8 },
      { x: 4, y: 2 },
      { x: 8, y: 16 },
    ]);
    expect(fit.r2).toBeLessThan(0.9);
  });

  it('refuses zero or negative values, which have no logarithm', () => {
    expect(() =>
      fitPowerLaw([
        { x: 1, y: 0 },
        { x: 2, y: 1 },
      ]),
    ).toThrow(RangeError);
  });
});

describe('interleaving', () => {
  it('measures every configuration once per round in a fixed order', () => {
    const order = interleavedSchedule(['a', 'b', 'c'], 2).map((s) => `${s.config}${s.round}`);
    expect(order).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1']);
  });

  it('refuses duplicate configurations and zero rounds', () => {
    expect(() => interleavedSchedule(['a', 'a'], 1)).toThrow(RangeError);
    expect(() => interleavedSchedule(['a'], 0)).toThrow(RangeError);
  });

  it('runs measurements one at a time and groups samples by configuration', async () => {
    const calls: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const samples = await runInterleaved({
      configs: ['bare', 'traced'] as const,
      rounds: 3,
      measure: async (config, round) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        calls.push(config);
        await new Promise((resolve) => setTimeout(resolve, 1));
        running--;
        return round * 10 + (config === 'bare' ? 1 : 2);
      },
    });
    expect(calls).toEqual(['bare', 'traced', 'bare', 'traced', 'bare', 'traced']);
    expect(maxRunning).toBe(1);
    expect(samples).toEqual({ bare: [1, 11, 21], traced: [2, 12, 22] });
  });
});

describe('parseLastJson', () => {
  it('reads a whole JSON document', () => {
    expect(parseLastJson('{\n  "a": 1\n}\n')).toEqual({ a: 1 });
  });

  it('skips progress lines and takes the last JSON line', () => {
    expect(parseLastJson('building...\n{"a":1}\nwarming up\n{"a":2}\n')).toEqual({ a: 2 });
  });

  it('fails when there is no JSON at all', () => {
    expect(() => parseLastJson('nothing here', 'core-diagram.ts')).toThrow(/core-diagram.ts printed no JSON/);
  });
});

const rps: Measurement = {
  key: 'overhead.db.lifeline.rps',
  name: 'DB route: throughput, Lifeline',
  value: 950,
  unit: 'req/s',
  baseline: { name: 'bare', value: 1000, unit: 'req/s' },
  goal: { on: 'ratio', op: '>=', target: 0.93, text: '≥ 0.93× bare' },
};
const p99: Measurement = {
  key: 'overhead.db.lifeline.p99',
  name: 'DB route: p99, Lifeline',
  value: 3.5,
  unit: 'ms',
  baseline: { name: 'bare', value: 2, unit: 'ms' },
  goal: { on: 'difference', op: '<=', target: 1, text: '≤ bare + 1 ms' },
};

describe('goals', () => {
  it('judges a ratio goal on value ÷ baseline', () => {
    expect(goalMet(rps)).toBe(true);
    expect(goalMet({ ...rps, value: 920 })).toBe(false);
  });

  it('judges a difference goal on value − baseline', () => {
    expect(goalMet(p99)).toBe(false);
    expect(goalMet({ ...p99, value: 2.9 })).toBe(true);
  });

  it('judges a value goal on the value alone, strictly when asked', () => {
    const row: Measurement = {
      key: 'k',
      name: 'n',
      value: 50,
      unit: 'ms',
      goal: { on: 'value', op: '<', target: 50, text: '< 50 ms' },
    };
    expect(goalMet(row)).toBe(false);
    expect(goalMet({ ...row, value: 49.9 })).toBe(true);
  });

  it('counts a ratio goal without a baseline as missed rather than met', () => {
    const { baseline: _ignored, ...alone } = rps;
    expect(goalMet(alone)).toBe(false);
  });
});

describe('report rendering', () => {
  const figures: FigureReport[] = [
    {
      id: 1,
      title: 'Request overhead',
      method: 'Load from autocannon.',
      rows: [rps, p99],
      notes: ['p99 is limited by | pipes.'],
    },
    {
      id: 5,
      title: 'Diagram building',
      method: 'Core timings.',
      rows: [],
      notes: [],
      failure: 'core-diagram.ts is missing',
    },
  ];
  const report: RunReport = {
    machine: { cpuModel: 'Test CPU', cores: 2, memoryGb: 24, nodeVersion: 'v22.0.0', platform: 'linux-x64' },
    startedAt: '2026-01-02T03:04:05.000Z',
    durationS: 61.4,
    quick: false,
    figures,
  };

  it('writes a table per figure with baseline, comparison, goal and verdict', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('## 1. Request overhead');
    expect(md).toContain(
      '| DB route: throughput, Lifeline | 950 req/s | 1,000 req/s (bare) | 0.950× | ≥ 0.93× bare | yes |',
    );
    expect(md).toContain('| DB route: p99, Lifeline | 3.50 ms | 2.00 ms (bare) | +1.50 ms | ≤ bare + 1 ms | **no** |');
  });

  it('names the machine and the date under every figure', () => {
    const md = renderMarkdown(report);
    const line = 'Measured on Test CPU, 2 cores, 24 GB, Node v22.0.0 (linux-x64), 2026-01-02.';
    expect(md.split(line).length - 1).toBe(2);
  });

  it('says why a figure was not measured instead of leaving it blank', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('**Not measured in this run:** core-diagram.ts is missing');
    expect(md).toContain('| 5 | Diagram building | not measured: core-diagram.ts is missing | | **no** |');
  });

  it('escapes table pipes in notes only where they would break a table', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('> p99 is limited by | pipes.');
    expect(md).toContain('- Goals met: 1 of 2');
  });

  it('gives results.json one key per figure with the same numbers', () => {
    const json = toResultsJson(report);
    expect(Object.keys(json.figures)).toEqual(['overhead.db.lifeline.rps', 'overhead.db.lifeline.p99']);
    expect(json.figures['overhead.db.lifeline.rps']).toMatchObject({ value: 950, ratio: 0.95, met: true, figure: 1 });
    expect(json.figures['overhead.db.lifeline.p99']).toMatchObject({ difference: 1.5, met: false });
    expect(json.failures).toEqual({ '5': 'core-diagram.ts is missing' });
  });

  it('refuses two figures with the same key', () => {
    const twice: RunReport = { ...report, figures: [{ ...figures[0], rows: [rps, rps] } as FigureReport] };
    expect(() => toResultsJson(twice)).toThrow(/duplicate result key/);
  });

  it('says which goal figures moved since the previous report, with the note that explains each', () => {
    // Before: throughput ratio 0.80 (missed), p99 +1.45 ms (a 3 % move: noise, left out).
    const previous = toResultsJson({
      ...report,
      startedAt: '2025-12-01T00:00:00.000Z',
      figures: [
        {
          ...(figures[0] as FigureReport),
          rows: [
            { ...rps, value: 800 },
            { ...p99, value: 3.45 },
          ],
        },
      ],
    });
    const changes = figureChanges(report, previous);
    expect(changes.map((c) => c.key)).toEqual(['overhead.db.lifeline.rps']);
    expect(changes[0]).toMatchObject({
      before: 0.8,
      now: 0.95,
      unit: '×',
      better: true,
      metBefore: false,
      metNow: true,
    });
    const noted = renderMarkdown({
      ...report,
      previous,
      changeNotes: { 'overhead.db.lifeline.rps': 'one insert per batch (profile: #write)' },
    });
    expect(noted).toContain('## Changes since the previous report (2025-12-01)');
    expect(noted).toContain(
      '| 1 | DB route: throughput, Lifeline | 0.800× (800 req/s vs 1,000 req/s) | 0.950× (950 req/s vs 1,000 req/s) | no → yes | one insert per batch (profile: #write) |',
    );
    expect(renderMarkdown({ ...report, previous })).toContain(
      '| no → yes | no change to the code it measures (noise) |',
    );
    expect(renderMarkdown(report)).not.toContain('Changes since');
  });

  it('says when a comparison moved with its baseline, and when a figure moved away from the change meant to improve it', () => {
    // Before: Lifeline 960 req/s against a bare 1,200 (0.80×); now 950 against 1,000 (0.95×): the baseline moved.
    const baselineMoved = toResultsJson({
      ...report,
      figures: [
        {
          ...(figures[0] as FigureReport),
          rows: [{ ...rps, value: 960, baseline: { name: 'bare', value: 1200, unit: 'req/s' } }, p99],
        },
      ],
    });
    const note = { 'overhead.db.lifeline.rps': 'one insert per batch' };
    expect(renderMarkdown({ ...report, previous: baselineMoved, changeNotes: note })).toContain(
      "Lifeline's own figure moved −1 %, its baseline −17 %: the comparison moved with the baseline",
    );
    // Before: 1,100 req/s against 1,000 (1.10×); now 0.95×: worse, though a note says a change meant to improve it.
    const wasBetter = toResultsJson({
      ...report,
      figures: [{ ...(figures[0] as FigureReport), rows: [{ ...rps, value: 1100 }, p99] }],
    });
    expect(figureChanges(report, wasBetter)[0]?.better).toBe(false);
    expect(renderMarkdown({ ...report, previous: wasBetter, changeNotes: note })).toContain(
      'Moved away from its goal although this change aimed the other way (noise, or a cost the profiles missed): one insert per batch',
    );
  });

  it('formats numbers as a table reader expects', () => {
    expect(formatNumber(123_456.7)).toBe('123,457');
    expect(formatNumber(123.45)).toBe('123');
    expect(formatNumber(1.234)).toBe('1.23');
    expect(formatNumber(0.01234)).toBe('0.0123');
    expect(formatNumber(0)).toBe('0');
  });
});

describe('generated traces', () => {
  it('are the same for the same seed', () => {
    const a = generateTrace({ random: seededRandom(7), startTimeNs: 1e18, targetSpans: 40 });
    const b = generateTrace({ random: seededRandom(7), startTimeNs: 1e18, targetSpans: 40 });
    expect(a).toEqual(b);
  });

  it('have about the asked size, one root, no orphan and no span ending before it starts', () => {
    for (const size of [1, 12, 250]) {
      const spans = generateTrace({ random: seededRandom(size), startTimeNs: 1e18, targetSpans: size });
      expect(Math.abs(spans.length - size)).toBeLessThanOrEqual(1);
      const ids = new Set(spans.map((s) => s.spanId));
      expect(spans.filter((s) => !s.parentSpanId)).toHaveLength(1);
      expect(spans.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId))).toEqual([]);
      expect(spans.filter((s) => (s.endTimeNs ?? 0) < s.startTimeNs)).toEqual([]);
    }
  });
});

describe('CPU profile hot spots', () => {
  const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4] },
      {
        id: 2,
        callFrame: frame(
          'insert',
          'file:///app/node_modules/.pnpm/better-sqlite3@13.2.0/node_modules/better-sqlite3/lib/x.js',
          9,
        ),
      },
      { id: 3, callFrame: frame('summarize', 'file:///work/main/packages/core/dist/summary.js', 17) },
      { id: 4, callFrame: frame('(garbage collector)', '') },
    ],
    samples: [2, 2, 3, 2, 4],
    timeDeltas: [1000, 1000, 2000, 1000, 5000],
    startTime: 0,
    endTime: 10_000,
  };

  it('names the package a script belongs to', () => {
    expect(
      packageOf('file:///x/node_modules/.pnpm/@opentelemetry+core@3.1.0/node_modules/@opentelemetry/core/a.js'),
    ).toBe('@opentelemetry/core');
    expect(packageOf('file:///work/main/packages/store/dist/writer.js')).toBe('@lifeline/store');
    expect(packageOf('file:///work/main/viewer/dist/app.js')).toBe('@lifeline/viewer');
    expect(packageOf('node:internal/http')).toBe('node internals');
  });

  it('adds up self time per function, largest first, as shares of all samples', () => {
    const spots = hotFunctions(profile);
    expect(spots.map((s) => s.name)).toEqual([
      '(garbage collector) ((native / V8))',
      'insert (better-sqlite3:10)',
      'summarize (@lifeline/core:18)',
    ]);
    expect(spots[0]).toMatchObject({ selfMs: 5, selfPct: 50 });
    expect(spots[1]).toMatchObject({ selfMs: 3, selfPct: 30 });
  });

  it('adds up self time per package', () => {
    expect(hotPackages(profile).map((s) => [s.name, s.selfPct])).toEqual([
      ['(garbage collector)', 50],
      ['better-sqlite3', 30],
      ['@lifeline/core', 20],
    ]);
  });
});

describe('missed-goal notes', () => {
  const figure = (): FigureReport => ({
    id: 1,
    title: 'Request overhead',
    method: '',
    rows: [
      { ...rps, value: 500 },
      { ...p99, key: 'p99.other', value: 9 },
      { ...rps, key: 'met', value: 999 },
    ],
    notes: [],
  });

  it('explains only the goals that were missed', () => {
    const figures = [figure()];
    const unexplained = attachMissedGoalNotes(figures, {
      'overhead.db.lifeline.rps': 'SQLite inserts limit it.',
      met: 'never shown',
    });
    expect(figures[0]?.notes).toEqual([
      '**Goal missed — DB route: throughput, Lifeline (≥ 0.93× bare).** SQLite inserts limit it.',
    ]);
    expect(unexplained).toEqual(['p99.other']);
  });

  it("uses the prepared note for Lifeline's DB-route throughput against the stock set-up", () => {
    const figures: FigureReport[] = [
      {
        ...figure(),
        rows: [
          {
            ...rps,
            key: 'overhead.db.lifelineVsOtlp.rps',
            goal: { on: 'ratio', op: '>=', target: 1, text: '≥ 1× stock' },
          },
        ],
      },
    ];
    attachMissedGoalNotes(figures);
    expect(figures[0]?.notes[0]).toMatch(/What limits it/);
  });
});

describe('figures read from the store and core benchmarks', () => {
  const ingestOutput = {
    spansPerRun: 200_000,
    runs: 5,
    batchSize: 512,
    exporterSpansPerSecond: 120_000,
    rawInsertSpansPerSecond: 180_000,
    eventLoop: {
      rounds: 5,
      idleDelayP50Ms: 1,
      idleDelayP99Ms: 2,
      delayP50Ms: 1.1,
      delayP99Ms: 3.5,
      addedDelayP99Ms: 1.5,
      exportCallP50Ms: 0.4,
      exportCallP99Ms: 1.2,
    },
  };

  it('judges ingest on both the absolute rate and the share of the raw insert', () => {
    const [ingest] = ingestFigures(ingestOutput);
    const rows = new Map(ingest?.rows.map((r) => [r.key, r]));
    expect(goalMet(rows.get('ingest.exporter.spansPerS') as Measurement)).toBe(false);
    expect(goalMet(rows.get('ingest.exporter.shareOfRaw') as Measurement)).toBe(true);
  });

  it('judges the export event-loop delay on what it adds to an idle loop', () => {
    const added = (addedDelayP99Ms: number) =>
      ingestFigures({ ...ingestOutput, eventLoop: { ...ingestOutput.eventLoop, addedDelayP99Ms } })[1]?.rows.find(
        (r) => r.key === 'exportLoop.addedDelayP99Ms',
      ) as Measurement;
    expect(goalMet(added(1.5))).toBe(true);
    expect(goalMet(added(2.5))).toBe(false);
  });

  it('refuses store-ingest output without the rates it needs', () => {
    const { exporterSpansPerSecond: _dropped, ...partial } = ingestOutput;
    expect(() => ingestFigures(partial as typeof ingestOutput)).toThrow(/exporterSpansPerSecond/);
  });

  it('fits the diagram growth exponent from the core benchmark sizes and holds 10,000 spans to 50 ms', () => {
    const result = (spans: number, diagramMs: number) => ({
      spans,
      diagramMs,
      timingFreeMs: diagramMs,
      analysisMs: diagramMs / 2,
      textLength: 1,
      arrows: 1,
      folded: false,
      runs: 3,
    });
    const figure = diagramFigure(
      { benchmark: 'core-diagram', results: [result(10_000, 40), result(100, 0.4), result(1_000, 4)] },
      [100, 1_000, 10_000],
    );
    const rows = new Map(figure.rows.map((r) => [r.key, r]));
    expect(rows.get('diagram.growthExponent')?.value).toBeCloseTo(1, 10);
    expect(goalMet(rows.get('diagram.spans10000.ms') as Measurement)).toBe(true);
    expect(rows.get('diagram.spans1000.ms')?.baseline?.value).toBe(0.4);
  });

  it('compares with the build given by --core-before size by size, as a ratio, when it was measured', () => {
    const result = (spans: number, diagramMs: number, beforeDiagramMs?: number) => ({
      spans,
      diagramMs,
      timingFreeMs: diagramMs,
      analysisMs: diagramMs,
      textLength: 1,
      arrows: 1,
      folded: true,
      runs: 3,
      ...(beforeDiagramMs !== undefined ? { beforeDiagramMs } : {}),
    });
    const sizes = [1_000, 10_000, 100_000];
    const compared = diagramFigure(
      {
        benchmark: 'core-diagram',
        results: [result(1_000, 5, 10), result(10_000, 40, 80), result(100_000, 400, 1_600)],
        summary: { spansPerTrace: 10, usPerTrace: 30, beforeUsPerTrace: 40 },
      },
      sizes,
    );
    const rows = new Map(compared.rows.map((r) => [r.key, r]));
    // The store's per-trace summary, against the build before too.
    expect(rows.get('diagram.summary.usPerTrace')?.value).toBe(30);
    expect(ratioOf(rows.get('diagram.vsBefore.summary.usPerTrace') as Measurement)).toBeCloseTo(0.75, 10);
    const tenThousand = rows.get('diagram.vsBefore.spans10000.ms') as Measurement;
    expect(tenThousand.value).toBe(40);
    expect(tenThousand.baseline?.value).toBe(80);
    expect(ratioOf(tenThousand)).toBeCloseTo(0.5, 10);
    expect(rows.get('diagram.before.lastDecadeExponent')?.value).toBeCloseTo(Math.log10(20), 10);
    expect(compared.method).toContain('--core-before');
    // Without the other build, no such rows.
    const alone = diagramFigure(
      {
        benchmark: 'core-diagram',
        results: [result(1_000, 5), result(10_000, 40), result(100_000, 400)],
        summary: { spansPerTrace: 10, usPerTrace: 30 },
      },
      sizes,
    );
    expect(alone.rows.some((r) => r.key.includes('before') || r.key.includes('Before'))).toBe(false);
    expect(alone.rows.some((r) => r.key === 'diagram.summary.usPerTrace')).toBe(true);
    expect(alone.method).not.toContain('--core-before');
  });

  it('reports the growth exponent of the last decade on its own, against 1.1', () => {
    // Linear up to 10,000 spans, then 20 times slower for 10 times the spans.
    const figure = diagramFigure(
      {
        benchmark: 'core-diagram',
        results: [
          foldedResult(100, 1),
          foldedResult(1_000, 10),
          foldedResult(10_000, 100),
          foldedResult(100_000, 2_000),
        ],
      },
      [100, 1_000, 10_000, 100_000],
    );
    const rows = new Map(figure.rows.map((r) => [r.key, r]));
    const lastDecade = rows.get('diagram.lastDecadeExponent') as Measurement;
    expect(lastDecade.value).toBeCloseTo(Math.log10(20), 10);
    expect(lastDecade.name).toContain('10,000 → 100,000 spans');
    expect(goalMet(lastDecade)).toBe(false);
    expect(rows.get('diagram.growthExponent')?.value).toBeLessThan(lastDecade.value);
  });

  it('reports the exponent from a fifth of the largest size beside the last decade, without a goal', () => {
    const figure = diagramFigure(
      {
        benchmark: 'core-diagram',
        results: [foldedResult(10_000, 100), foldedResult(100_000, 1_300)],
        lastDecade: {
          fromSpans: 10_000,
          toSpans: 100_000,
          fromMs: 100,
          toMs: 1_300,
          rounds: 9,
          exponent: 1.114,
          midSpans: 20_000,
          midMs: 260,
          pastCacheExponent: 1,
        },
      },
      [10_000, 100_000],
    );
    const rows = new Map(figure.rows.map((r) => [r.key, r]));
    const pastCache = rows.get('diagram.pastCacheExponent') as Measurement;
    expect(pastCache.value).toBe(1);
    expect(pastCache.name).toContain('from 20,000 to 100,000 spans');
    expect(pastCache.name).toContain('260 ms → 1300 ms');
    expect(pastCache.goal).toBeUndefined();
    expect(rows.get('diagram.lastDecadeExponent')?.value).toBe(1.114);
  });
});
