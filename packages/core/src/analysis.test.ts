import { consume, httpClient, httpServer, publish, redis, sql, TRACE_ID, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace, unionLength } from './analysis.js';
import { formatDuration } from './format.js';
import { markdownExport } from './markdown.js';
import { summarizeTrace } from './summary.js';

const root = (end: number, status = 200) =>
  httpServer({ id: 'root', start: 0, end, route: '/articles/:id', path: '/articles/1', status });
const q = (id: string, start: number, end: number, table = id) =>
  sql({ id, parent: 'root', start, end, query: `SELECT * FROM ${table} WHERE id = $1` });

describe('analyzeTrace', () => {
  it('splits wall time by category without counting overlaps twice', () => {
    const t = trace(
      root(100),
      q('a', 10, 30),
      q('b', 20, 40), // overlaps a: db time is 10..40 = 30 ms
      redis({ id: 'c', parent: 'root', start: 40, end: 45, statement: 'GET x:1' }),
      httpClient({ id: 'h', parent: 'root', start: 50, end: 70, url: 'http://ext/x' }),
      publish({ id: 'p', parent: 'root', start: 70, end: 72, queue: 'jobs' }),
    );
    const analysis = analyzeTrace(t);
    expect(analysis.wallTimeMs).toBe(100);
    expect(analysis.byCategory).toEqual({ db: 30, cache: 5, http: 20, queue: 2, own: 43 });
  });

  it('follows the critical path through the child that ends last, own work included', () => {
    const t = trace(
      root(100),
      q('a', 10, 30),
      q('b', 15, 60), // ends last among the overlapping pair: on the path
      q('c', 70, 80),
    );
    const steps = analyzeTrace(t).criticalPath.map((s) => [s.spanId, s.startMs, s.durationMs]);
    expect(steps).toEqual([
      ['root', 0, 10],
      ['a', 10, 5],
      ['b', 15, 45],
      ['root', 60, 10],
      ['c', 70, 10],
      ['root', 80, 20],
    ]);
    const total = analyzeTrace(t).criticalPath.reduce((n, s) => n + s.durationMs, 0);
    expect(total).toBeCloseTo(100, 3);
  });

  it('finds serial runs with their what-if saving, split by overlapping groups', () => {
    const t = trace(
      root(200),
      q('a', 10, 30),
      q('b', 30, 40),
      q('c', 50, 60),
      q('d', 55, 70),
      q('e', 80, 90),
      q('f', 90, 130),
    );
    const runs = analyzeTrace(t).serialRuns;
    expect(runs).toEqual([
      { parentSpanId: 'root', spanIds: ['a', 'b'], sumMs: 30, maxMs: 20, chainMs: 20, savingMs: 10, dependent: [] },
      { parentSpanId: 'root', spanIds: ['e', 'f'], sumMs: 50, maxMs: 40, chainMs: 40, savingMs: 10, dependent: [] },
    ]);
  });

  it('counts a serial run nested in a call an outer run would overlap only as far as it still shortens the request', () => {
    // The request calls two services one after the other, 200 ms each; the
    // first runs two 90 ms queries one after the other. Overlapping the two
    // calls leaves 200 ms (the second call), whatever the first one's
    // queries do: 200 ms saved, not the 290 ms the two runs add up to.
    const service = (id: string, name: string, start: number, end: number) => [
      httpClient({ id: `${id}-client`, parent: 'root', start, end, url: `http://${name}:8080/x` }),
      httpServer({ id: `${id}-server`, parent: `${id}-client`, service: name, route: '/x', start, end }),
    ];
    const queries = [
      sql({ id: 'a1', parent: 'a-server', service: 'svc-a', start: 10, end: 100, query: 'SELECT * FROM t1' }),
      sql({ id: 'a2', parent: 'a-server', service: 'svc-a', start: 100, end: 190, query: 'SELECT * FROM t2' }),
    ];
    const slowSecond = trace(
      root(400),
      ...service('a', 'svc-a', 0, 200),
      ...queries,
      ...service('b', 'svc-b', 200, 400),
    );
    const analysis = analyzeTrace(slowSecond);
    expect(analysis.serialRuns.map((run) => run.savingMs)).toEqual([200, 90]);
    expect(analysis.overlapSavingMs).toBe(200);
    expect(summarizeTrace(slowSecond).overlapSavingMs).toBe(200);

    // With a shorter second call the first is the longer one, and its own
    // queries overlapping shortens the request further: 110 ms left of 300.
    const fastSecond = trace(
      root(300),
      ...service('a', 'svc-a', 0, 200),
      ...queries,
      ...service('b', 'svc-b', 200, 300),
    );
    expect(analyzeTrace(fastSecond).overlapSavingMs).toBe(190);
  });

  it('never reckons a saving above the request duration, however the serial runs nest', () => {
    // Three services called one after the other, 100 ms each, each running
    // two 50 ms queries one after the other: the runs' savings add up to
    // 350 ms of a 300 ms request. Everything side by side takes 50 ms.
    const spans = [root(300)];
    for (let i = 0; i < 3; i++) {
      const start = i * 100;
      spans.push(
        httpClient({ id: `c${i}`, parent: 'root', start, end: start + 100, url: `http://svc-${i}:8080/x` }),
        httpServer({ id: `s${i}`, parent: `c${i}`, service: `svc-${i}`, route: '/x', start, end: start + 100 }),
        sql({ id: `q${i}a`, parent: `s${i}`, service: `svc-${i}`, start, end: start + 50, query: 'SELECT * FROM a' }),
        sql({
          id: `q${i}b`,
          parent: `s${i}`,
          service: `svc-${i}`,
          start: start + 50,
          end: start + 100,
          query: 'SELECT * FROM b',
        }),
      );
    }
    const analysis = analyzeTrace(trace(...spans));
    expect(analysis.serialRuns.reduce((sum, run) => sum + run.savingMs, 0)).toBe(350);
    expect(analysis.overlapSavingMs).toBe(250);
    expect(analysis.overlapSavingMs).toBeLessThanOrEqual(analysis.wallTimeMs);
  });

  it('reckons the saving of roots that overlapped as one block, not the sum of each root', () => {
    // Two requests at once, 0-100 ms each, four 25 ms queries one after the
    // other in each: side by side everything takes 25 ms, so 75 ms, not 150.
    const spans = [];
    for (const r of ['r1', 'r2']) {
      spans.push(httpServer({ id: r, start: 0, end: 100, route: '/a', status: 200 }));
      for (let i = 0; i < 4; i++) {
        spans.push(sql({ id: `${r}q${i}`, parent: r, start: i * 25, end: i * 25 + 25, query: `SELECT * FROM t${i}` }));
      }
    }
    const overlapping = analyzeTrace(trace(...spans));
    expect(overlapping.serialRuns.map((run) => run.savingMs)).toEqual([75, 75]);
    expect(overlapping.overlapSavingMs).toBe(75);
    // One after the other (the second at 100-200 ms), they add up: 150 ms of 200.
    const shifted = spans.map((span) =>
      span.spanId.startsWith('r2')
        ? { ...span, startTimeNs: span.startTimeNs + 100_000_000n, endTimeNs: (span.endTimeNs ?? 0n) + 100_000_000n }
        : span,
    );
    expect(analyzeTrace(trace(...shifted)).overlapSavingMs).toBe(150);
  });

  it('says in the Markdown line when serial calls could not shorten the request', () => {
    // A consumer runs its two queries while the request waits for the publish:
    // overlapping them would not make the request end any sooner.
    const t = trace(
      root(100),
      publish({ id: 'p', parent: 'root', start: 0, end: 60, queue: 'jobs' }),
      consume({ id: 'c', parent: 'p', start: 10, end: 60, queue: 'jobs' }),
      sql({ id: 'c1', parent: 'c', start: 10, end: 35, query: 'SELECT * FROM a' }),
      sql({ id: 'c2', parent: 'c', start: 35, end: 60, query: 'SELECT * FROM b' }),
      q('b', 60, 100),
    );
    const analysis = analyzeTrace(t);
    expect(analysis.serialRuns.map((run) => run.savingMs)).toEqual([25]);
    expect(analysis.overlapSavingMs).toBe(0);
    const line = markdownExport({
      traceId: TRACE_ID,
      summary: summarizeTrace(t),
      analysis,
      mermaid: 'sequenceDiagram',
      folded: false,
      timings: true,
    }).split('\n')[0];
    expect(line).toContain('2 calls in series (overlapping them would not shorten the request)');
  });

  it('reports N+1 groups with count, total and median', () => {
    const t = trace(
      root(100),
      q('x1', 10, 12, 'authors'),
      q('x2', 12, 16, 'authors'),
      q('x3', 16, 22, 'authors'),
      q('y', 30, 40, 'tags'),
    );
    expect(analyzeTrace(t).nPlusOne).toEqual([
      {
        parentSpanId: 'root',
        label: 'SELECT authors',
        target: 'postgresql blog',
        count: 3,
        totalMs: 12,
        p50Ms: 4,
        spanIds: ['x1', 'x2', 'x3'],
      },
    ]);
  });

  it('lists errors with their messages', () => {
    const t = trace(
      root(100, 500),
      sql({ id: 'bad', parent: 'root', start: 1, end: 2, query: 'SELECT 1', error: 'deadlock detected' }),
    );
    expect(analyzeTrace(t).errors).toEqual([
      { spanId: 'root', name: 'GET /articles/:id', message: 'HTTP 500' },
      { spanId: 'bad', name: 'SELECT', message: 'deadlock detected' },
    ]);
  });

  it('leaves consumers out of serial runs and the critical path', () => {
    const t = trace(
      root(100),
      publish({ id: 'p', parent: 'root', start: 10, end: 12, queue: 'q' }),
      consume({ id: 'c', parent: 'p', service: 'worker', start: 20, end: 30, queue: 'q' }),
      q('a', 40, 50),
    );
    const analysis = analyzeTrace(t);
    expect(analysis.criticalPath.some((s) => s.spanId === 'c')).toBe(false);
    expect(analysis.serialRuns).toEqual([]);
  });

  it('returns zeros for an empty trace', () => {
    const analysis = analyzeTrace({ traceId: TRACE_ID, spans: [] });
    expect(analysis).toMatchObject({
      wallTimeMs: 0,
      criticalPath: [],
      serialRuns: [],
      nPlusOne: [],
      errors: [],
      notes: ['trace has no spans'],
    });
  });
});

describe('unionLength', () => {
  it('merges overlapping and touching intervals', () => {
    expect(
      unionLength([
        [5, 10],
        [0, 3],
        [2, 4],
        [10, 12],
      ]),
    ).toBe(11);
    expect(unionLength([])).toBe(0);
  });
});

describe('summarizeTrace', () => {
  it('summarises a trace for the list view', () => {
    const t = trace(
      root(120),
      q('a', 10, 20),
      q('b', 20, 30),
      q('x1', 40, 42, 'authors'),
      q('x2', 42, 44, 'authors'),
      q('x3', 44, 46, 'authors'),
      q('c', 50, 60),
      q('d', 55, 65),
      redis({ id: 'r', parent: 'root', start: 70, end: 71, statement: 'GET k' }),
    );
    expect(summarizeTrace(t)).toEqual({
      traceId: TRACE_ID,
      rootService: 'api',
      rootName: 'GET /articles/:id',
      rootKind: 'server',
      method: 'GET',
      route: '/articles/:id',
      statusCode: 200,
      startTimeNs: t.spans[0]?.startTimeNs,
      durationNs: 120e6,
      spanCount: 9,
      counts: { db: 7, http: 1, cache: 1, queue: 0, internal: 0 },
      error: false,
      serialCalls: 5,
      parGroups: 1,
      nPlusOne: 1,
      // One serial run (a, b and the three authors): 26 ms in all, the longest 10 ms.
      overlapSavingMs: 16,
    });
  });

  it('summarises an empty trace without throwing', () => {
    expect(summarizeTrace({ traceId: TRACE_ID, spans: [] })).toMatchObject({
      rootService: '',
      rootName: '',
      spanCount: 0,
      durationNs: 0,
    });
  });
});

describe('formatDuration', () => {
  it('prints durations at a readable precision', () => {
    expect(
      [0, 0.004, 0.42, 3.25, 12.4, 999.6, 1530, 12_340, 125_000, 3_600_000, 3_720_000, -5, Number.NaN].map(
        formatDuration,
      ),
    ).toEqual([
      '0 ms',
      '0 ms',
      '0.42 ms',
      '3.3 ms',
      '12 ms',
      '1 s',
      '1.53 s',
      '12.3 s',
      '2 min 5 s',
      '1 h',
      '1 h 2 min',
      '-5 ms',
      'n/a',
    ]);
  });
});
