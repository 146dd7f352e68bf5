import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTraceFile } from './detect.js';
import { TraceFileError } from './trace-file-error.js';

const fixtures = new URL('../../../../test/fixtures/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, fixtures), 'utf8');

function errorOf(run: () => unknown): TraceFileError {
  try {
    run();
  } catch (error) {
    if (error instanceof TraceFileError) return error;
    throw error;
  }
  throw new Error('expected a TraceFileError');
}

describe('parseTraceFile', () => {
  it('reads OTLP JSON with hex and base64 ids, string and number times, enum kinds as numbers and names', () => {
    const { format, spans, warnings } = parseTraceFile(read('otlp.sample.json'));
    expect(format).toBe('otlp-json');
    expect(warnings).toEqual([]);
    expect(spans).toHaveLength(4);
    const [server, firstQuery, secondQuery, cache] = spans;
    expect(server).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      kind: 'server',
      serviceName: 'blog-api',
      startTimeNs: 1767225600000000000n,
      endTimeNs: 1767225600042000000n,
      scope: { name: '@opentelemetry/instrumentation-http', version: '0.301.0' },
    });
    expect(server?.parentSpanId).toBeUndefined();
    expect(server?.attributes).toEqual({
      'http.request.method': 'GET',
      'http.route': '/articles/:id',
      'url.path': '/articles/17',
      'http.response.status_code': 200,
      'http.request.header.accept': ['application/json'],
    });
    expect(server?.resource).toEqual({ 'service.name': 'blog-api', 'host.name': 'web-1', 'process.pid': 4711 });
    expect(firstQuery).toMatchObject({ kind: 'client', parentSpanId: '00f067aa0ba902b7', status: { code: 'unset' } });
    expect(secondQuery?.status).toEqual({ code: 'error', message: 'statement timeout' });
    expect(secondQuery?.attributes).toMatchObject({
      'db.response.returned_rows': 12,
      'sample.ratio': 0.25,
      'sample.flag': true,
    });
    expect(secondQuery?.events).toEqual([
      { name: 'exception', timeNs: 1767225600029000000n, attributes: { 'exception.message': 'statement timeout' } },
    ]);
    expect(cache).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: 'bbbbbbbbbbbbbbbb',
      parentSpanId: '00f067aa0ba902b7',
      serviceName: 'recommendations',
      kind: 'client',
      links: [
        {
          traceId: '0af7651916cd43dd8448eb211c80319c',
          spanId: 'b7ad6b7169203331',
          attributes: { 'link.reason': 'cache fill' },
        },
      ],
    });
    expect(cache?.scope).toEqual({ name: '@opentelemetry/instrumentation-ioredis' });
  });

  it('reads the Collector file exporter format, one export request per line', () => {
    const { format, spans } = parseTraceFile(read('otlp-lines.sample.json'));
    expect(format).toBe('otlp-jsonl');
    expect(spans.map((s) => [s.serviceName, s.kind, s.name])).toEqual([
      ['checkout', 'producer', 'orders publish'],
      ['worker', 'consumer', 'orders process'],
    ]);
    expect(spans[1]?.links[0]).toEqual({
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      attributes: {},
    });
    expect(spans[1]?.status).toEqual({ code: 'ok' });
  });

  it('reads Jaeger JSON, mapping span.kind, error and otel.* tags and logs onto the span model', () => {
    const { format, spans } = parseTraceFile(read('jaeger.sample.json'));
    expect(format).toBe('jaeger');
    const [server, query] = spans;
    expect(server).toMatchObject({
      traceId: '00000000000000007b3bf470e24a1b2c',
      kind: 'server',
      serviceName: 'frontend',
      startTimeNs: 1767225602000000000n,
      endTimeNs: 1767225602120000000n,
      attributes: { 'http.method': 'GET', 'http.status_code': 200 },
      resource: { 'service.name': 'frontend', hostname: 'fe-1' },
      scope: { name: 'net/http' },
    });
    expect(server?.attributes).not.toHaveProperty('span.kind');
    expect(query).toMatchObject({
      parentSpanId: '7b3bf470e24a1b2c',
      kind: 'client',
      serviceName: 'customer',
      status: { code: 'error', message: 'deadlock found' },
      events: [{ name: 'error', timeNs: 1767225602084000000n, attributes: { message: 'deadlock found' } }],
    });
    expect(query?.attributes).toEqual({ 'db.system': 'mysql' });
  });

  it('reads Zipkin v2 JSON and splits a shared client/server span id into a parent and a child', () => {
    const { format, spans } = parseTraceFile(read('zipkin.sample.json'));
    expect(format).toBe('zipkin');
    expect(spans).toHaveLength(4);
    const [root, client, server, query] = spans;
    expect(root).toMatchObject({
      traceId: '000000000000000086154a4ba6e91385',
      kind: 'server',
      status: { code: 'error', message: 'upstream failed' },
      attributes: { 'http.status_code': 500, 'http.path': '/api' },
    });
    expect(client).toMatchObject({
      spanId: '4d1e00c0db9010db',
      parentSpanId: '86154a4ba6e91385',
      attributes: { 'peer.service': 'backend', 'server.address': 'backend', 'network.peer.port': 9000 },
      events: [{ name: 'wire send', timeNs: 1767225603003000000n, attributes: {} }],
    });
    expect(server?.serviceName).toBe('backend');
    expect(server?.parentSpanId).toBe('4d1e00c0db9010db');
    expect(server?.spanId).not.toBe('4d1e00c0db9010db');
    expect(query?.parentSpanId).toBe(server?.spanId);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(4);
  });

  it('calls a one-line .jsonl file JSON lines', () => {
    const [firstLine] = read('otlp-lines.sample.json').split('\n');
    expect(parseTraceFile(firstLine as string, { fileName: 'spans.jsonl' }).format).toBe('otlp-jsonl');
    expect(parseTraceFile(firstLine as string, { fileName: 'spans.json' }).format).toBe('otlp-json');
  });

  it('names the JSON path of a malformed field', () => {
    const document = JSON.parse(read('jaeger.sample.json'));
    document.data[0].spans[1].startTime = 'soon';
    const error = errorOf(() => parseTraceFile(JSON.stringify(document), { fileName: 'trace.json' }));
    expect(error.place).toBe('data[0].spans[1].startTime');
    expect(error.message).toBe('trace.json: at data[0].spans[1].startTime: expected a number, found string "soon"');
  });

  it('names the OTLP path of a bad id', () => {
    const document = JSON.parse(read('otlp.sample.json'));
    document.resourceSpans[0].scopeSpans[1].spans[0].traceId = 'xyz';
    const error = errorOf(() => parseTraceFile(JSON.stringify(document)));
    expect(error.place).toBe('resourceSpans[0].scopeSpans[1].spans[0].traceId');
  });

  it('names the line of a malformed JSON-lines record', () => {
    const lines = read('otlp-lines.sample.json').trimEnd().split('\n');
    const broken = [lines[0], lines[1]?.replace('"startTimeUnixNano":"1767225601004000000"', '"startTimeUnixNano":{}')];
    const error = errorOf(() => parseTraceFile(broken.join('\n'), { fileName: 'spans.jsonl' }));
    expect(error.place).toBe('line 2, resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano');
    const truncated = errorOf(() => parseTraceFile(`${lines[0]}\n{"resourceSpans": [`));
    expect(truncated.place).toBe('line 2');
    expect(truncated.message).toMatch(/^at line 2: invalid JSON/);
  });

  it('rejects unknown formats, invalid JSON and empty files with a clear message', () => {
    expect(() => parseTraceFile('{"hello": "world"}')).toThrow(/unrecognised trace format: expected OTLP JSON/);
    expect(() => parseTraceFile('{"resourceSpans": [', { fileName: 'x.json' })).toThrow(/^x\.json: invalid JSON/);
    expect(() => parseTraceFile('  \n')).toThrow('the file is empty');
  });

  it('imports every public fixture without losing a span', () => {
    const cases: [string, string, number][] = [
      ['public/otlp/opentelemetry-proto-example-trace.json', 'otlp-json', 1],
      ['public/otlp/jaeger-integration-example-trace.json', 'otlp-json', -1],
      ['public/otlp/jaeger-api-v3-hotrod-dispatch.json', 'otlp-json', 40],
      ['public/jaeger/jaeger-ui-01.json', 'jaeger', 4],
      ['public/zipkin/yelp.json', 'zipkin', -1],
      ['public/zipkin/simple-db-p6.json', 'zipkin', -1],
      ['public/zipkin/skew.json', 'zipkin', -1],
    ];
    for (const [file, expectedFormat, expectedSpans] of cases) {
      const text = read(file);
      const { format, spans } = parseTraceFile(text, { fileName: file });
      expect(format, file).toBe(expectedFormat);
      const sourceCount = expectedSpans >= 0 ? expectedSpans : (text.match(/"(spanId|id)"\s*:/g) ?? []).length;
      expect(spans.length, file).toBe(sourceCount);
      for (const span of spans) {
        expect(span.traceId, file).toMatch(/^[0-9a-f]{32}$/);
        expect(span.spanId, file).toMatch(/^[0-9a-f]{16}$/);
        expect(typeof span.startTimeNs, file).toBe('bigint');
      }
    }
  });

  it('keeps the first of two Jaeger spans with the same id and warns about the second', () => {
    const { spans, warnings } = parseTraceFile(read('public/jaeger/jaeger-ui-01.json'));
    expect(spans.filter((s) => s.spanId === '0000000000000002').map((s) => s.name)).toEqual([
      'test-general-conversion',
    ]);
    expect(warnings).toEqual([
      'spans[1]: duplicate span id 0000000000000002 in trace 00000000000000000000000000000001; kept the first',
    ]);
    const crossTrace = spans.find((s) => s.name === 'reference-test');
    expect(crossTrace?.parentSpanId).toBe('0000000000000002');
    expect(crossTrace?.links.map((l) => l.traceId)).toContain('000000000000000000000000000000ff');
  });
});
