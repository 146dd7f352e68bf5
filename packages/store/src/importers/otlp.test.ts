import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTraceFile } from './detect.js';
import { otlpToSpans } from './otlp.js';
import { TraceFileError } from './trace-file-error.js';

const cases = new URL('../../../../test/fixtures/cases/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, cases), 'utf8');

describe('Grafana Tempo trace JSON', () => {
  it('reads {"batches": …} as the same spans as the OTLP request with resourceSpans', () => {
    const tempo = parseTraceFile(read('tempo-batches.json'));
    const control = parseTraceFile(read('tempo-batches-control.json'));
    expect(tempo.format).toBe('tempo');
    expect(control.format).toBe('otlp-json');
    expect(tempo.spans).toHaveLength(2);
    expect(tempo.spans).toEqual(control.spans);
    expect(tempo.spans[1]).toMatchObject({ kind: 'client', parentSpanId: 'b7ad6b7169203331', serviceName: 'checkout' });
  });

  it('reads the names before OTLP 0.15 (instrumentationLibrarySpans), enum names, number and string times', () => {
    const { format, spans, problems } = parseTraceFile(read('tempo-instrumentation-library.json'));
    expect(format).toBe('tempo');
    expect(problems).toEqual([]);
    expect(spans.map((s) => [s.name, s.kind, s.status, s.scope?.name])).toEqual([
      ['POST /shipments', 'server', { code: 'error', message: 'carrier unavailable' }, 'io.opentelemetry.tomcat-7.0'],
      ['POST', 'client', { code: 'error' }, 'io.opentelemetry.tomcat-7.0'],
      ['SELECT shipping.rates', 'client', { code: 'unset' }, 'io.opentelemetry.jdbc'],
    ]);
    expect(spans[0]).toMatchObject({
      traceId: '2f1c3b4a5d6e7f8091a2b3c4d5e6f708',
      spanId: '1111aaaa2222bbbb',
      startTimeNs: 1767225603000000000n,
      endTimeNs: 1767225603090000000n,
      scope: { name: 'io.opentelemetry.tomcat-7.0', version: '1.9.0' },
    });
  });

  it('reads the API v2 envelope {"trace": {"resourceSpans": …}} beside its status and metrics', () => {
    const { format, spans } = parseTraceFile(read('tempo-api-v2.json'));
    expect(format).toBe('tempo');
    expect(spans.map((s) => [s.serviceName, s.kind, s.name, s.parentSpanId])).toEqual([
      ['search', 'server', 'GET /search', undefined],
      ['search', 'client', 'GET', '0a0b0c0d0e0f1011'],
    ]);
  });

  it('names a problem inside the envelope with the path from the top of the file', () => {
    const document = JSON.parse(read('tempo-api-v2.json'));
    document.trace.resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano = 'soon';
    const { spans, problems } = parseTraceFile(JSON.stringify(document));
    expect(spans).toHaveLength(1);
    expect(problems).toEqual([
      {
        place: 'trace.resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano',
        problem: 'expected a number, found string "soon"',
        rejectedSpans: 1,
      },
    ]);
  });
});

describe('otlpToSpans', () => {
  it('reads kinds and status codes by number, full enum name, short name or any case', () => {
    const request = (kind: unknown, code: unknown) => ({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: '01'.padStart(32, '0'),
                  spanId: '02'.padStart(16, '0'),
                  kind,
                  startTimeUnixNano: 1,
                  status: { code },
                },
              ],
            },
          ],
        },
      ],
    });
    for (const [kind, code] of [
      [3, 2],
      ['3', '2'],
      ['SPAN_KIND_CLIENT', 'STATUS_CODE_ERROR'],
      ['CLIENT', 'ERROR'],
      ['Client', 'Error'],
    ]) {
      const [span] = otlpToSpans(request(kind, code) as never);
      expect([span?.kind, span?.status.code], `${kind} ${code}`).toEqual(['client', 'error']);
    }
  });

  it('throws on the first malformed value without a context, as the OTLP receiver expects', () => {
    const bad = {
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'trace-1', spanId: '02', startTimeUnixNano: 1 }] }] }],
    };
    expect(() => otlpToSpans(bad as never)).toThrow(TraceFileError);
    expect(() => otlpToSpans(bad as never)).toThrow('resourceSpans[0].scopeSpans[0].spans[0].traceId');
  });
});

describe('OTLP JSON with protobuf field names', () => {
  it('reads resource_spans, trace_id, start_time_unix_nano, string_value … as their lowerCamelCase names', () => {
    const text = readFileSync(new URL('../../../../test/fixtures/otlp.sample.json', import.meta.url), 'utf8');
    const snake = text.replace(
      /"([a-z]+(?:[A-Z][a-z]*)+)"\s*:/g,
      (_, key: string) => `"${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}":`,
    );
    expect(snake).toContain('"resource_spans":');
    expect(snake).toContain('"start_time_unix_nano":');
    const camel = parseTraceFile(text);
    const proto = parseTraceFile(snake);
    expect(proto.format).toBe('otlp-json');
    expect(proto.problems).toEqual([]);
    expect(proto.spans).toEqual(camel.spans);
  });

  it('keeps attribute keys, which are values, as they are', () => {
    const text = JSON.stringify({
      resource_spans: [
        {
          scope_spans: [
            {
              spans: [
                {
                  trace_id: '01',
                  span_id: '02',
                  start_time_unix_nano: '1',
                  attributes: [{ key: 'db.system_name', value: { string_value: 'postgresql' } }],
                },
              ],
            },
          ],
        },
      ],
    });
    expect(parseTraceFile(text).spans[0]?.attributes).toEqual({ 'db.system_name': 'postgresql' });
  });
});

describe('attribute values nested without end', () => {
  /** An OTLP/JSON request of one span whose attribute `deep` is `value`. */
  const request = (value: unknown) => ({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                spanId: '00f067aa0ba902b7',
                name: 'GET /x',
                kind: 2,
                startTimeUnixNano: '1700000000000000000',
                endTimeUnixNano: '1700000000100000000',
                attributes: [{ key: 'deep', value }],
              },
            ],
          },
        ],
      },
    ],
  });
  const nestedArrays = (levels: number): unknown => {
    let value: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < levels; i++) value = { arrayValue: { values: [value] } };
    return value;
  };
  const nestedLists = (levels: number): unknown => {
    let value: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < levels; i++) value = { kvlistValue: { values: [{ key: 'k', value }] } };
    return value;
  };

  it('keeps the span of an array nested 100,000 deep, its value cut past 32 levels of JSON', () => {
    const [span] = otlpToSpans(request(nestedArrays(100_000)) as never);
    const text = span?.attributes.deep;
    expect(typeof text).toBe('string');
    expect(text).toContain('nested deeper than 32 levels: cut');
    expect(JSON.parse(text as string)).toBeDefined();
    expect((text as string).length).toBeLessThan(2_000);
  });

  it('keeps an array nested a few levels deep whole', () => {
    const [span] = otlpToSpans(request(nestedArrays(3)) as never);
    const items = (nestedArrays(3) as { arrayValue: { values: unknown[] } }).arrayValue.values;
    expect(JSON.parse(span?.attributes.deep as string)).toEqual(items);
  });

  it('flattens key-value lists into dotted keys 32 deep, and keeps the rest of a deeper one as cut JSON text', () => {
    const [span] = otlpToSpans(request(nestedLists(100_000)) as never);
    const keys = Object.keys(span?.attributes ?? {});
    expect(keys).toHaveLength(1);
    expect(keys[0]).toBe(`deep${'.k'.repeat(32)}`);
    expect(span?.attributes[keys[0] as string]).toContain('nested deeper than 32 levels: cut');
    const [shallow] = otlpToSpans(request(nestedLists(2)) as never);
    expect(shallow?.attributes).toEqual({ 'deep.k.k': 'leaf' });
  });

  it('reads a file nested 20,000 deep through the format detection, as `lifeline import` does', () => {
    // Written as text: JSON.stringify of the value itself would exhaust the stack.
    const levels = 20_000;
    const deep = `${'{"arrayValue":{"values":['.repeat(levels)}{"stringValue":"leaf"}${']}}'.repeat(levels)}`;
    const text = JSON.stringify(request('DEEP')).replace('"DEEP"', deep);
    const { spans, problems } = parseTraceFile(text);
    expect(problems).toEqual([]);
    expect(spans).toHaveLength(1);
    expect(spans[0]?.attributes.deep).toContain('cut');
  });
});
