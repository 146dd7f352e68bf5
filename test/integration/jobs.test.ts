import type { Span, Trace } from '@lifeline/core';
import { openStore } from '@lifeline/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncArrows, validDiagram } from './support/diagram.ts';
import {
  byStart,
  dbSpans,
  type RunningApp,
  runId,
  startApp,
  tempDb,
  traceIdOf,
  waitForTrace,
} from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missing = await missingServices('redis', 'postgres');

/** The `process <queue>` consumer spans of BullMQ's telemetry, in start order. */
function processSpans(spans: readonly Span[]): Span[] {
  return byStart(spans.filter((s) => s.kind === 'consumer' && s.name.startsWith('process ')));
}

/** Whether the trace holds a Postgres query whose parent is one of its consumer spans. */
function queryUnderProcess(spans: readonly Span[]): boolean {
  const consumers = new Set(processSpans(spans).map((s) => s.spanId));
  return dbSpans(spans, 'postgresql').some((s) => s.parentSpanId !== undefined && consumers.has(s.parentSpanId));
}

describe.skipIf(missing.length > 0)('BullMQ jobs processed in a sandbox, retried, and its housekeeping', () => {
  const db = tempDb();
  const id = runId();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({
      app: 'jobs.ts',
      db: db.path,
      serviceName: 'jobs',
      env: { RUN_ID: id, STALLED_INTERVAL_MS: '1000' },
    });
  }, 30_000);
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  /** Enqueues a job over HTTP and waits until its trace satisfies `ready`. */
  async function enqueue(mode: string, jobId: number, ready: (spans: readonly Span[]) => boolean): Promise<Trace> {
    const response = await fetch(`${app.url}/jobs/${jobId}?mode=${mode}`, { method: 'POST' });
    expect(response.status, app.output()).toBe(202);
    return waitForTrace(db.path, traceIdOf(response), ready, 20_000);
  }

  /** The timing-free diagram, parsed by Mermaid, with this run's queue names made stable. */
  async function diagram(trace: Trace): Promise<string> {
    return (await validDiagram(trace)).replaceAll(id, 'RUN');
  }

  it.each([
    ['fork', 'a forked child process'],
    ['thread', 'a worker thread'],
  ])("nests a sandboxed processor's query under the job's process span (%s: %s)", async (mode) => {
    const trace = await enqueue(mode, 7, queryUnderProcess);
    const [consumer] = processSpans(trace.spans);
    const query = dbSpans(trace.spans, 'postgresql').find((s) => s.parentSpanId === consumer?.spanId);
    expect(query?.traceId).toBe(consumer?.traceId);
    // The processor ran in another process or thread, yet continues the request's trace.
    expect(trace.spans.filter((s) => s.parentSpanId === undefined)).toHaveLength(1);
    expect(await diagram(trace)).toBe(
      [
        'sequenceDiagram',
        'autonumber',
        'actor p1 as Client',
        'participant p2 as jobs',
        `participant p3 as lifeline-jobs-${mode}-RUN (queue)`,
        'participant p4 as redis (cache)',
        'participant p5 as postgresql test (db)',
        'p1->>p2: POST /jobs/:id',
        `p2-)p3: publish lifeline-jobs-${mode}-RUN`,
        'p2->>p4: EVALSHA *',
        'p4-->>p2: ok',
        'p2-->>p1: 202',
        `p3-)p2: process lifeline-jobs-${mode}-RUN`,
        'p2->>p5: SELECT',
        'p5-->>p2: ok',
        'p2->>p4: EVALSHA *',
        'p4-->>p2: ok',
        '',
      ].join('\n'),
    );
  });

  it('records a failed attempt as a failure, then the retry that succeeded', async () => {
    const trace = await enqueue('retry', 8, (spans) => processSpans(spans).length >= 2);
    const [failed, retried] = processSpans(trace.spans);
    expect(failed?.status).toEqual({ code: 'error', message: 'invoice 8 not ready yet' });
    expect(failed?.attributes['error.type']).toBe('Error');
    // BullMQ's own marker of a failed attempt stays in the recording.
    expect(failed?.events.map((e) => [e.name, e.attributes['bullmq.job.failed.reason']])).toEqual([
      ['job failed', 'invoice 8 not ready yet'],
    ]);
    expect(retried?.status.code).toBe('unset');
    expect(retried?.events.map((e) => e.name)).toEqual(['job completed']);
    expect(retried?.startTimeNs).toBeGreaterThanOrEqual(failed?.endTimeNs ?? Number.POSITIVE_INFINITY);
    // Each attempt ran its query inside its own process span.
    for (const attempt of [failed, retried]) {
      expect(dbSpans(trace.spans, 'postgresql').filter((s) => s.parentSpanId === attempt?.spanId)).toHaveLength(1);
    }
    const text = await diagram(trace);
    expect(asyncArrows(text).filter((line) => line.includes('process lifeline-jobs-retry-RUN'))).toHaveLength(2);
    // The failed attempt is drawn as a failed call...
    expect(text).toContain('p2--xp3: invoice 8 not ready yet');
    // ...but the request's outcome follows the retry, which got through.
    const store = openStore({ path: db.path, readonly: true, migrate: false });
    try {
      const row = store.listTraces({}, { limit: 1000 }).items.find((s) => s.traceId === trace.traceId);
      expect(row?.error).toBe(false);
    } finally {
      store.close();
    }
  });

  it('draws two jobs that a worker of concurrency 2 ran side by side as overlapping', async () => {
    const trace = await enqueue('pair', 10, (spans) => dbSpans(spans, 'postgresql').length >= 2);
    const [first, second] = processSpans(trace.spans);
    // They did overlap: the second started before the first ended.
    expect(second?.startTimeNs ?? 0n).toBeLessThan(first?.endTimeNs ?? 0n);
    const text = await diagram(trace);
    const lines = text.split('\n');
    const answer = lines.indexOf('p2-->>p1: 202');
    // After the answer: one par, a branch per job, each with its own query.
    expect(lines.slice(answer + 1), text).toEqual([
      'par 2 concurrent calls',
      '  p3-)p2: process lifeline-jobs-pair-RUN',
      '  p2->>p5: SELECT',
      '  p5-->>p2: ok',
      '  p2->>p4: EVALSHA *',
      '  p4-->>p2: ok',
      'and',
      '  p3-)p2: process lifeline-jobs-pair-RUN',
      '  p2->>p5: SELECT',
      '  p5-->>p2: ok',
      '  p2->>p4: EVALSHA *',
      '  p4-->>p2: ok',
      'end',
      '',
    ]);
  });

  it("lists the requests by default and BullMQ's housekeeping only as background work", async () => {
    const response = await fetch(`${app.url}/jobs/9?mode=fork`, { method: 'POST' });
    const requestId = traceIdOf(response);
    await waitForTrace(db.path, requestId, queryUnderProcess, 20_000);
    const housekeeping = /^(moveStalledJobsToWait|startStalledCheckTimer) lifeline-jobs-/;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const store = openStore({ path: db.path, readonly: true, migrate: false });
      try {
        const names = (work: 'requests' | 'background') =>
          store.listTraces({ work }, { limit: 1000 }).items.map((s) => s.rootName);
        const background = names('background');
        if (background.some((name) => name.startsWith('moveStalledJobsToWait')) || Date.now() > deadline) {
          const requests = store.listTraces({ work: 'requests' }, { limit: 1000 }).items;
          expect(requests.map((s) => s.traceId)).toContain(requestId);
          expect(new Set(requests.map((s) => s.rootKind))).toEqual(new Set(['server']));
          expect(requests.filter((s) => housekeeping.test(s.rootName))).toEqual([]);
          expect(background.filter((name) => housekeeping.test(name)).length).toBeGreaterThanOrEqual(2);
          expect(background).toContain(`startStalledCheckTimer lifeline-jobs-fork-${id}`);
          expect(background.some((name) => name.startsWith('moveStalledJobsToWait lifeline-jobs-'))).toBe(true);
          return;
        }
      } finally {
        store.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
});
