/**
 * Flow assertions for an app's own tests: record in memory what the app does
 * while a callback runs (no SQLite, no export), and check it: no N+1, two
 * calls that overlap, the number of calls of each kind, a snapshot of the
 * timing-free diagram.
 *
 * The recording rides on a tracer provider: the one `startLifeline` (or the
 * `register` preload) set up when it runs, else one of its own with
 * Lifeline's instrumentations and an in-memory processor, started by
 * {@link startFlowRecorder}. Either way it must start before the app loads
 * the libraries it uses (express, pg, ioredis...), as any OpenTelemetry
 * instrumentation must.
 */
import { AssertionError } from 'node:assert';
import {
  analyzeTrace,
  type Flow,
  type FlowCall,
  type FlowCallKind,
  type Span,
  type Trace,
  type TraceAnalysis,
  traceFlow,
  traceToMermaid,
  walkFlow,
} from '@lifeline/core';
import type { ReadableSpan, Span as SdkSpan } from '@opentelemetry/sdk-trace';
import { type FlowListener, flowListeners } from './flow-tap.js';
import type { InstrumentationName } from './instrumentations.js';

/** Options of {@link startFlowRecorder}. */
export interface FlowRecorderOptions {
  /** `service.name` of the spans; default `OTEL_SERVICE_NAME`, else `app`. */
  readonly serviceName?: string;
  /** Built-in instrumentations to turn off, as for `startLifeline`. */
  readonly instrumentations?: Partial<Record<InstrumentationName, boolean>>;
}

/** A flow recorder running in this process. */
export interface FlowRecorder {
  /** `own`: started here, in memory only; `lifeline`: rides on the recorder `startLifeline` started. */
  readonly provider: 'own' | 'lifeline';
  /** Stops recording (its own provider only; Lifeline's keeps running). */
  shutdown(): Promise<void>;
}

const recorderKey = Symbol.for('lifeline.node.flow-recorder');
const lifelineKey = Symbol.for('lifeline.node.active');
type GlobalWithRecorder = typeof globalThis & {
  [recorderKey]?: Promise<FlowRecorder>;
  [lifelineKey]?: Promise<unknown>;
};

/**
 * Starts recording spans for {@link recordFlow}. Call it, and await it,
 * before the app's libraries are imported: at the top of a Vitest setup
 * file, or of the test file followed by dynamic `import()`s of the app. When
 * Lifeline already records this process (`--import @lifeline/node/register`),
 * flows are taken from that recorder and nothing else starts. A second call
 * returns the recorder already running.
 *
 * @example
 * ```ts
 * await startFlowRecorder({ serviceName: 'blog-api' });
 * const { createApp } = await import('../src/app.js');
 * ```
 */
export function startFlowRecorder(options: FlowRecorderOptions = {}): Promise<FlowRecorder> {
  const holder = globalThis as GlobalWithRecorder;
  holder[recorderKey] ??= startRecorder(options);
  return holder[recorderKey];
}

async function startRecorder(options: FlowRecorderOptions): Promise<FlowRecorder> {
  const holder = globalThis as GlobalWithRecorder;
  if (holder[lifelineKey] !== undefined) {
    await holder[lifelineKey];
    return { provider: 'lifeline', shutdown: () => Promise.resolve() };
  }
  const { warnIfStartedLate, namedForLateStart } = await import('./late-start.js');
  // A library the app imported already stays unpatched, and its calls never
  // reach a flow: say so, as `startLifeline` does. Node's http is left out:
  // the test runner loads it before any setup file, and its exports are
  // still patched in place, so server spans are recorded all the same.
  warnIfStartedLate(namedForLateStart({ ...options.instrumentations, http: false }));
  const { builtInInstrumentedModules, installEsmHook } = await import('./esm-hook.js');
  installEsmHook(builtInInstrumentedModules);
  const [{ CallEndingSpanProcessor }, { createInstrumentations }, { PreciseStartSpanProcessor }, { registerTracing }] =
    await Promise.all([
      import('./call-endings.js'),
      import('./instrumentations.js'),
      import('./precise-start.js'),
      import('./tracing.js'),
    ]);
  // No database file: nothing of Lifeline's own is written that could be traced.
  const instrumentations = createInstrumentations({ enabled: options.instrumentations ?? {} }, { dbPath: '' });
  const { FlowTapSpanProcessor } = await import('./flow-tap.js');
  const tracing = registerTracing({
    serviceName: options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? 'app',
    spanProcessors: [new PreciseStartSpanProcessor(), new CallEndingSpanProcessor(), new FlowTapSpanProcessor()],
    instrumentations,
  });
  return {
    provider: 'own',
    shutdown: async () => {
      await tracing.shutdown();
      delete holder[recorderKey];
    },
  };
}

/** What {@link recordFlow} saw. */
export interface RecordedFlow<T = unknown> {
  /** What the callback returned. */
  readonly result: T;
  /** Every trace that started while the callback ran, in start order. */
  readonly traces: readonly Trace[];
  /** Analysis of each trace (same order). */
  readonly analyses: readonly TraceAnalysis[];
  /** Flow of each trace (same order): calls in drawn order, with loops and overlap. */
  readonly flows: readonly Flow[];
  /** Calls per kind over all traces, every call of a loop counted. */
  readonly counts: Readonly<Record<FlowCallKind, number>>;
  /**
   * Timing-free Mermaid of every trace, one diagram after another: stable
   * from run to run, for `toMatchInlineSnapshot`.
   */
  readonly mermaid: string;
}

/** Options of {@link recordFlow}. */
export interface RecordFlowOptions {
  /** Longest wait in milliseconds, after the callback, for the spans it started to end. Default 2000. */
  readonly settleTimeoutMs?: number;
}

/**
 * Runs `work` and records, in memory, what the app does meanwhile. The
 * callback stands for the client: its own calls (a `fetch` to the app, a
 * supertest request) are not recorded, only what the app does to serve them,
 * so a request's trace starts at the app's server span as it would in
 * production. Waits for every span of the traces started meanwhile to end.
 *
 * @throws {Error} when no recorder runs ({@link startFlowRecorder}), or when
 * the spans do not end within `settleTimeoutMs`.
 *
 * @example
 * ```ts
 * const flow = await recordFlow(() => fetch(`${url}/articles/1`));
 * expect(flow.mermaid).toMatchInlineSnapshot();
 * ```
 */
export async function recordFlow<T>(
  work: () => T | Promise<T>,
  options: RecordFlowOptions = {},
): Promise<RecordedFlow<Awaited<T>>> {
  const holder = globalThis as GlobalWithRecorder;
  if (holder[recorderKey] === undefined && holder[lifelineKey] === undefined) {
    throw new Error(
      'recordFlow needs a recorder: await startFlowRecorder() before the app is imported (or preload @lifeline/node/register)',
    );
  }
  await (holder[recorderKey] ?? holder[lifelineKey]);
  const { readableSpanToSpan } = await import('@lifeline/store');
  const { context } = await import('@opentelemetry/api');
  const { suppressTracing } = await import('@opentelemetry/core');
  const open = new Map<string, number>();
  const ended = new Map<string, ReadableSpan[]>();
  const listener: FlowListener = {
    onStart(span: SdkSpan) {
      const traceId = span.spanContext().traceId;
      open.set(traceId, (open.get(traceId) ?? 0) + 1);
    },
    onEnd(span: ReadableSpan) {
      const traceId = span.spanContext().traceId;
      // Spans of a trace begun before the recording (a request still running) are not this flow's.
      if (!open.has(traceId)) return;
      open.set(traceId, (open.get(traceId) ?? 1) - 1);
      const list = ended.get(traceId) ?? [];
      list.push(span);
      ended.set(traceId, list);
    },
  };
  const listeners = flowListeners();
  listeners.add(listener);
  let result: Awaited<T>;
  try {
    result = await context.with(suppressTracing(context.active()), async () => await work());
    const deadline = Date.now() + (options.settleTimeoutMs ?? 2000);
    // A server span ends just after its response was sent, and so after the
    // client has it: wait for every span begun to end, then a turn more.
    for (;;) {
      const pending = [...open.values()].reduce((sum, n) => sum + Math.max(0, n), 0);
      if (pending === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        if ([...open.values()].every((n) => n <= 0)) break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `recordFlow: ${pending} span(s) had not ended ${options.settleTimeoutMs ?? 2000} ms after the callback returned`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    listeners.delete(listener);
  }
  const traces: Trace[] = [];
  for (const [traceId, spans] of ended) {
    traces.push({ traceId, spans: spans.map((s): Span => readableSpanToSpan(s)) });
  }
  traces.sort((a, b) => Number(earliest(a) - earliest(b)));
  const flows = traces.map((t) => traceFlow(t));
  const counts = { entry: 0, database: 0, cache: 0, http: 0, queue: 0, consume: 0, internal: 0 };
  for (const f of flows) for (const kind of Object.keys(counts) as FlowCallKind[]) counts[kind] += f.counts[kind];
  return {
    result,
    traces,
    analyses: traces.map((t) => analyzeTrace(t)),
    flows,
    counts,
    mermaid: traces.map((t) => traceToMermaid(t, { timings: false, branchOrder: 'drawn' }).text).join('\n'),
  };
}

function earliest(trace: Trace): bigint {
  let min: bigint | undefined;
  for (const span of trace.spans) if (min === undefined || span.startTimeNs < min) min = span.startTimeNs;
  return min ?? 0n;
}

/** The outcome of a flow check: whether it passed, and the message either way. */
export interface FlowCheck {
  readonly pass: boolean;
  /** Says what was expected and what happened, followed by the flow's diagram. */
  readonly message: string;
}

/**
 * The failure every check gives for a flow without a single request: a
 * check that passes on nothing would pass for an app that was never
 * recorded.
 */
export function emptyFlowCheck(flow: RecordedFlow): FlowCheck | undefined {
  if (flow.traces.length > 0) return undefined;
  return {
    pass: false,
    message:
      'no request was recorded while the callback ran, so there is nothing to check. Either the recorder ' +
      "started after the app's imports (await startFlowRecorder() before importing the app, with `await import()`: " +
      "an ES module's static imports run before its first line), or the callback made no request to a server " +
      'the recorder instruments.',
  };
}

function withFlow(text: string, flow: RecordedFlow): string {
  return `${text}\n\nThe recorded flow:\n\n${flow.mermaid.trimEnd()}`;
}

/**
 * Checks that no request of the flow repeats one call three or more times in
 * a row (the N+1 pattern, as the diagram folds it into a loop).
 */
export function checkNoNPlusOne(flow: RecordedFlow): FlowCheck {
  const empty = emptyFlowCheck(flow);
  if (empty !== undefined) return empty;
  const found: string[] = [];
  for (let i = 0; i < flow.traces.length; i++) {
    const request = flow.flows[i]?.calls[0]?.label ?? 'the request';
    for (const group of flow.analyses[i]?.nPlusOne ?? []) {
      found.push(`${request} runs ${group.label} ${group.count}× in a row on ${group.target}`);
    }
  }
  if (found.length === 0) return { pass: true, message: withFlow('expected an N+1 loop, but found none', flow) };
  return {
    pass: false,
    message: withFlow(
      `expected no N+1, but ${found.join('; ')}: fetch them in one call (a join, IN (…), a batch)`,
      flow,
    ),
  };
}

function findCalls(flow: RecordedFlow, label: string): { call: FlowCall; trace: Trace }[] {
  const out: { call: FlowCall; trace: Trace }[] = [];
  for (let i = 0; i < flow.flows.length; i++) {
    for (const { call } of walkFlow(flow.flows[i]?.calls ?? [])) {
      if (call.label === label || call.label.includes(label)) out.push({ call, trace: flow.traces[i] as Trace });
    }
  }
  return out;
}

function intervals(call: FlowCall, trace: Trace): [bigint, bigint][] {
  const ids = new Set(call.spanIds);
  const out: [bigint, bigint][] = [];
  for (const span of trace.spans) {
    if (ids.has(span.spanId) && span.endTimeNs !== undefined) out.push([span.startTimeNs, span.endTimeNs]);
  }
  return out;
}

/**
 * Checks that a call labelled `a` and one labelled `b` (exact label, else a
 * label containing the text) overlapped in time. Calls that only touch (one
 * ends as the other starts) ran one after another.
 */
export function checkRunConcurrently(flow: RecordedFlow, a: string, b: string): FlowCheck {
  const empty = emptyFlowCheck(flow);
  if (empty !== undefined) return empty;
  const first = findCalls(flow, a);
  const second = findCalls(flow, b);
  const missing = [first.length === 0 ? a : undefined, second.length === 0 ? b : undefined].filter(Boolean);
  if (missing.length > 0) {
    const labels = [...new Set(flow.flows.flatMap((f) => [...walkFlow(f.calls)].map(({ call }) => call.label)))];
    return {
      pass: false,
      message: withFlow(
        `expected ${a} and ${b} to run concurrently, but the flow has no call ${missing.join(' nor ')} (its calls: ${labels.join(', ')})`,
        flow,
      ),
    };
  }
  for (const x of first) {
    for (const y of second) {
      if (x.trace !== y.trace || x.call === y.call) continue;
      for (const [s1, e1] of intervals(x.call, x.trace)) {
        for (const [s2, e2] of intervals(y.call, y.trace)) {
          if (s1 < e2 && s2 < e1)
            return {
              pass: true,
              message: withFlow(`expected ${a} and ${b} not to run concurrently, but they overlapped`, flow),
            };
        }
      }
    }
  }
  return {
    pass: false,
    message: withFlow(`expected ${a} and ${b} to run concurrently, but they ran one after the other`, flow),
  };
}

/** Expected calls per kind: queries, cache commands, outgoing HTTP requests, queue publishes. */
export type ExpectedCalls = Partial<Record<'database' | 'cache' | 'http' | 'queue', number>>;

/**
 * Checks the number of calls of each kind given (every call of a loop counted).
 *
 * @throws {TypeError} when `expected` names a kind other than database, cache, http, queue.
 */
export function checkCalls(flow: RecordedFlow, expected: ExpectedCalls): FlowCheck {
  const kinds = ['database', 'cache', 'http', 'queue'];
  const unknown = Object.keys(expected).filter((kind) => !kinds.includes(kind));
  // A misspelt kind would count nothing and pass (or fail) for the wrong reason.
  if (unknown.length > 0)
    throw new TypeError(`unknown call kind ${unknown.join(', ')}: the kinds are ${kinds.join(', ')}`);
  const empty = emptyFlowCheck(flow);
  if (empty !== undefined) return empty;
  const wrong: string[] = [];
  const right: string[] = [];
  for (const [kind, count] of Object.entries(expected) as [keyof ExpectedCalls, number][]) {
    const actual = flow.counts[kind];
    (actual === count ? right : wrong).push(`${kind}: expected ${count}, made ${actual}`);
  }
  if (wrong.length === 0)
    return { pass: true, message: withFlow(`expected other calls than ${right.join(', ')}`, flow) };
  return { pass: false, message: withFlow(`calls differ: ${wrong.join('; ')}`, flow) };
}

function assert(check: FlowCheck, stackStart: (...args: never[]) => unknown): void {
  if (check.pass) return;
  throw new AssertionError({ message: check.message, stackStartFn: stackStart });
}

/**
 * Throws an `AssertionError` showing the flow unless it has no N+1 loop. For
 * `node:test` and any runner; Vitest users have `toHaveNoNPlusOne()`.
 *
 * @throws {AssertionError}
 * @example
 * ```ts
 * assertNoNPlusOne(await recordFlow(() => fetch(`${url}/articles`)));
 * ```
 */
export function assertNoNPlusOne(flow: RecordedFlow): void {
  assert(checkNoNPlusOne(flow), assertNoNPlusOne);
}

/**
 * Throws an `AssertionError` showing the flow unless calls labelled `a` and `b` overlapped.
 *
 * @throws {AssertionError}
 */
export function assertRunConcurrently(flow: RecordedFlow, a: string, b: string): void {
  assert(checkRunConcurrently(flow, a, b), assertRunConcurrently);
}

/**
 * Throws an `AssertionError` showing the flow unless it made the calls counted.
 *
 * @throws {AssertionError}
 */
export function assertCalls(flow: RecordedFlow, expected: ExpectedCalls): void {
  assert(checkCalls(flow, expected), assertCalls);
}
