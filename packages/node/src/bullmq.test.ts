import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { BullMQFailedAttemptSpanProcessor } from './bullmq.js';

describe('BullMQFailedAttemptSpanProcessor', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new BullMQFailedAttemptSpanProcessor(), new SimpleSpanProcessor(exporter)],
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
