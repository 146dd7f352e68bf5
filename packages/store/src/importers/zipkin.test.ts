import { readFileSync } from 'node:fs';
import type { Span } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { parseTraceFile } from './detect.js';

const cases = new URL('../../../../test/fixtures/cases/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, cases), 'utf8');

/** Each span as `service kind name` under its parent's, so a tree reads at a glance. */
function tree(spans: readonly Span[]): string[] {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const depth = (span: Span): number => {
    const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
    return parent === undefined ? 0 : depth(parent) + 1;
  };
  return spans.map((span) => `${'  '.repeat(depth(span))}${span.serviceName} ${span.kind} ${span.name}`);
}

const zipkin = (spans: readonly object[]) => parseTraceFile(JSON.stringify(spans));

describe('Zipkin spans that share an id', () => {
  it('takes a SERVER span with its CLIENT parent span id as the shared server half, with or without the flag', () => {
    const withoutFlag = parseTraceFile(read('zipkin-shared-id-without-flag.json'));
    const control = parseTraceFile(read('zipkin-shared-id-control.json'));
    expect(withoutFlag.warnings).toEqual([]);
    expect(withoutFlag.problems).toEqual([]);
    expect(tree(withoutFlag.spans)).toEqual([
      'frontend server get /checkout',
      '  frontend client get /price',
      '    pricing server get /price',
      '      pricing client select prices',
    ]);
    // The same spans, ids and parents as when the server said `shared: true`.
    expect(withoutFlag.spans).toEqual(control.spans);
    const server = withoutFlag.spans[2];
    expect(server?.spanId).not.toBe('1111111111111111');
    expect(server?.attributes['zipkin.shared_span_id']).toBe('1111111111111111');
  });

  it('gives the server half the same derived id on every import', () => {
    const first = parseTraceFile(read('zipkin-shared-id-without-flag.json')).spans[2]?.spanId;
    const again = parseTraceFile(read('zipkin-shared-id-without-flag.json')).spans[2]?.spanId;
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    expect(again).toBe(first);
  });

  it('merges reports of one span from the same side (v1 halves, a span flushed twice) instead of dropping them', () => {
    const { spans, warnings, problems } = parseTraceFile(read('zipkin-reported-in-pieces.json'));
    expect(warnings).toEqual([]);
    expect(problems).toEqual([]);
    expect(tree(spans)).toEqual([
      'storefront server get /cart',
      '  storefront client get',
      '    inventory server get /stock',
      '      inventory client select stock',
    ]);
    const [, client, server, query] = spans;
    // The client's start came in one report and its duration in the other.
    expect(client).toMatchObject({
      startTimeNs: 1767225600004000000n,
      endTimeNs: 1767225600064000000n,
      attributes: { 'peer.service': 'inventory', 'http.path': '/stock', 'http.status_code': 200 },
    });
    expect(client?.events.map((event) => event.name)).toEqual(['ws', 'wr']);
    // The server half was reported in two pieces without the shared flag.
    expect(server).toMatchObject({
      name: 'get /stock',
      parentSpanId: '6b221d5bc9e6496c',
      startTimeNs: 1767225600006000000n,
      endTimeNs: 1767225600061000000n,
      attributes: { 'http.method': 'GET', 'zipkin.shared_span_id': '6b221d5bc9e6496c' },
    });
    expect(query?.parentSpanId).toBe(server?.spanId);
  });

  it('keeps one of two reports of one id from contradicting endpoints, and says so', () => {
    const base = { traceId: '00000000000000aa', id: '00000000000000bb', kind: 'SERVER', timestamp: 1, duration: 2 };
    const { spans, warnings } = zipkin([
      { ...base, name: 'a', localEndpoint: { serviceName: 'one' } },
      { ...base, name: 'b', localEndpoint: { serviceName: 'two' } },
    ]);
    expect(spans.map((span) => span.name)).toEqual(['a']);
    expect(warnings).toEqual([
      '[1]: duplicate span id 00000000000000bb in trace 000000000000000000000000000000aa from another endpoint; kept the first',
    ]);
  });

  it('ignores a shared flag on a client span, as Zipkin does, and keeps a span naming itself as parent for the diagram to note', () => {
    const { spans } = zipkin([
      { traceId: 'aa', id: 'aa', parentId: 'aa', kind: 'CLIENT', shared: true, timestamp: 1, duration: 5 },
    ]);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ spanId: '00000000000000aa', kind: 'client' });
    expect(spans[0]?.parentSpanId).toBe('00000000000000aa');
  });
});

describe('Zipkin trace ids of mixed width', () => {
  it('groups spans carrying the lower 64 bits with those carrying the 128-bit id into one trace', () => {
    const { spans, warnings } = parseTraceFile(read('zipkin-mixed-width-trace-ids.json'));
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set(['463ac35c9f6413ad48485a3953bb6124']));
    expect(tree(spans)).toEqual([
      'gateway server get /orders',
      '  gateway client get /orders',
      '    orders server get /orders',
      '      orders client query',
    ]);
    expect(warnings).toEqual([
      'trace id 48485a3953bb6124 (64-bit) read as 463ac35c9f6413ad48485a3953bb6124, the 128-bit id other spans of the trace carry',
    ]);
  });

  it('leaves a 64-bit trace id alone when no span carries a 128-bit id with those lower bits', () => {
    const { spans, warnings } = zipkin([
      { traceId: '463ac35c9f6413ad48485a3953bb6124', id: '0000000000000001', timestamp: 1, duration: 1 },
      { traceId: '1111222233334444', id: '0000000000000002', timestamp: 1, duration: 1 },
    ]);
    expect(spans.map((span) => span.traceId)).toEqual([
      '463ac35c9f6413ad48485a3953bb6124',
      '00000000000000001111222233334444',
    ]);
    expect(warnings).toEqual([]);
  });
});

describe('Zipkin files with malformed spans', () => {
  it('imports the valid spans and reports each skipped one with its JSON path', () => {
    const { spans, problems, rejectedSpans } = parseTraceFile(read('zipkin-bad-values.json'));
    expect(spans.map((span) => span.spanId)).toEqual(['9a1b2c3d4e5f6071', '0000000000000a03']);
    expect(problems).toEqual([
      { place: '[1].timestamp', problem: 'expected a number, found string "yesterday"', rejectedSpans: 1 },
      { place: '[2].timestamp', problem: 'span 0000000000000a02 has no timestamp', rejectedSpans: 1 },
      { place: '[4].traceId', problem: 'expected a 32-digit hex id, found boolean true', rejectedSpans: 1 },
    ]);
    expect(rejectedSpans).toBe(3);
  });
});

describe('Zipkin tags that are not strings', () => {
  it('keeps a span whose tags are numbers or booleans, with their text, and skips null tags', () => {
    const { spans, problems } = zipkin([
      {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        id: '00f067aa0ba902b7',
        kind: 'SERVER',
        name: 'get /orders',
        timestamp: 1_700_000_000_000_000,
        duration: 2_000,
        localEndpoint: { serviceName: 'orders' },
        tags: { 'http.status_code': 200, 'http.method': 'GET', cached: false, retries: 1.5, note: null },
      },
    ]);
    expect(problems).toEqual([]);
    expect(spans).toHaveLength(1);
    const attributes = spans[0]?.attributes ?? {};
    expect(attributes['http.response.status_code'] ?? attributes['http.status_code']).toBe(200);
    expect(attributes.cached).toBe('false');
    expect(attributes.retries).toBe('1.5');
    expect('note' in attributes).toBe(false);
  });
});

describe('Zipkin times out of range', () => {
  it('names the unit Zipkin writes times in', () => {
    const { spans, problems } = zipkin([
      { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', id: '00f067aa0ba902b7', name: 'x', timestamp: 1e30, duration: 1 },
    ]);
    expect(spans).toHaveLength(0);
    expect(problems[0]?.problem).toMatch(/out of range: expected microseconds since 1970/);
  });
});

describe('Zipkin v1 JSON', () => {
  it('reads cs/cr/sr/ss halves, binary annotations and local spans into the same tree as v2', () => {
    const { format, spans, warnings, problems } = parseTraceFile(read('zipkin-v1.json'));
    expect(format).toBe('zipkin');
    expect(warnings).toEqual([]);
    expect(problems).toEqual([]);
    expect(tree(spans)).toEqual([
      'frontend server get /api',
      '  frontend client get',
      '    backend server get',
      '      backend client query',
      '      backend internal render',
    ]);
    const [root, client, server, query, render] = spans;
    expect(root).toMatchObject({
      startTimeNs: 1767225608000000000n,
      endTimeNs: 1767225608060000000n,
      attributes: { 'http.path': '/api', 'network.peer.address': '127.0.0.1' },
    });
    expect(client).toMatchObject({
      spanId: '5f552935fd3c7b55',
      startTimeNs: 1767225608004000000n,
      endTimeNs: 1767225608054000000n,
      attributes: { 'server.address': 'backend', 'network.peer.port': 9000, 'http.path': '/api' },
    });
    // The server half was reported as a v1 span of its own with the same id.
    expect(server).toMatchObject({
      parentSpanId: '5f552935fd3c7b55',
      startTimeNs: 1767225608007000000n,
      endTimeNs: 1767225608050000000n,
      attributes: { 'http.status_code': 200, 'zipkin.shared_span_id': '5f552935fd3c7b55' },
    });
    expect(query).toMatchObject({
      parentSpanId: server?.spanId,
      attributes: { 'server.address': 'mysql', 'sql.query': 'select * from accounts where id = ?' },
    });
    expect(render).toMatchObject({ parentSpanId: server?.spanId, attributes: { lc: 'templates' } });
  });
});
