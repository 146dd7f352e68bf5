import {
  consume,
  httpClient,
  httpServer,
  internal,
  publish,
  span,
  sql,
  TRACE_ID,
  trace,
} from '@lifeline/test-support/spans';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { layoutTrace } from './layout.js';
import { messageAttemptKey, requestFailed, retriedAttempts } from './outcome.js';
import { toSequence } from './sequence.js';
import { isRequestRoot, summarizeLayout, summarizeTrace } from './summary.js';
import type { Attributes, Span, SpanKind, Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/** The summary as the full span tree and layout give it. */
const reference = (t: Trace) => summarizeLayout(layoutTrace(buildSpanTree(t)));

const kinds: SpanKind[] = ['internal', 'server', 'client', 'producer', 'consumer'];
const flavours = ['http', 'db', 'redis', 'queue', 'rpc', 'plain'] as const;

/**
 * Spans whose times are laid out one after another with random gaps (negative
 * gaps overlap), from a few labels and services, so random traces are full of
 * serial runs, par groups, repeats, merged calls, skewed clocks and queues.
 */
const spanArb = fc.record({
  parent: fc.nat(40),
  orphan: fc.integer({ min: 0, max: 19 }),
  kind: fc.constantFrom(...kinds),
  flavour: fc.constantFrom(...flavours),
  table: fc.constantFrom('a', 'b', 'a'),
  gap: fc.integer({ min: -40, max: 30 }),
  duration: fc.integer({ min: 0, max: 60 }),
  noEnd: fc.integer({ min: 0, max: 9 }),
  error: fc.integer({ min: 0, max: 5 }),
  service: fc.constantFrom('api', 'api', 'users', 'worker'),
  link: fc.option(fc.nat(40)),
  // Two statements per table (one with a literal that varies per span), so labels repeat where statements do not.
  statement: fc.boolean(),
});

type Spec = typeof spanArb extends fc.Arbitrary<infer T> ? T : never;

function build(specs: readonly Spec[], backwards: boolean): Span[] {
  let cursor = 0;
  return specs.map((s, i) => {
    cursor += s.gap;
    const target = s.flavour === 'rpc' ? 'users' : s.table;
    const attributes: Attributes =
      s.flavour === 'http'
        ? {
            'http.request.method': 'GET',
            'http.route': `/${s.table}/:id`,
            // The raw path does not normalise to the route: a merged call is labelled by the route only.
            'url.full': `http://${s.service}/${s.table}/item${i}`,
            'server.address': s.service,
            // error 2: a request that got no response records no status code.
            ...(s.error === 2 ? {} : { 'http.response.status_code': s.error === 0 ? 500 : 200 }),
          }
        : s.flavour === 'db'
          ? {
              'db.system.name': 'postgresql',
              'db.namespace': 'shop',
              'db.query.text': s.statement
                ? `SELECT * FROM ${s.table} WHERE id = ${i}`
                : `SELECT count(*) FROM ${s.table}`,
            }
          : s.flavour === 'redis'
            ? { 'db.system': 'redis', 'db.statement': `GET ${s.table}:${i}` }
            : s.flavour === 'queue'
              ? { 'messaging.system': 'rabbitmq', 'messaging.destination.name': s.table }
              : s.flavour === 'rpc'
                ? { 'rpc.system': 'grpc', 'rpc.service': target, 'rpc.method': 'Get' }
                : {};
    const parentIndex = backwards ? (i === 0 ? undefined : s.parent % i) : s.parent % specs.length;
    return span({
      id: `s${i}`,
      parent: i === 0 ? undefined : s.orphan === 0 ? `missing${i}` : `s${parentIndex}`,
      kind: s.kind,
      service: s.service,
      start: cursor,
      end: s.noEnd === 0 ? null : cursor + s.duration,
      attributes,
      status: s.error === 1 ? { code: 'error', message: 'boom' } : { code: 'unset' },
      // error 3: a handled exception, which fails nothing.
      events:
        s.error === 3
          ? [{ name: 'exception', timeNs: 0n, attributes: { 'exception.type': 'E', 'exception.escaped': false } }]
          : [],
      links: s.link !== null ? [{ traceId: TRACE_ID, spanId: `s${s.link % specs.length}`, attributes: {} }] : [],
    });
  });
}

/** The facts the summary shares with the diagram and the analysis, read from those. */
function derived(t: Trace) {
  const analysis = analyzeTrace(t);
  const retried = retriedAttempts(t.spans);
  return {
    // With loops unfolded every call is drawn, so every par group appears in the diagram.
    parGroups: toSequence(t, { timings: false, foldLoops: false }).parGroups,
    serialCalls: analysis.serialRuns.reduce((n, run) => n + run.spanIds.length, 0),
    nPlusOne: analysis.nPlusOne.length,
    overlapSavingMs: analysis.overlapSavingMs,
    // The list's error flag and the analysis' error list follow one rule, but
    // for a failure inside a message attempt that was retried: the analysis
    // lists it, the flag follows the last attempt.
    error: analysis.errors.some((e) => !retried.has(e.spanId)),
  };
}

describe('summarizeTrace', () => {
  it('gives the same row from the lean layout as from the drawn one on random traces, and the counts the diagram and analysis show', () => {
    fc.assert(
      fc.property(fc.array(spanArb, { maxLength: 40 }), fc.boolean(), (specs, backwards) => {
        const t = trace(...build(specs, backwards));
        expect(summarizeTrace(t)).toEqual(reference(t));
        const { parGroups, serialCalls, nPlusOne, overlapSavingMs, error } = summarizeTrace(t);
        expect({ parGroups, serialCalls, nPlusOne, overlapSavingMs, error }).toEqual(derived(t));
        // Reckoned from the innermost calls out, the request's saving is at
        // most what its runs' savings add up to, and at most what it took.
        const analysis = analyzeTrace(t);
        const summed = analysis.serialRuns.reduce((sum, run) => sum + run.savingMs, 0);
        expect(overlapSavingMs ?? 0).toBeLessThanOrEqual(summed + 0.001);
        if (analysis.serialRuns.length > 0)
          expect(overlapSavingMs ?? 0).toBeLessThanOrEqual(analysis.wallTimeMs + 0.001);
      }),
      { numRuns: Number(process.env.LIFELINE_PROPERTY_RUNS ?? 400) },
    );
  });

  it('flags a failure inside a retried message attempt in the analysis, not in the row (the outcome follows the last attempt)', () => {
    // A counterexample of the property above: the earlier of two deliveries of one message failed inside.
    const specs = [
      { parent: 0, orphan: 0, kind: 'internal', flavour: 'http', error: 2 },
      { parent: 0, orphan: 1, kind: 'consumer', flavour: 'queue', error: 0 },
      { parent: 0, orphan: 1, kind: 'consumer', flavour: 'queue', error: 0, gap: -1 },
      { parent: 11, orphan: 1, kind: 'internal', flavour: 'http', error: 0 },
    ].map((s) => ({ table: 'a', gap: 0, duration: 0, noEnd: 0, service: 'api', link: null, statement: false, ...s }));
    const t = trace(...build(specs as Spec[], true));
    expect(analyzeTrace(t).errors.map((e) => e.spanId)).toEqual(['s3']);
    expect(summarizeTrace(t).error).toBe(false);
    expect(derived(t).error).toBe(false);
  });

  it('leaves out of the saving a consumer drawn after the request, which the request did not wait for', () => {
    // A counterexample of the first property: a 0 ms root, and an orphan
    // consumer hung below it whose two serial calls ran after it ended.
    const specs = [
      { parent: 0, orphan: 0, kind: 'internal', flavour: 'http', noEnd: 1 },
      { parent: 0, orphan: 0, kind: 'consumer', flavour: 'http' },
      { parent: 1, orphan: 1, kind: 'internal', flavour: 'redis', duration: 1, noEnd: 1 },
      { parent: 1, orphan: 1, kind: 'internal', flavour: 'redis', duration: 1, noEnd: 1, gap: 1 },
    ].map((s) => ({
      table: 'a',
      gap: 0,
      duration: 0,
      noEnd: 0,
      error: 0,
      service: 'api',
      link: null,
      statement: false,
      ...s,
    }));
    const t = trace(...build(specs as Spec[], true));
    const analysis = analyzeTrace(t);
    // The consumer's own run is still found and could save the consumer 1 ms ...
    expect(analysis.serialRuns.map((run) => [run.spanIds, run.savingMs])).toEqual([[['s2', 's3'], 1]]);
    // ... but the request took 0 ms and had nothing to save.
    expect(analysis.wallTimeMs).toBe(0);
    expect(analysis.overlapSavingMs).toBe(0);
    expect(summarizeTrace(t).overlapSavingMs ?? 0).toBe(0);
  });

  it('lays out the same calls in lean mode as for drawing, leaving out only the outcomes drawing reads', () => {
    fc.assert(
      fc.property(fc.array(spanArb, { maxLength: 40 }), fc.boolean(), (specs, backwards) => {
        const tree = buildSpanTree(trace(...build(specs, backwards)));
        const shape = (layout: ReturnType<typeof layoutTrace>) =>
          layout.calls.map((call) => ({
            spanId: call.node.span.spanId,
            role: call.role,
            from: call.from.key,
            to: call.to.key,
            label: call.label,
            depth: call.depth,
            parent: call.parent?.node.span.spanId,
            children: call.children.length,
          }));
        const drawn = layoutTrace(tree);
        const lean = layoutTrace(tree, { lean: true });
        expect(shape(lean)).toEqual(shape(drawn));
        expect(lean.classes).toEqual(drawn.classes);
        expect(lean.calls.every((call) => call.outcome === undefined)).toBe(true);
        expect(drawn.calls.every((call) => call.outcome !== undefined)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('summarises duplicate, malformed and cyclic spans from the repaired span tree', () => {
    const base = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      sql({ id: 'q1', parent: 'root', start: 10, end: 20, query: 'SELECT * FROM a' }),
      sql({ id: 'q2', parent: 'root', start: 20, end: 30, query: 'SELECT * FROM a' }),
    );
    const duplicate = trace(...base.spans, base.spans[1] as Span);
    const malformed = trace(...base.spans, { ...(base.spans[2] as Span), spanId: 'q3', events: undefined } as never);
    const cyclic = trace(
      ...base.spans,
      sql({ id: 'c1', parent: 'c2', start: 40, end: 50, query: 'SELECT 1' }),
      sql({ id: 'c2', parent: 'c1', start: 41, end: 49, query: 'SELECT 1' }),
    );
    for (const t of [base, duplicate, malformed, cyclic]) {
      expect(summarizeTrace(t)).toEqual(reference(t));
    }
    expect(summarizeTrace(duplicate).spanCount).toBe(3);
    expect(summarizeTrace(cyclic).spanCount).toBe(5);
  });

  it('counts a merged call to a traced service once and its route as the label', () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/orders', status: 200 }),
      ...[0, 1, 2].flatMap((i) => [
        httpClient({
          id: `c${i}`,
          parent: 'root',
          start: 10 + i * 20,
          end: 25 + i * 20,
          url: `http://users/u/user-${i}`,
        }),
        httpServer({
          id: `s${i}`,
          parent: `c${i}`,
          service: 'users',
          start: 11 + i * 20,
          end: 24 + i * 20,
          route: '/u/:id',
          status: 200,
        }),
      ]),
    );
    expect(summarizeTrace(t)).toMatchObject({ spanCount: 7, serialCalls: 3, parGroups: 0, nPlusOne: 1 });
    expect(summarizeTrace(t)).toEqual(reference(t));
  });

  it('names the kind of the root span, which tells a request from background work', () => {
    const request = trace(
      httpServer({ id: 'root', start: 0, end: 50, route: '/x', status: 200 }),
      sql({ id: 'q', parent: 'root', start: 10, end: 20, query: 'SELECT 1' }),
    );
    const job = trace(consume({ id: 'job', service: 'worker', start: 0, end: 10, queue: 'mail' }));
    const startUp = trace(sql({ id: 'ddl', start: 0, end: 5, query: 'CREATE TABLE t (id int)' }));
    const housekeeping = trace(
      internal({ id: 'tick', start: 0, end: 9, name: 'moveStalledJobsToWait mail' }),
      sql({ id: 'x', parent: 'tick', start: 1, end: 2, query: 'SELECT 2' }),
    );
    // A span whose parent never arrived is drawn under the primary root, which keeps its kind.
    const orphaned = trace(
      sql({ id: 'late', parent: 'gone', start: 0, end: 2, query: 'SELECT 3' }),
      httpServer({ id: 'root', start: 1, end: 9, route: '/y', status: 200 }),
    );
    const summaries = [request, job, startUp, housekeeping, orphaned].map((t) => {
      expect(summarizeTrace(t)).toEqual(reference(t));
      return summarizeTrace(t);
    });
    expect(summaries.map((s) => [s.rootKind, isRequestRoot(s)])).toEqual([
      ['server', true],
      ['consumer', true],
      ['client', false],
      ['internal', false],
      ['server', true],
    ]);
    const empty = summarizeTrace({ traceId: TRACE_ID, spans: [] });
    expect(empty.rootKind).toBeUndefined();
    expect(isRequestRoot(empty)).toBe(false);
  });

  it('draws a consumer linked to a producer of the trace where the message went', () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      publish({ id: 'p', parent: 'root', start: 5, end: 6, queue: 'jobs' }),
      sql({ id: 'a', parent: 'root', start: 10, end: 20, query: 'SELECT * FROM a' }),
      consume({
        id: 'w',
        service: 'worker',
        start: 30,
        end: 40,
        queue: 'jobs',
        links: [{ traceId: TRACE_ID, spanId: 'p', attributes: {} }],
      }),
      sql({ id: 'b', parent: 'root', start: 50, end: 60, query: 'SELECT * FROM b' }),
    );
    // Inside the request the consumer splits the run: publish and query a, then query b alone.
    expect(summarizeTrace(t)).toMatchObject({ serialCalls: 2, parGroups: 0 });
    expect(summarizeTrace(t)).toEqual(reference(t));
  });

  it('finds repeated calls inside one lane of a par group', () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      sql({ id: 'slow', parent: 'root', start: 10, end: 45, query: 'SELECT * FROM report' }),
      ...[0, 1, 2].map((i) =>
        sql({ id: `n${i}`, parent: 'root', start: 11 + i * 10, end: 20 + i * 10, query: 'SELECT * FROM item' }),
      ),
    );
    expect(summarizeTrace(t)).toMatchObject({ serialCalls: 0, parGroups: 1, nPlusOne: 1 });
    expect(summarizeTrace(t)).toEqual(reference(t));
  });

  it('leaves a consumer out of the serial run around it', () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      publish({ id: 'p', parent: 'root', start: 5, end: 6, queue: 'jobs' }),
      sql({ id: 'a', parent: 'root', start: 10, end: 20, query: 'SELECT * FROM a' }),
      consume({ id: 'w', parent: 'p', service: 'worker', start: 30, end: 40, queue: 'jobs' }),
      sql({ id: 'b', parent: 'root', start: 50, end: 60, query: 'SELECT * FROM b' }),
    );
    expect(summarizeTrace(t)).toMatchObject({ serialCalls: 2, counts: { queue: 2, db: 2 } });
    expect(summarizeTrace(t)).toEqual(reference(t));
  });
});

describe('the outcome of a request whose message was retried', () => {
  /** A request that queued a job; the job's attempts, each with a query, `failed` telling which failed. */
  function attempts(...failed: boolean[]): Trace {
    const spans: Span[] = [
      httpServer({ id: 'root', start: 0, end: 10, method: 'POST', route: '/jobs', status: 202 }),
      publish({ id: 'pub', parent: 'root', start: 1, end: 2, queue: 'invoices' }),
    ];
    failed.forEach((fails, i) => {
      const start = 20 + 30 * i;
      const attempt = consume({ id: `try${i}`, parent: 'pub', start, end: start + 20, queue: 'invoices' });
      spans.push(
        fails ? { ...attempt, status: { code: 'error', message: 'not ready yet' } } : attempt,
        sql({
          id: `q${i}`,
          parent: `try${i}`,
          start: start + 1,
          end: start + 5,
          query: 'SELECT 1',
          error: fails ? 'deadlock' : undefined,
        }),
      );
    });
    return trace(...spans);
  }

  it('follows the last attempt: a failure a retry got through does not fail the request', () => {
    const t = attempts(true, false);
    expect(summarizeTrace(t).error).toBe(false);
    expect(reference(t).error).toBe(false);
    expect(summarizeLayout(layoutTrace(buildSpanTree(t)))).toEqual(reference(t));
  });

  it('fails the request when the last attempt failed too, or when there was no retry', () => {
    for (const t of [attempts(true, true), attempts(false, true), attempts(true)]) {
      expect(summarizeTrace(t).error).toBe(true);
      expect(summarizeLayout(layoutTrace(buildSpanTree(t)))).toEqual(reference(t));
    }
  });

  it('gives the same outcome from the spans alone as the summary does', () => {
    for (const failed of [[true, false], [true, true], [false, true], [true], [false]]) {
      const t = attempts(...failed);
      expect(requestFailed(t.spans)).toBe(summarizeTrace(t).error);
    }
  });

  it('keys two attempts at one message alike, and attempts at other messages apart', () => {
    const t = attempts(true, false);
    const [first, second] = t.spans.filter((s) => s.kind === 'consumer');
    expect(first && messageAttemptKey(first)).toBeDefined();
    expect(first && messageAttemptKey(first)).toBe(second && messageAttemptKey(second));
    const other = consume({ id: 'other', parent: 'pub', start: 90, end: 95, queue: 'receipts' });
    expect(messageAttemptKey(other)).not.toBe(first && messageAttemptKey(first));
    expect(messageAttemptKey({ ...other, parentSpanId: undefined })).toBeUndefined();
  });

  it('still draws the failed attempt as a failed call', () => {
    const text = toSequence(attempts(true, false), { timings: false });
    expect(text.arrows.filter((arrow) => arrow.kind === 'error').map((arrow) => arrow.spanId)).toEqual(['q0', 'try0']);
  });
});
