import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { field, fixed64 } from '@lifeline/test-support/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkJsonRequest, checkProtobufRequest, DEFAULT_OTLP_LIMITS, OtlpLimitError } from './otlp-limits.js';
import { type RunningViewer, startViewer } from './server.js';

const NOW = BigInt(Date.now()) * 1_000_000n;

/** A span's own fields (ids, name, times) followed by `extra`. */
function span(extra: Buffer): Buffer {
  return Buffer.concat([
    field(1, Buffer.alloc(16, 0xab)),
    field(2, Buffer.alloc(8, 0xcd)),
    field(5, Buffer.from('work')),
    fixed64(7, NOW),
    fixed64(8, NOW + 1000n),
    extra,
  ]);
}
/** ExportTraceServiceRequest { resource_spans { scope_spans { spans } } }. */
const request = (...spans: Buffer[]): Buffer => field(1, field(2, Buffer.concat(spans.map((s) => field(2, s)))));
/** `count` copies of an empty field `number` (two bytes each). */
const empties = (number: number, count: number): Buffer =>
  Buffer.alloc(count * 2, 0).fill(Buffer.from([number * 8 + 2, 0]));

describe('checkProtobufRequest', () => {
  it('passes a request within the limits, events, links and nested values included', () => {
    const attribute = field(9, Buffer.concat([field(1, Buffer.from('k')), field(2, field(1, Buffer.from('v')))]));
    const nested = field(9, Buffer.concat([field(1, Buffer.from('list')), field(2, field(5, empties(1, 100)))]));
    expect(() =>
      checkProtobufRequest(request(span(Buffer.concat([attribute, nested, empties(11, 128), empties(13, 128)])))),
    ).not.toThrow();
  });

  it.each([
    [11, 'events', DEFAULT_OTLP_LIMITS.maxEvents],
    [13, 'links', DEFAULT_OTLP_LIMITS.maxLinks],
    [9, 'attributes', DEFAULT_OTLP_LIMITS.maxAttributes],
  ])('refuses a span with too many %s (field %i) and names its place', (number, what, limit) => {
    const body = request(span(Buffer.alloc(0)), span(empties(number, limit + 1)));
    expect(() => checkProtobufRequest(body)).toThrow(
      new OtlpLimitError(`resourceSpans[0].scopeSpans[0].spans[1] has more than ${limit} ${what}`),
    );
  });

  it('refuses too many attributes on one event', () => {
    const event = field(11, Buffer.concat([fixed64(1, NOW), empties(3, DEFAULT_OTLP_LIMITS.maxAttributes + 1)]));
    expect(() => checkProtobufRequest(request(span(event)))).toThrow(
      /spans\[0\]\.events\[0\] has more than 1000 attributes/,
    );
  });

  it('refuses millions of values hidden in one nested array attribute', () => {
    const values = empties(1, 3_000_000);
    const attribute = field(9, Buffer.concat([field(1, Buffer.from('k')), field(2, field(5, values))]));
    expect(() => checkProtobufRequest(request(span(attribute)))).toThrow(/more than 2000000 values/);
  });

  it('refuses too many spans and malformed framing', () => {
    const small = { ...DEFAULT_OTLP_LIMITS, maxSpans: 3 };
    expect(() => checkProtobufRequest(request(span(Buffer.alloc(0)), span(Buffer.alloc(0))), small)).not.toThrow();
    const four = request(...Array.from({ length: 4 }, () => span(Buffer.alloc(0))));
    expect(() => checkProtobufRequest(four, small)).toThrow(/more than 3 spans/);
    expect(() => checkProtobufRequest(Buffer.from([0x0a, 0x05, 0x12]))).toThrow(/runs past the end/);
    expect(() => checkProtobufRequest(Buffer.from([0x0a, 0xff]))).toThrow(/truncated varint/);
  });
});

describe('checkJsonRequest', () => {
  it('applies the same per-span limits to OTLP/JSON', () => {
    const json = (spanFields: Record<string, unknown>) => ({
      resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'a' }, { name: 'b', ...spanFields }] }] }],
    });
    expect(() => checkJsonRequest(json({ events: new Array(1000).fill({}) }))).not.toThrow();
    expect(() => checkJsonRequest(json({ events: new Array(1001).fill({}) }))).toThrow(
      'resourceSpans[0].scopeSpans[0].spans[1] has more than 1000 events',
    );
    expect(() => checkJsonRequest(json({ links: [{ attributes: new Array(1001).fill({}) }] }))).toThrow(
      /spans\[1\]\.links\[0\] has more than 1000 attributes/,
    );
  });
});

describe('the receiver with a body that would expand to gigabytes', () => {
  let dir: string;
  let viewer: RunningViewer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-otlp-limits-'));
    viewer = await startViewer({ port: 0, db: join(dir, 'traces.db') });
  });
  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses 8 million empty events in a 16 MiB body before decoding it, with 400 and the limit', async () => {
    const count = Math.floor((16 * 1024 * 1024 - 200) / 2);
    const body = request(span(empties(11, count)));
    expect(body.length).toBeLessThanOrEqual(16 * 1024 * 1024);
    const answer = await fetch(`${viewer.url}/v1/traces`, {
      method: 'POST',
      body: new Uint8Array(body),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/protobuf/);
    expect(Buffer.from(await answer.arrayBuffer()).toString('latin1')).toContain(
      'resourceSpans[0].scopeSpans[0].spans[0] has more than 1000 events',
    );
    const health = await fetch(`${viewer.url}/api/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { spans: number }).spans).toBe(0);
  });
});
