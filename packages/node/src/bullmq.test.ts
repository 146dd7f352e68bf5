import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullMQFailedAttemptSpanProcessor, BullMQSandboxInstrumentation, sandboxTraceContextKey } from './bullmq.js';

// BullMQ is a dependency of the integration suite, not of this package: it is
// found where that suite installs it, and these tests skip without it.
const suiteRequire = createRequire(new URL('../../../test/integration/package.json', import.meta.url));
let childProcessorPath: string | undefined;
try {
  childProcessorPath = suiteRequire.resolve('bullmq/dist/cjs/classes/child-processor.js');
} catch {
  console.warn('[bullmq] skipping the sandboxed-processor tests: bullmq is not installed in test/integration');
}
const producer = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const traceparent = (spanId: string) => `00-${producer.traceId}-${spanId}-01`;

interface ChildProcessorLike {
  init(file: string): Promise<void>;
  start(job: unknown, token?: string): Promise<void>;
}

/**
 * The child side of a BullMQ sandboxed processor, in this process: BullMQ's
 * own `ChildProcessor` (what its forked child or worker thread runs) handed a
 * job the way the parent sends one, with the instrumentation on.
 */
describe.skipIf(childProcessorPath === undefined)('a BullMQ job in a sandboxed processor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bullmq-'));
  const processorFile = join(dir, 'active-span-processor.mjs');
  const failingFile = join(dir, 'failing-processor.mjs');
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [new BullMQFailedAttemptSpanProcessor(), new SimpleSpanProcessor({ exporter: exporter })],
  });
  const instrumentation = new BullMQSandboxInstrumentation();
  let ChildProcessor: new (send: (message: unknown) => Promise<void>, receiver: EventEmitter) => ChildProcessorLike;

  beforeAll(() => {
    // Processor files answer with what they see: the active span and the job's fields.
    const api = pathToFileURL(createRequire(import.meta.url).resolve('@opentelemetry/api')).href;
    writeFileSync(
      processorFile,
      `import api from '${api}';
export default async function (job) {
  const span = api.trace.getActiveSpan();
  return { spanContext: span ? span.spanContext() : null, jobKeys: Object.keys(job) };
}
`,
    );
    writeFileSync(failingFile, `export default async function () { throw new RangeError('printer on fire'); }\n`);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    instrumentation.setTracerProvider(provider);
    instrumentation.enable();
    // Required after enabling, as BullMQ's child entry point requires it.
    ChildProcessor = suiteRequire(childProcessorPath as string).ChildProcessor;
  });
  afterAll(async () => {
    instrumentation.disable();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs one job through a fresh ChildProcessor and resolves with the message it answers the parent with. */
  async function run(file: string, job: Record<string, unknown>): Promise<{ cmd: number; value: unknown }> {
    const answers: { cmd: number; value: unknown }[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const send = async (message: unknown) => {
      const answer = message as { cmd: number; value: unknown };
      answers.push(answer);
      // ParentCommand.Completed (0) or Failed (2).
      if (answer.cmd === 0 || answer.cmd === 2) done();
    };
    const processor = new ChildProcessor(send, new EventEmitter());
    await processor.init(file);
    // A start message arrives outside any context, as over IPC.
    await context.with(ROOT_CONTEXT, () => processor.start(job, 'token'));
    await finished;
    return answers.at(-1) as { cmd: number; value: unknown };
  }

  const jobJson = (extra: Record<string, unknown>) => ({
    id: '17',
    name: 'invoice',
    data: JSON.stringify({ id: 17 }),
    opts: { attempts: 1, telemetry: { metadata: JSON.stringify({ traceparent: traceparent(producer.spanId) }) } },
    attemptsMade: 0,
    queueName: 'invoices',
    ...extra,
  });

  it("runs the processor inside the parent's process span the job carries, and hides the carrier", async () => {
    exporter.reset();
    const parentProcessSpan = 'a1a2a3a4a5a6a7a8';
    const answer = await run(
      processorFile,
      jobJson({ [sandboxTraceContextKey]: { traceparent: traceparent(parentProcessSpan) } }),
    );
    const value = answer.value as { spanContext: { traceId: string; spanId: string }; jobKeys: string[] };
    expect(value.spanContext).toMatchObject({ traceId: producer.traceId, spanId: parentProcessSpan });
    expect(value.jobKeys).not.toContain(sandboxTraceContextKey);
    // The parent draws the process span: the child adds none.
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it("opens a consumer span continuing the producer's trace when the parent sent no context", async () => {
    exporter.reset();
    const answer = await run(processorFile, jobJson({}));
    const [consumer] = exporter.getFinishedSpans();
    expect(consumer).toMatchObject({ name: 'process invoices', kind: SpanKind.CONSUMER });
    expect(consumer?.spanContext().traceId).toBe(producer.traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer.spanId);
    expect(consumer?.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': 'invoices',
    });
    expect((answer.value as { spanContext: { spanId: string } }).spanContext.spanId).toBe(
      consumer?.spanContext().spanId,
    );
  });

  it('ends that consumer span as a failure when the processor throws', async () => {
    exporter.reset();
    const answer = await run(failingFile, jobJson({}));
    expect(answer.cmd).toBe(2);
    const [consumer] = exporter.getFinishedSpans();
    expect(consumer?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'printer on fire' });
    expect(consumer?.attributes['error.type']).toBe('RangeError');
    expect(consumer?.events.map((e) => [e.name, e.attributes?.['bullmq.job.failed.reason']])).toEqual([
      ['job failed', 'printer on fire'],
    ]);
  });

  it('leaves a job without any trace context alone', async () => {
    exporter.reset();
    const answer = await run(processorFile, jobJson({ opts: { attempts: 1 } }));
    expect((answer.value as { spanContext: unknown }).spanContext).toBeNull();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('BullMQFailedAttemptSpanProcessor', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [new BullMQFailedAttemptSpanProcessor(), new SimpleSpanProcessor({ exporter: exporter })],
  });
  const tracer = provider.getTracer('bullmq-test');

  /** A consumer span as BullMQ's Worker#processJob records one, with the events it adds. */
  function attempt(name: string, events: [string, Record<string, string>][], kind = SpanKind.CONSUMER) {
    const span = tracer.startSpan(name, { kind, attributes: { 'bullmq.queue.operation': 'process' } });
    for (const [event, attributes] of events) span.addEvent(event, attributes);
    return span;
  }

  it('marks an attempt BullMQ recorded as failed with status ERROR, its reason and error.type', () => {
    exporter.reset();
    attempt('process mail', [['job failed', { 'bullmq.job.failed.reason': 'SMTP refused' }]]).end();
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'SMTP refused' });
    expect(span?.attributes['error.type']).toBe('_OTHER');
    expect(span?.events.map((e) => e.name)).toEqual(['job failed']);
  });

  it('leaves completed attempts, other kinds and a status already set as they were', () => {
    exporter.reset();
    attempt('process mail', [['job completed', { 'bullmq.job.result': '"sent"' }]]).end();
    attempt('moveStalledJobsToWait mail', [['job failed', {}]], SpanKind.INTERNAL).end();
    const named = attempt('process mail', [['job failed', { 'bullmq.job.failed.reason': 'x' }]]);
    named.setAttribute('error.type', 'TimeoutError');
    named.end();
    const decided = attempt('process mail', [['job failed', { 'bullmq.job.failed.reason': 'y' }]]);
    decided.setStatus({ code: SpanStatusCode.OK });
    decided.end();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.status.code, s.attributes['error.type']])).toEqual([
      [SpanStatusCode.UNSET, undefined],
      [SpanStatusCode.UNSET, undefined],
      [SpanStatusCode.ERROR, 'TimeoutError'],
      [SpanStatusCode.OK, undefined],
    ]);
  });
});
