import { otlpToSpans } from '@lifeline/store';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { exportTraceMessageToSpans } from './otlp-message-to-spans.js';
import { decodeExportTraceMessage, encodeExportTraceRequestJson, exportTraceMessageToJson } from './otlp-protobuf.js';

/** What the OTLP/JSON path makes of a body: the reference the message-to-spans path must equal. */
function viaOtlpJson(body: Uint8Array) {
  return otlpToSpans(exportTraceMessageToJson(decodeExportTraceMessage(body)));
}

function direct(body: Uint8Array) {
  return exportTraceMessageToSpans(decodeExportTraceMessage(body));
}

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const traceId = b64('0af7651916cd43dd8448eb211c80319c');
const spanId = b64('b7ad6b7169203331');

/** A one-span request in protobuf's JSON mapping, with the span's fields overridden. */
function request(span: Record<string, unknown>, scopeSpans: Record<string, unknown> = {}): Uint8Array {
  return encodeExportTraceRequestJson({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
        scopeSpans: [
          {
            scope: { name: 'handmade', version: '1.0.0' },
            spans: [{ traceId, spanId, name: 'GET /x', kind: 2, startTimeUnixNano: '1700000000123456789', ...span }],
            ...scopeSpans,
          },
        ],
      },
    ],
  });
}

describe('spans straight from a decoded protobuf request', () => {
  it('equals the OTLP/JSON path on what the OpenTelemetry SDK sends', async () => {
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'orders', 'host.name': 'web-1', 'process.pid': 4711 }),
      spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
    });
    const tracer = provider.getTracer('direct-test', '2.0.0');
    const root = tracer.startSpan('GET /orders/:id', {
      kind: SpanKind.SERVER,
      attributes: { 'http.route': '/orders/:id', 'http.response.status_code': 500, ratio: 0.25, cached: false },
    });
    const parent = trace.setSpan(context.active(), root);
    const query = tracer.startSpan(
      'SELECT orders',
      { kind: SpanKind.CLIENT, attributes: { tags: ['a', 'b'], sizes: [1, 2, 3], flags: [true, false] } },
      parent,
    );
    query.addEvent('rows', { count: 3 });
    query.addLink({
      context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 },
      attributes: { n: 1 },
    });
    query.end();
    tracer.startSpan('SEND jobs', { kind: SpanKind.PRODUCER }, parent).end();
    root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    root.end();
    await provider.forceFlush();
    const body = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans());
    await provider.shutdown();
    if (body === undefined) throw new Error('the serializer produced nothing');

    const spans = direct(body);
    expect(spans).toHaveLength(3);
    expect(spans).toEqual(viaOtlpJson(body));
    expect(spans?.find((s) => s.name === 'SELECT orders')?.links[0]?.traceId).toBe('1'.repeat(32));
  });

  it('equals the OTLP/JSON path on bytes, key-value lists, huge integers and empty values', () => {
    const body = request(
      {
        parentSpanId: b64('00f067aa0ba902b7'),
        endTimeUnixNano: '1700000000223456789',
        attributes: [
          { key: 'raw', value: { bytesValue: b64('cafe') } },
          { key: 'huge', value: { intValue: '9223372036854775807' } },
          { key: 'small', value: { intValue: '-42' } },
          { key: 'empty', value: {} },
          { key: 'missing' },
          { key: 'blank', value: { stringValue: '' } },
          {
            key: 'header',
            value: {
              kvlistValue: {
                values: [
                  { key: 'accept', value: { stringValue: 'text/html' } },
                  { key: 'sizes', value: { arrayValue: { values: [{ intValue: '1' }, {}] } } },
                ],
              },
            },
          },
        ],
        events: [{ timeUnixNano: '1700000000200000000', name: 'retry' }],
        status: { code: 1 },
      },
      { scope: { name: 'no-version' } },
    );
    const spans = direct(body);
    expect(spans).toEqual(viaOtlpJson(body));
    expect(spans?.[0]?.attributes).toMatchObject({
      raw: 'yv4=',
      huge: '9223372036854775807',
      small: -42,
      blank: '',
      'header.accept': 'text/html',
      'header.sizes': [1, null],
    });
    expect(spans?.[0]?.parentSpanId).toBe('00f067aa0ba902b7');
  });

  it('leaves to the OTLP/JSON path what it would reject or store specially', () => {
    const cases = [
      request({ spanId: b64('b7ad6b71') }), // a 4-byte span id
      request({ startTimeUnixNano: undefined }), // no start time at all
      request({ attributes: [{ key: 'nested', value: { arrayValue: { values: [{ arrayValue: { values: [] } }] } } }] }),
      request({ attributes: [{ value: { stringValue: 'no key' } }] }),
      request({ links: [{ traceId: b64('0af7'), spanId }] }),
    ];
    for (const body of cases) expect(direct(body)).toBeUndefined();
  });

  it('reads a kind OTLP does not define and NaN doubles as the OTLP/JSON path does, marking both', () => {
    const body = request({ kind: 9, attributes: [{ key: 'ratio', value: { doubleValue: 'NaN' } }] });
    const spans = direct(body);
    expect(spans).toEqual(viaOtlpJson(body));
    expect(spans?.[0]?.kind).toBe('internal');
    expect(spans?.[0]?.attributes).toMatchObject({
      ratio: 'NaN',
      'lifeline.import.unknown_span_kind': '9',
      'lifeline.import.non_finite_attributes': ['ratio'],
    });
  });

  it('keeps the member last on the wire when one AnyValue carries two, as protobuf decodes a oneof', () => {
    const body = request({ attributes: [{ key: 'twice', value: { stringValue: 'a', intValue: '1' } }] });
    const spans = direct(body);
    expect(spans).toEqual(viaOtlpJson(body));
    expect(spans?.[0]?.attributes).toEqual({ twice: 1 });
  });
});
