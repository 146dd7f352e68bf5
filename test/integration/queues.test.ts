import type { Span } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncArrows, validDiagram } from './support/diagram.ts';
import { type RunningApp, runId, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missing = await missingServices('rabbitmq', 'redis');

function consumerWork(spans: readonly Span[], consumer: Span | undefined): Span[] {
  return consumer === undefined ? [] : spans.filter((s) => s.parentSpanId === consumer.spanId);
}

describe.skipIf(missing.length > 0)('jobs enqueued during a request', () => {
  const db = tempDb();
  const id = runId();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'shop.ts', db: db.path, serviceName: 'shop', env: { RUN_ID: id } });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('shows an amqplib publish and its consumer in the request diagram as async arrows', async () => {
    const response = await fetch(`${app.url}/orders/41?via=amqp`, { method: 'POST' });
    expect(response.status).toBe(202);
    const trace = await waitForTrace(db.path, traceIdOf(response), (spans) => {
      const consumer = spans.find((s) => s.kind === 'consumer');
      return consumer !== undefined && consumerWork(spans, consumer).length > 0;
    });
    const producer = trace.spans.find((s) => s.kind === 'producer');
    const consumer = trace.spans.find((s) => s.kind === 'consumer');
    expect(producer?.attributes['messaging.system']).toBe('rabbitmq');
    // The consumer continues the producer's trace; the queue wait is the gap between them.
    expect(consumer?.traceId).toBe(producer?.traceId);
    expect(consumer?.startTimeNs).toBeGreaterThanOrEqual(producer?.startTimeNs ?? Number.POSITIVE_INFINITY);
    expect(consumerWork(trace.spans, consumer).map((s) => s.name)).toContain('INSERT confirmations');
    const text = await validDiagram(trace);
    expect(asyncArrows(text).length).toBeGreaterThanOrEqual(2);
  });

  it('shows a BullMQ job and its processing in the request diagram as async arrows', async () => {
    const response = await fetch(`${app.url}/orders/42?via=bullmq`, { method: 'POST' });
    expect(response.status).toBe(202);
    const trace = await waitForTrace(db.path, traceIdOf(response), (spans) =>
      spans.some((s) => s.kind === 'consumer' && s.scope?.name === 'shop' && consumerWork(spans, s).length > 0),
    );
    const producers = trace.spans.filter((s) => s.kind === 'producer');
    const consumer = trace.spans.find((s) => s.kind === 'consumer' && consumerWork(trace.spans, s).length > 0);
    expect(producers.length).toBeGreaterThan(0);
    expect(consumer?.name).toContain(`lifeline-it-${id}`);
    expect(consumerWork(trace.spans, consumer).map((s) => s.name)).toContain('INSERT confirmations');
    const text = await validDiagram(trace);
    expect(asyncArrows(text).length).toBeGreaterThanOrEqual(2);
  });
});
