import type { Span, Trace } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
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

const missing = await missingServices('rabbitmq', 'postgres');

/** The consumer spans of a trace, in start order. */
function consumerSpans(spans: readonly Span[]): Span[] {
  return byStart(spans.filter((s) => s.kind === 'consumer'));
}

/** The Postgres queries whose parent is `parent`. */
function queriesUnder(spans: readonly Span[], parent: Span | undefined): Span[] {
  return dbSpans(spans, 'postgresql').filter((s) => parent !== undefined && s.parentSpanId === parent.spanId);
}

/** Whether both messages were handled, each with both its queries under its own consumer span. */
function bothHandled(spans: readonly Span[]): boolean {
  const consumers = consumerSpans(spans);
  return (
    consumers.length === 2 && consumers.every((c) => c.endTimeNs !== undefined && queriesUnder(spans, c).length === 2)
  );
}

describe.skipIf(missing.length > 0)('RabbitMQ messages handled concurrently by one amqplib consumer', () => {
  const db = tempDb();
  const id = runId();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'consumers.ts', db: db.path, serviceName: 'consumers', env: { RUN_ID: id } });
  }, 30_000);
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  /** Publishes two messages over HTTP and waits until both were handled. */
  async function publish(mode: string): Promise<Trace> {
    const response = await fetch(`${app.url}/batches/${mode}`, { method: 'POST' });
    expect(response.status, app.output()).toBe(202);
    return waitForTrace(db.path, traceIdOf(response), bothHandled, 20_000);
  }

  it.each([
    ['ack', 'acknowledged by the handler when done'],
    ['noack', 'acknowledged automatically (noAck)'],
    ['early-ack', 'acknowledged before the work'],
  ])('gives each message its own queries and draws the overlapping handlers side by side (%s: %s)', async (mode) => {
    const trace = await publish(mode);
    const [first, second] = consumerSpans(trace.spans);
    // Each message's span lasts as long as its handler: both queries inside it.
    for (const consumer of [first, second]) {
      const queries = queriesUnder(trace.spans, consumer);
      expect(queries).toHaveLength(2);
      for (const query of queries) {
        expect(query.startTimeNs).toBeGreaterThanOrEqual(consumer?.startTimeNs ?? Number.POSITIVE_INFINITY);
        expect(query.endTimeNs ?? 0n).toBeLessThanOrEqual(consumer?.endTimeNs ?? 0n);
      }
    }
    // The handlers overlapped: the second message was taken before the first was done.
    expect(second?.startTimeNs ?? 0n).toBeLessThan(first?.endTimeNs ?? 0n);
    const text = (await validDiagram(trace)).replaceAll(id, 'RUN');
    const lines = text.split('\n');
    const answer = lines.indexOf('p2-->>p1: 202');
    const branch = [
      `  p3-)p2: process lifeline-consumers-${mode}-RUN`,
      '  p2->>p4: SELECT',
      '  p4-->>p2: ok',
      '  p2->>p4: SELECT',
      '  p4-->>p2: ok',
    ];
    expect(lines.slice(answer + 1), text).toEqual(['par 2 concurrent calls', ...branch, 'and', ...branch, 'end', '']);
  });

  it('ends a message whose handler failed as a failure, after its work', async () => {
    const trace = await publish('failing');
    for (const consumer of consumerSpans(trace.spans)) {
      expect(consumer.status.code).toBe('error');
      expect(consumer.status.message).toMatch(/^part [12] could not be filed$/);
      for (const query of queriesUnder(trace.spans, consumer)) {
        expect(query.endTimeNs ?? 0n).toBeLessThanOrEqual(consumer.endTimeNs ?? 0n);
      }
    }
  });
});
