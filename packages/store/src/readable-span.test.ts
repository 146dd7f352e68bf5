import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { encodeReadableSpans, readableSpanToSpan } from './readable-span.js';
import { decodeSpan, encodedCount } from './span-encoding.js';

function readable(fields: Partial<ReadableSpan> = {}): ReadableSpan {
  return {
    name: 'GET /articles/:id',
    kind: 1,
    spanContext: () => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }),
    startTime: [1_767_225_600, 123_456_789],
    endTime: [1_767_225_600, 165_456_789],
    status: { code: 2, message: 'boom' },
    attributes: { 'http.route': '/articles/:id' },
    links: [],
    events: [{ name: 'exception', time: [1_767_225_600, 150_000_000], attributes: { 'exception.type': 'Error' } }],
    duration: [0, 42_000_000],
    ended: true,
    resource: {
      attributes: { 'service.name': 'blog-api', 'host.name': 'web-1' },
    } as unknown as ReadableSpan['resource'],
    instrumentationScope: { name: '@opentelemetry/instrumentation-http', version: '0.301.0' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
    ...fields,
  };
}

describe('readableSpanToSpan', () => {
  it('converts HrTime, kind, status, events, resource and scope', () => {
    const span = readableSpanToSpan(readable());
    expect(span).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      name: 'GET /articles/:id',
      kind: 'server',
      serviceName: 'blog-api',
      startTimeNs: 1_767_225_600_123_456_789n,
      endTimeNs: 1_767_225_600_165_456_789n,
      status: { code: 'error', message: 'boom' },
      attributes: { 'http.route': '/articles/:id' },
      events: [{ name: 'exception', timeNs: 1_767_225_600_150_000_000n, attributes: { 'exception.type': 'Error' } }],
      links: [],
      resource: { 'service.name': 'blog-api', 'host.name': 'web-1' },
      scope: { name: '@opentelemetry/instrumentation-http', version: '0.301.0' },
    });
  });

  it('takes the parent from parentSpanContext and from the older parentSpanId', () => {
    const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: 'a1b2c3d4e5f60718', traceFlags: 1 };
    expect(readableSpanToSpan(readable({ parentSpanContext: parent })).parentSpanId).toBe('a1b2c3d4e5f60718');
    const legacy = { ...readable(), parentSpanId: 'b1b2c3d4e5f60718' } as ReadableSpan;
    expect(readableSpanToSpan(legacy).parentSpanId).toBe('b1b2c3d4e5f60718');
    expect(readableSpanToSpan(readable())).not.toHaveProperty('parentSpanId');
  });

  it('leaves the end out of a span that never ended and names a missing service', () => {
    const span = readableSpanToSpan(
      readable({
        ended: false,
        kind: 4,
        status: { code: 0 },
        resource: { attributes: {} } as unknown as ReadableSpan['resource'],
      }),
    );
    expect(span).not.toHaveProperty('endTimeNs');
    expect(span.kind).toBe('consumer');
    expect(span.status).toEqual({ code: 'unset' });
    expect(span.serviceName).toBe('unknown_service');
  });

  it('converts a shared resource once and leaves the input untouched', () => {
    const input = readable();
    const before = structuredClone({ ...input, spanContext: undefined, resource: input.resource.attributes });
    const first = readableSpanToSpan(input);
    const second = readableSpanToSpan(readable({ resource: input.resource }));
    expect(second.resource).toBe(first.resource);
    expect(structuredClone({ ...input, spanContext: undefined, resource: input.resource.attributes })).toEqual(before);
  });
});

describe('encodeReadableSpans', () => {
  it('encodes spans that decode to exactly what readableSpanToSpan makes', () => {
    const other = { attributes: { 'service.name': 'worker' } } as unknown as ReadableSpan['resource'];
    const first = readable();
    const spans = [
      first,
      readable({
        parentSpanContext: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: 'a1b2c3d4e5f60718', traceFlags: 1 },
        links: [
          {
            context: { traceId: '5bf92f3577b34da6a3ce929d0e0e4736', spanId: 'b1b2c3d4e5f60718', traceFlags: 1 },
            attributes: { reason: 'retry' },
          },
          { context: { traceId: '6bf92f3577b34da6a3ce929d0e0e4736', spanId: 'c1b2c3d4e5f60718', traceFlags: 1 } },
        ],
        events: [],
        resource: other,
        status: { code: 1 },
      }),
      readable({ ended: false, kind: 3, instrumentationScope: { name: 'manual' }, resource: first.resource }),
      readable({ resource: undefined as unknown as ReadableSpan['resource'], attributes: { tags: ['a', 'b'], n: 3 } }),
    ];
    const batch = encodeReadableSpans(spans);
    expect(encodedCount(batch)).toBe(4);
    expect(batch.resources).toHaveLength(3);
    const resources = batch.resources.map((json) => JSON.parse(json));
    const decoded = spans.map((_, i) => decodeSpan(batch.values, i, resources));
    expect(decoded).toEqual(spans.map(readableSpanToSpan));
  });

  it('encodes only the requested slice', () => {
    const spans = ['a', 'b', 'c'].map((name) => readable({ name }));
    const batch = encodeReadableSpans(spans, 1, 3);
    const resources = batch.resources.map((json) => JSON.parse(json));
    expect([0, 1].map((i) => decodeSpan(batch.values, i, resources).name)).toEqual(['b', 'c']);
  });
});
