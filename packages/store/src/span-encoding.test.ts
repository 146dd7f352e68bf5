import type { Span } from '@lifeline/core';
import { makeRequest, makeSpan, nextId } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { decodeSpan, type EncodedSpans, encodedCount, encodeSpans, mergeEncoded } from './span-encoding.js';

const T0 = 1_767_225_600_000_000_000;

function decodeAll(batch: EncodedSpans): Span[] {
  const resources = batch.resources.map((json) => JSON.parse(json));
  return Array.from({ length: encodedCount(batch) }, (_, i) => decodeSpan(batch.values, i, resources));
}

function unended(span: Span): Span {
  const { endTimeNs: _end, ...rest } = span;
  return rest;
}

describe('encodeSpans', () => {
  it('round-trips every field of a span', () => {
    const traceId = nextId(32);
    const spans: Span[] = [
      ...makeRequest({ traceId, startNs: T0, durationMs: 30, queries: ['SELECT a'] }),
      makeSpan({
        traceId,
        parentSpanId: nextId(16),
        status: { code: 'error', message: 'deadlock' },
        events: [{ name: 'exception', timeNs: BigInt(T0) + 5n, attributes: { 'exception.type': 'Error' } }],
        links: [{ traceId: nextId(32), spanId: nextId(16), attributes: {} }],
        attributes: { tags: ['a', 'b'], ok: false, n: 1.5 },
        scope: { name: 'pg', version: '1.0.0' },
        serviceName: 'worker',
      }),
      unended(makeSpan({ traceId, scope: { name: 'manual' } })),
    ];
    expect(decodeAll(encodeSpans(spans))).toEqual(spans);
  });

  it('stores each resource object once and treats an empty parent id as none', () => {
    const resource = { 'service.name': 'blog-api' };
    const traceId = nextId(32);
    const spans = [
      makeSpan({ traceId, resource }),
      makeSpan({ traceId, resource, parentSpanId: '' }),
      makeSpan({ traceId, serviceName: 'worker' }),
    ];
    const batch = encodeSpans(spans);
    expect(batch.resources).toEqual(['{"service.name":"blog-api"}', '{"service.name":"worker"}']);
    expect(decodeAll(batch)[1]).not.toHaveProperty('parentSpanId');
  });
});

describe('mergeEncoded', () => {
  it('joins batches and points each span at its own resource', () => {
    const traceId = nextId(32);
    const first = [makeSpan({ traceId, serviceName: 'a' }), makeSpan({ traceId, serviceName: 'b' })];
    const second = [makeSpan({ traceId, serviceName: 'c' }), makeSpan({ traceId, serviceName: 'a' })];
    const merged = mergeEncoded([encodeSpans(first), encodeSpans(second)]);
    expect(encodedCount(merged)).toBe(4);
    expect(decodeAll(merged)).toEqual([...first, ...second]);
  });
});
