import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@lifeline/store';
import { field, fixed64, varint } from '@lifeline/test-support/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeExportTraceResponse, decodeStatus } from './otlp-protobuf.js';
import { type RunningViewer, startViewer } from './server.js';

const double = (number: number, value: number): Buffer => {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return Buffer.concat([varint(number * 8 + 1), bytes]);
};

const NOW = BigInt(Date.now()) * 1_000_000n;
const hex = (bytes: number, fill: number): string => Buffer.alloc(bytes, fill).toString('hex');

interface SpanParts {
  readonly traceId?: Buffer;
  readonly spanId?: Buffer;
  readonly parentSpanId?: Buffer;
  /** null leaves the field out, as proto3 does with a zero. */
  readonly start?: bigint | null;
  readonly end?: bigint | null;
  readonly attributes?: Buffer[];
  /** Encoded Span.Event messages. */
  readonly events?: Buffer[];
}

let nextSpan = 1;
/** A protobuf span: fresh ids, a name and times unless `parts` says otherwise. */
function protoSpan(parts: SpanParts = {}): Buffer {
  const n = nextSpan++;
  const id = Buffer.alloc(8);
  id.writeUInt32BE(n, 4);
  const trace = Buffer.alloc(16, 0x5a);
  trace.writeUInt32BE(n, 12);
  return Buffer.concat([
    field(1, parts.traceId ?? trace),
    field(2, parts.spanId ?? id),
    ...(parts.parentSpanId === undefined ? [] : [field(4, parts.parentSpanId)]),
    field(5, Buffer.from('work')),
    ...(parts.start === null ? [] : [fixed64(7, parts.start ?? NOW)]),
    ...(parts.end === null ? [] : [fixed64(8, parts.end ?? NOW + 1000n)]),
    ...(parts.attributes ?? []).map((a) => field(9, a)),
    ...(parts.events ?? []).map((e) => field(11, e)),
  ]);
}
/** ExportTraceServiceRequest { resource_spans { scope_spans { spans } } }. */
const protoRequest = (...spans: Buffer[]): Buffer => field(1, field(2, Buffer.concat(spans.map((s) => field(2, s)))));

/** An OTLP/JSON span with fresh ids, a name and times, then `fields`. */
function jsonSpan(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const n = nextSpan++;
  return {
    traceId: `5a5a5a5a5a5a5a5a5a5a5a5a${n.toString(16).padStart(8, '0')}`,
    spanId: n.toString(16).padStart(16, '0'),
    name: 'work',
    startTimeUnixNano: String(NOW),
    endTimeUnixNano: String(NOW + 1000n),
    ...fields,
  };
}
const jsonRequest = (...spans: Record<string, unknown>[]) => ({ resourceSpans: [{ scopeSpans: [{ spans }] }] });

describe('the OTLP receiver checks what no clock or id generator writes', () => {
  let dir: string;
  let db: string;
  let viewer: RunningViewer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-otlp-validation-'));
    db = join(dir, 'traces.db');
    viewer = await startViewer({ port: 0, db });
  });

  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const postJson = async (body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${viewer.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const postProto = async (body: Buffer): Promise<{ status: number; message: string; rejected?: string }> => {
    const response = await fetch(`${viewer.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status !== 200) return { status: response.status, message: decodeStatus(bytes).message ?? '' };
    const partial = decodeExportTraceResponse(bytes).partialSuccess;
    return {
      status: 200,
      message: partial?.errorMessage ?? '',
      ...(partial?.rejectedSpans === undefined ? {} : { rejected: partial.rejectedSpans }),
    };
  };
  const storedSpanCount = (): number => {
    const store = openStore({ path: db, readonly: true });
    try {
      return store.stats().spans;
    } finally {
      store.close();
    }
  };

  describe('times', () => {
    it.each([
      ['a negative start', { startTimeUnixNano: '-5000000000', endTimeUnixNano: '1000' }, 'startTimeUnixNano'],
      ['a start of 1e30 ns', { startTimeUnixNano: `1${'0'.repeat(30)}` }, 'startTimeUnixNano'],
      ['a start of 2^63 ns', { startTimeUnixNano: String(2n ** 63n) }, 'startTimeUnixNano'],
      ['an end of 1e308 as a JSON number', { endTimeUnixNano: 1e308 }, 'endTimeUnixNano'],
      ['a start in hex text', { startTimeUnixNano: '0x10' }, 'startTimeUnixNano'],
      ['an event at -1 ns', { events: [{ name: 'e', timeUnixNano: '-1' }] }, 'events[0].timeUnixNano'],
    ])('refuses %s in OTLP/JSON with 400 naming the field', async (_name, times, place) => {
      const before = storedSpanCount();
      const answer = await postJson(jsonRequest(jsonSpan(times)));
      expect(answer.status).toBe(400);
      expect(answer.body.message).toContain(`resourceSpans[0].scopeSpans[0].spans[0].${place}`);
      expect(storedSpanCount()).toBe(before);
    });

    it.each([
      ['a start of 2^63 + 1 ns', { start: 2n ** 63n + 1n }, 'startTimeUnixNano'],
      ['a start of 2^64 - 1 ns', { start: 2n ** 64n - 1n }, 'startTimeUnixNano'],
      ['an end of 2^64 - 1 ns', { end: 2n ** 64n - 1n }, 'endTimeUnixNano'],
    ])('refuses %s in protobuf with 400 naming the field', async (_name, times, place) => {
      const before = storedSpanCount();
      const answer = await postProto(protoRequest(protoSpan(times)));
      expect(answer.status).toBe(400);
      expect(answer.message).toContain(`resourceSpans[0].scopeSpans[0].spans[0].${place}`);
      expect(storedSpanCount()).toBe(before);
    });

    it('keeps the good spans of a request and names the one out of range (partial success)', async () => {
      const before = storedSpanCount();
      const json = await postJson(jsonRequest(jsonSpan(), jsonSpan({ startTimeUnixNano: `9${'0'.repeat(29)}` })));
      expect(json.status).toBe(200);
      expect(json.body.partialSuccess).toMatchObject({ rejectedSpans: '1' });
      expect(String((json.body.partialSuccess as { errorMessage: string }).errorMessage)).toContain(
        'spans[1].startTimeUnixNano',
      );
      const proto = await postProto(protoRequest(protoSpan(), protoSpan({ start: 2n ** 64n - 1n })));
      expect(proto).toMatchObject({ status: 200, rejected: '1' });
      expect(proto.message).toContain('spans[1].startTimeUnixNano');
      expect(storedSpanCount()).toBe(before + 2);
    });
  });

  describe('times absent or 0: one rule for OTLP/JSON and protobuf', () => {
    const place = 'resourceSpans[0].scopeSpans[0].spans[1]';
    it.each([
      [
        'no start time',
        { startTimeUnixNano: undefined },
        { start: null },
        `${place}.startTimeUnixNano is missing or 0`,
      ],
      ['a start time of 0', { startTimeUnixNano: '0' }, { start: 0n }, `${place}.startTimeUnixNano is missing or 0`],
      [
        'an event without a time',
        { events: [{ name: 'ok', timeUnixNano: String(NOW) }, { name: 'no time' }] },
        { events: [Buffer.concat([fixed64(1, NOW), field(2, Buffer.from('ok'))]), field(2, Buffer.from('no time'))] },
        `${place}.events[1].timeUnixNano is missing or 0`,
      ],
      [
        'an event at 0',
        { events: [{ name: 'e', timeUnixNano: 0 }] },
        { events: [Buffer.concat([fixed64(1, 0n), field(2, Buffer.from('e'))])] },
        `${place}.events[0].timeUnixNano is missing or 0`,
      ],
    ])('refuses the span with %s, keeps the others and names its field', async (_name, json, proto, message) => {
      const before = storedSpanCount();
      const jsonAnswer = await postJson(jsonRequest(jsonSpan(), jsonSpan(json)));
      expect(jsonAnswer.status).toBe(200);
      expect(jsonAnswer.body.partialSuccess).toEqual({
        rejectedSpans: '1',
        errorMessage: `1 of 2 spans were rejected; first problem: ${message}`,
      });
      const protoAnswer = await postProto(protoRequest(protoSpan(), protoSpan(proto)));
      expect(protoAnswer).toEqual({
        status: 200,
        rejected: '1',
        message: `1 of 2 spans were rejected; first problem: ${message}`,
      });
      expect(storedSpanCount()).toBe(before + 2);
    });

    it('answers 400 naming the first such span when no span is left', async () => {
      const json = await postJson(jsonRequest(jsonSpan({ startTimeUnixNano: '0' })));
      expect(json).toEqual({
        status: 400,
        body: {
          code: 3,
          message: 'invalid OTLP trace data: resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano is missing or 0',
        },
      });
      const proto = await postProto(protoRequest(protoSpan({ start: null, end: null })));
      expect(proto).toEqual({
        status: 400,
        message: 'invalid OTLP trace data: resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano is missing or 0',
      });
    });

    it('keeps a span without an end time, or ending before it starts, and says so', async () => {
      const before = storedSpanCount();
      const json = await postJson(
        jsonRequest(jsonSpan({ endTimeUnixNano: '0' }), jsonSpan({ endTimeUnixNano: String(NOW - 5n) })),
      );
      expect(json).toEqual({
        status: 200,
        body: {
          partialSuccess: {
            rejectedSpans: '0',
            errorMessage:
              '1 span has no end time (endTimeUnixNano missing or 0): kept as never ended; 1 span ends before it starts: kept, drawn with zero duration',
          },
        },
      });
      const proto = await postProto(protoRequest(protoSpan({ end: null }), protoSpan({ end: 0n }), protoSpan()));
      // proto3 leaves rejected_spans 0 out of the wire.
      expect(proto).toEqual({
        status: 200,
        message: '2 spans have no end time (endTimeUnixNano missing or 0): kept as never ended',
      });
      expect(storedSpanCount()).toBe(before + 5);
    });
  });

  describe('ids', () => {
    it.each([
      ['a trace id of 31 hex digits', { traceId: 'a'.repeat(31) }, 'traceId'],
      ['a span id of one byte', { spanId: 'ab' }, 'spanId'],
      ['a parent id of 15 hex digits', { parentSpanId: 'c'.repeat(15) }, 'parentSpanId'],
      ['an all-zero trace id', { traceId: hex(16, 0) }, 'traceId'],
      ['an all-zero span id', { spanId: hex(8, 0) }, 'spanId'],
      ['a base64 span id of 4 bytes', { spanId: Buffer.alloc(4, 7).toString('base64') }, 'spanId'],
    ])('refuses %s in OTLP/JSON with 400 naming the field', async (_name, ids, place) => {
      const before = storedSpanCount();
      const answer = await postJson(jsonRequest(jsonSpan(ids)));
      expect(answer.status).toBe(400);
      expect(answer.body.message).toContain(`resourceSpans[0].scopeSpans[0].spans[0].${place}`);
      expect(storedSpanCount()).toBe(before);
    });

    it.each([
      ['a span id of one byte', { spanId: Buffer.from([0xab]) }, 'spanId'],
      ['a trace id of 15 bytes', { traceId: Buffer.alloc(15, 0xab) }, 'traceId'],
      ['an all-zero trace id', { traceId: Buffer.alloc(16) }, 'traceId'],
      ['an all-zero span id', { spanId: Buffer.alloc(8) }, 'spanId'],
      ['a parent id of 9 bytes', { parentSpanId: Buffer.alloc(9, 1) }, 'parentSpanId'],
    ])('refuses %s in protobuf with 400 naming the field', async (_name, ids, place) => {
      const before = storedSpanCount();
      const answer = await postProto(protoRequest(protoSpan(ids)));
      expect(answer.status).toBe(400);
      expect(answer.message).toContain(`resourceSpans[0].scopeSpans[0].spans[0].${place}`);
      expect(storedSpanCount()).toBe(before);
    });

    it('takes an all-zero parent id for no parent, in OTLP/JSON and protobuf', async () => {
      const json = jsonSpan({ parentSpanId: hex(8, 0) });
      expect((await postJson(jsonRequest(json))).status).toBe(200);
      const protoId = Buffer.alloc(8, 0x3c);
      expect(
        (await postProto(protoRequest(protoSpan({ spanId: protoId, parentSpanId: Buffer.alloc(8) })))).status,
      ).toBe(200);
      const store = openStore({ path: db, readonly: true });
      try {
        const stored = store.getTrace(String(json.traceId));
        expect(stored?.spans[0]?.parentSpanId).toBeUndefined();
      } finally {
        store.close();
      }
    });
  });

  describe('doubles that are not finite numbers', () => {
    const stored = (traceId: string) => {
      const store = openStore({ path: db, readonly: true });
      try {
        return store.getTrace(traceId)?.spans[0]?.attributes;
      } finally {
        store.close();
      }
    };

    it('keeps a span with NaN and infinite double attributes from OTLP/JSON, the values as text', async () => {
      const span = jsonSpan({
        attributes: [
          { key: 'ratio', value: { doubleValue: 'NaN' } },
          { key: 'ceiling', value: { doubleValue: 'Infinity' } },
          { key: 'floor', value: { doubleValue: '-Infinity' } },
          { key: 'list', value: { arrayValue: { values: [{ doubleValue: 1.5 }, { doubleValue: 'NaN' }] } } },
        ],
      });
      const answer = await postJson(jsonRequest(span));
      expect(answer).toEqual({
        status: 200,
        body: {
          partialSuccess: {
            rejectedSpans: '0',
            errorMessage:
              '1 span has a double attribute that is NaN or ±Infinity ("ratio", "ceiling", "floor", …): kept as the text "NaN", "Infinity" or "-Infinity"',
          },
        },
      });
      expect(stored(String(span.traceId))).toMatchObject({
        ratio: 'NaN',
        ceiling: 'Infinity',
        floor: '-Infinity',
        list: [1.5, 'NaN'],
        'lifeline.import.non_finite_attributes': ['ratio', 'ceiling', 'floor', 'list'],
      });
    });

    it('shows the note about NaN and infinite doubles on the trace page and in the diagram', async () => {
      const span = jsonSpan({ attributes: [{ key: 'ratio', value: { doubleValue: 'NaN' } }] });
      expect((await postJson(jsonRequest(span))).status).toBe(200);
      const response = await fetch(`${viewer.url}/api/traces/${String(span.traceId)}`);
      const trace = (await response.json()) as {
        analysis: { notes: string[] };
        sequence: { model: { notes: string[] } };
      };
      const note =
        '1 span has a double attribute that is NaN or ±Infinity ("ratio"): kept as the text "NaN", "Infinity" or "-Infinity"';
      expect(trace.analysis.notes).toContain(note);
      expect(trace.sequence.model.notes).toContain(note);
    });

    it('keeps a span with NaN and infinite double attributes from protobuf, the values as text', async () => {
      const traceId = Buffer.alloc(16, 0x6e);
      const attribute = (key: string, value: number): Buffer =>
        Buffer.concat([field(1, Buffer.from(key)), field(2, double(4, value))]);
      const answer = await postProto(
        protoRequest(
          protoSpan({
            traceId,
            attributes: [
              attribute('ratio', Number.NaN),
              attribute('ceiling', Number.POSITIVE_INFINITY),
              attribute('floor', Number.NEGATIVE_INFINITY),
              attribute('plain', 0.25),
            ],
          }),
        ),
      );
      expect(answer).toEqual({
        status: 200,
        message:
          '1 span has a double attribute that is NaN or ±Infinity ("ratio", "ceiling", "floor"): kept as the text "NaN", "Infinity" or "-Infinity"',
      });
      expect(stored(traceId.toString('hex'))).toMatchObject({
        ratio: 'NaN',
        ceiling: 'Infinity',
        floor: '-Infinity',
        plain: 0.25,
        'lifeline.import.non_finite_attributes': ['ratio', 'ceiling', 'floor'],
      });
    });
  });

  describe('span kinds OTLP does not define', () => {
    const storedSpan = (traceId: string) => {
      const store = openStore({ path: db, readonly: true });
      try {
        return store.getTrace(traceId)?.spans[0];
      } finally {
        store.close();
      }
    };
    const note = '1 span has a span kind OTLP does not define ("9"): kept as SPAN_KIND_UNSPECIFIED, drawn as internal';

    it('keeps an OTLP/JSON span of kind 9 as internal, the value in an attribute, with a note', async () => {
      const span = jsonSpan({ kind: 9 });
      const answer = await postJson(jsonRequest(span));
      expect(answer).toEqual({ status: 200, body: { partialSuccess: { rejectedSpans: '0', errorMessage: note } } });
      const kept = storedSpan(String(span.traceId));
      expect(kept?.kind).toBe('internal');
      expect(kept?.attributes['lifeline.import.unknown_span_kind']).toBe('9');
    });

    it('keeps a protobuf span of kind 9 as internal, the value in an attribute, with a note', async () => {
      const traceId = Buffer.alloc(16, 0x6b);
      const answer = await postProto(protoRequest(Buffer.concat([protoSpan({ traceId }), varint(6 * 8), varint(9)])));
      expect(answer).toEqual({ status: 200, message: note });
      const kept = storedSpan(traceId.toString('hex'));
      expect(kept?.kind).toBe('internal');
      expect(kept?.attributes['lifeline.import.unknown_span_kind']).toBe('9');
      const trace = (await (await fetch(`${viewer.url}/api/traces/${traceId.toString('hex')}`)).json()) as {
        analysis: { notes: string[] };
      };
      expect(trace.analysis.notes).toContain(note);
    });
  });
});
