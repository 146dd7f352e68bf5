import { readFileSync } from 'node:fs';
import { buildSpanTree } from '@lifeline/core';
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

  it('imports the rest of a Jaeger file and names the JSON path of a malformed field', () => {
    const document = JSON.parse(read('jaeger.sample.json'));
    document.data[0].spans[1].startTime = 'soon';
    const { spans, problems, rejectedSpans } = parseTraceFile(JSON.stringify(document), { fileName: 'trace.json' });
    expect(spans.map((s) => s.spanId)).toEqual(['7b3bf470e24a1b2c']);
    expect(problems).toEqual([
      { place: 'data[0].spans[1].startTime', problem: 'expected a number, found string "soon"', rejectedSpans: 1 },
    ]);
    expect(rejectedSpans).toBe(1);
  });

  it('skips a span whose time no clock writes (before 1970, beyond 2^63 ns, hex text) in every format and names it', () => {
    const otlp = JSON.parse(read('otlp.sample.json'));
    otlp.resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano = `1${'0'.repeat(30)}`;
    otlp.resourceSpans[0].scopeSpans[1].spans[1].endTimeUnixNano = '0x10';
    const fromOtlp = parseTraceFile(JSON.stringify(otlp), { fileName: 'trace.json' });
    expect(fromOtlp.spans).toHaveLength(2);
    expect(fromOtlp.problems.map((p) => p.place)).toEqual([
      'resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano',
      'resourceSpans[0].scopeSpans[1].spans[1].endTimeUnixNano',
    ]);
    expect(fromOtlp.problems[0]?.problem).toMatch(/out of range/);

    const jaeger = JSON.parse(read('jaeger.sample.json'));
    jaeger.data[0].spans[1].startTime = -5;
    const fromJaeger = parseTraceFile(JSON.stringify(jaeger), { fileName: 'trace.json' });
    expect(fromJaeger.problems).toEqual([
      {
        place: 'data[0].spans[1].startTime',
        problem: expect.stringMatching(/^time number -5 is out of range/),
        rejectedSpans: 1,
      },
    ]);

    const zipkin = JSON.parse(read('zipkin.sample.json'));
    zipkin[0].duration = 9.3e18 / 1000;
    const fromZipkin = parseTraceFile(JSON.stringify(zipkin), { fileName: 'trace.json' });
    expect(fromZipkin.problems.map((p) => p.place)).toEqual(['[0].duration']);
    expect(fromZipkin.rejectedSpans).toBe(1);
  });

  it('skips a span without a start time (absent or 0) and names the field, in every format', () => {
    const otlp = JSON.parse(read('otlp.sample.json'));
    otlp.resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano = '0';
    delete otlp.resourceSpans[0].scopeSpans[1].spans[1].startTimeUnixNano;
    const fromOtlp = parseTraceFile(JSON.stringify(otlp), { fileName: 'trace.json' });
    expect(fromOtlp.spans).toHaveLength(2);
    expect(fromOtlp.warnings).toEqual([]);
    expect(fromOtlp.problems).toEqual([
      {
        place: 'resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano',
        problem: 'a start time of 0 means none was recorded: the span cannot be placed in time',
        rejectedSpans: 1,
      },
      {
        place: 'resourceSpans[0].scopeSpans[1].spans[1].startTimeUnixNano',
        problem: 'the span has no start time',
        rejectedSpans: 1,
      },
    ]);

    const jaeger = JSON.parse(read('jaeger.sample.json'));
    jaeger.data[0].spans[1].startTime = 0;
    const fromJaeger = parseTraceFile(JSON.stringify(jaeger), { fileName: 'trace.json' });
    expect(fromJaeger.problems.map((p) => [p.place, p.problem])).toEqual([
      ['data[0].spans[1].startTime', 'a start time of 0 means none was recorded: the span cannot be placed in time'],
    ]);

    const zipkin = JSON.parse(read('zipkin.sample.json'));
    zipkin[0].timestamp = 0;
    expect(parseTraceFile(JSON.stringify(zipkin)).problems.map((p) => p.place)).toEqual(['[0].timestamp']);
  });

  it('gives a skipped span of an unknown kind one message, its problem, in every format', () => {
    const otlp = JSON.parse(read('otlp.sample.json'));
    Object.assign(otlp.resourceSpans[0].scopeSpans[1].spans[0], {
      kind: 'SPAN_KIND_SIDEWAYS',
      startTimeUnixNano: 'soon',
    });
    const fromOtlp = parseTraceFile(JSON.stringify(otlp));
    expect(fromOtlp.problems.map((p) => p.place)).toEqual([
      'resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano',
    ]);
    expect(fromOtlp.warnings).toEqual([]);

    const jaeger = JSON.parse(read('jaeger.sample.json'));
    const tags = jaeger.data[0].spans[1].tags as { key: string; value: unknown }[];
    tags.splice(0, tags.length, ...tags.filter((tag) => tag.key !== 'span.kind'), {
      key: 'span.kind',
      value: 'sideways',
    });
    jaeger.data[0].spans[1].duration = 9.3e18 / 1000;
    const fromJaeger = parseTraceFile(JSON.stringify(jaeger));
    expect(fromJaeger.problems.map((p) => p.place)).toEqual(['data[0].spans[1].duration']);
    expect(fromJaeger.warnings).toEqual([]);

    const zipkin = JSON.parse(read('zipkin.sample.json'));
    Object.assign(zipkin[0], { kind: 'SIDEWAYS', timestamp: 'soon' });
    const fromZipkin = parseTraceFile(JSON.stringify(zipkin));
    expect(fromZipkin.problems.map((p) => p.place)).toEqual(['[0].timestamp']);
    expect(fromZipkin.warnings).toEqual([]);
  });

  it('pads short hex ids with a warning and skips spans with all-zero ids, naming them, in every format', () => {
    const otlp = JSON.parse(read('otlp.sample.json'));
    const [first, second] = otlp.resourceSpans[0].scopeSpans[1].spans;
    first.traceId = first.traceId.slice(1);
    second.spanId = '0'.repeat(16);
    const fromOtlp = parseTraceFile(JSON.stringify(otlp), { fileName: 'trace.json' });
    expect(fromOtlp.spans).toHaveLength(3);
    expect(fromOtlp.spans.find((s) => s.name === first.name)?.traceId).toBe(`0${first.traceId}`);
    expect(fromOtlp.warnings).toContain(
      `1 trace id was shorter than 32 hex digits (e.g. ${JSON.stringify(first.traceId)}): left-padded with zeros`,
    );
    expect(fromOtlp.problems).toEqual([
      {
        place: 'resourceSpans[0].scopeSpans[1].spans[1].spanId',
        problem: 'an all-zero span id is invalid (W3C Trace Context, OTLP)',
        rejectedSpans: 1,
      },
    ]);

    const jaeger = JSON.parse(read('jaeger.sample.json'));
    jaeger.data[0].spans[1].spanID = 'ab';
    jaeger.data[0].spans[0].traceID = '0'.repeat(32);
    const fromJaeger = parseTraceFile(JSON.stringify(jaeger), { fileName: 'trace.json' });
    expect(fromJaeger.problems.map((p) => p.place)).toEqual(['data[0].spans[0].traceID']);
    expect(fromJaeger.warnings.some((w) => w.startsWith('1 span id was shorter than 16 hex digits ("ab")'))).toBe(
      false,
    );
    expect(fromJaeger.warnings).toContain(
      '1 span id was shorter than 16 hex digits (e.g. "ab"): left-padded with zeros',
    );

    const zipkin = JSON.parse(read('zipkin.sample.json'));
    zipkin[1].id = '0000000000000000';
    const fromZipkin = parseTraceFile(JSON.stringify(zipkin), { fileName: 'trace.json' });
    expect(fromZipkin.problems.map((p) => p.place)).toEqual(['[1].id']);
  });

  it('keeps spans with NaN or infinite doubles from OTLP and Jaeger files, the values as text', () => {
    const otlp = JSON.parse(read('otlp.sample.json'));
    otlp.resourceSpans[0].scopeSpans[0].spans[0].attributes.push(
      { key: 'ratio', value: { doubleValue: 'NaN' } },
      { key: 'ceiling', value: { doubleValue: '-Infinity' } },
    );
    const fromOtlp = parseTraceFile(JSON.stringify(otlp));
    expect(fromOtlp.problems).toEqual([]);
    expect(fromOtlp.spans[0]?.attributes).toMatchObject({
      ratio: 'NaN',
      ceiling: '-Infinity',
      'lifeline.import.non_finite_attributes': ['ratio', 'ceiling'],
    });

    const jaeger = JSON.parse(read('jaeger.sample.json'));
    jaeger.data[0].spans[0].tags.push({ key: 'ratio', type: 'float64', value: 'NaN' });
    const fromJaeger = parseTraceFile(JSON.stringify(jaeger));
    expect(fromJaeger.problems).toEqual([]);
    const marked = fromJaeger.spans.find((s) => s.attributes.ratio !== undefined);
    expect(marked?.attributes.ratio).toBe('NaN');
    expect(marked?.attributes['lifeline.import.non_finite_attributes']).toEqual(['ratio']);
    // The trace page and the diagram say so, where the tree's other notes appear.
    expect(buildSpanTree({ traceId: marked?.traceId ?? '', spans: fromJaeger.spans }).notes).toContain(
      '1 span has a double attribute that is NaN or ±Infinity ("ratio"): kept as the text "NaN", "Infinity" or "-Infinity"',
    );
  });

  it('imports the valid spans of an OTLP file and reports the skipped spans and resources, like partial success', () => {
    const { spans, problems, rejectedSpans, warnings } = parseTraceFile(read('cases/otlp-bad-values.json'));
    // An unknown kind loses nothing: the span is read as SPAN_KIND_UNSPECIFIED, with a warning.
    expect(spans.map((s) => s.name)).toEqual(['GET /products/:id', 'SELECT prices', 'GET', 'HGET']);
    expect(spans.at(-1)?.kind).toBe('internal');
    expect(spans.at(-1)?.attributes['lifeline.import.unknown_span_kind']).toBe('SPAN_KIND_SIDEWAYS');
    expect(warnings).toContain(
      '1 span has an unknown span kind ("SPAN_KIND_SIDEWAYS"): imported as SPAN_KIND_UNSPECIFIED, drawn as internal',
    );
    expect(problems).toEqual([
      {
        place: 'resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano',
        problem: 'expected a number, found string "soon"',
        rejectedSpans: 1,
      },
      {
        place: 'resourceSpans[1].resource.attributes',
        problem: 'expected an array, found string "oops"',
        rejectedSpans: 2,
      },
    ]);
    expect(rejectedSpans).toBe(3);
  });

  it('imports the other lines of a JSON-lines file and names the line of each bad one', () => {
    const lines = read('otlp-lines.sample.json').trimEnd().split('\n');
    const broken = [lines[0], lines[1]?.replace('"startTimeUnixNano":"1767225601004000000"', '"startTimeUnixNano":{}')];
    const { spans, problems } = parseTraceFile(broken.join('\n'), { fileName: 'spans.jsonl' });
    expect(spans.map((s) => s.name)).toEqual(['orders publish']);
    expect(problems.map((p) => p.place)).toEqual(['line 2, resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano']);
    const truncated = parseTraceFile(read('cases/collector-truncated.jsonl'));
    expect(truncated.format).toBe('otlp-jsonl');
    expect(truncated.spans.map((s) => s.name)).toEqual(['POST /invoices', 'INSERT billing.invoices']);
    expect(truncated.problems.map((p) => [p.place, p.problem.replace(/ \(.*/, '')])).toEqual([
      ['line 2', 'expected an OTLP export request'],
      ['line 4', 'not complete JSON'],
    ]);
    // Its spans are lost uncounted; the last line cut short is named as the end of the file.
    expect(truncated.problems[1]).toEqual({
      place: 'line 4',
      problem: 'not complete JSON (the file may have been cut off); its spans were not imported',
      rejectedSpans: 0,
      unknownSpans: true,
    });
    const middle = parseTraceFile(`${lines[0]}\n${lines[0]?.slice(0, 40)}\n${lines[1]}\n{"resourceSpans": nope}\n`);
    expect(middle.problems.map((p) => [p.place, p.problem.replace(/ \(.*\)/, '')])).toEqual([
      ['line 2', 'not complete JSON; its spans were not imported'],
      ['line 4', 'invalid JSON; its spans were not imported'],
    ]);
  });

  it('imports the trace lines of a Collector file export mixing traces, metrics and logs, and counts the others', () => {
    const { format, spans, problems, skippedSignals } = parseTraceFile(read('cases/collector-mixed-signals.jsonl'));
    expect(format).toBe('otlp-jsonl');
    expect(problems).toEqual([]);
    expect(skippedSignals).toEqual({ metrics: 2, logs: 1 });
    expect(spans.map((s) => [s.kind, s.name, s.parentSpanId])).toEqual([
      ['server', 'POST /invoices', undefined],
      ['client', 'INSERT billing.invoices', 'b7ad6b7169203331'],
    ]);
  });

  it('gives ids that are not hex hashed ids, keeps the originals and the parent links, and notes it', () => {
    const { spans, warnings, problems } = parseTraceFile(read('cases/jaeger-non-hex-ids.json'));
    expect(problems).toEqual([]);
    expect(spans).toHaveLength(4);
    const [server, client, avatars, redis] = spans;
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(server?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(client?.parentSpanId).toBe(server?.spanId);
    expect(avatars?.spanId).toBe('0000000000000abc');
    expect(avatars?.parentSpanId).toBe(client?.spanId);
    expect(redis?.parentSpanId).toBe('0000000000000abc');
    expect(server?.attributes).toMatchObject({
      'lifeline.import.original_trace_id': 'trace-1',
      'lifeline.import.original_span_id': 'span-a',
    });
    expect(avatars?.attributes).not.toHaveProperty('lifeline.import.original_span_id');
    expect(redis?.attributes['lifeline.import.original_span_id']).toBe('0123456789abcdef0123');
    expect(warnings).toEqual([
      '1 trace id was not a valid id (e.g. "trace-1"): replaced by ids hashed from their text; the originals are kept in lifeline.import.original_trace_id',
      '3 span ids were not valid ids (e.g. "span-a"): replaced by ids hashed from their text; the originals are kept in lifeline.import.original_span_id',
      '1 span id was shorter than 16 hex digits (e.g. "abc"): left-padded with zeros',
    ]);
    // The same file gives the same ids every time.
    expect(parseTraceFile(read('cases/jaeger-non-hex-ids.json')).spans).toEqual(spans);
  });

  it('maps ids that are not hex in OTLP and Zipkin files the same way', () => {
    const otlp = parseTraceFile(
      JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  { traceId: 'trace-1', spanId: 'span-a', startTimeUnixNano: 1 },
                  { traceId: 'trace-1', spanId: 'span-b', parentSpanId: 'span-a', startTimeUnixNano: 2 },
                ],
              },
            ],
          },
        ],
      }),
    );
    const zipkin = parseTraceFile(
      JSON.stringify([
        { traceId: 'trace-1', id: 'span-a', timestamp: 1 },
        { traceId: 'trace-1', id: 'span-b', parentId: 'span-a', timestamp: 2 },
      ]),
    );
    for (const { spans } of [otlp, zipkin]) {
      expect(spans[1]?.parentSpanId).toBe(spans[0]?.spanId);
      expect(spans[0]?.attributes['lifeline.import.original_span_id']).toBe('span-a');
    }
    expect(zipkin.spans.map((s) => [s.traceId, s.spanId])).toEqual(otlp.spans.map((s) => [s.traceId, s.spanId]));
  });

  it('rejects unknown formats, invalid JSON and empty files with a clear message', () => {
    expect(() => parseTraceFile('{"hello": "world"}')).toThrow(/unrecognised trace format: expected OTLP JSON/);
    expect(() => parseTraceFile('{"hello": "world"}')).toThrow(
      /Grafana Tempo JSON .*Jaeger JSON .*Zipkin v2 or v1 JSON/,
    );
    expect(() => parseTraceFile('{"resourceSpans": [', { fileName: 'x.json' })).toThrow(/^x\.json: invalid JSON/);
    expect(() => parseTraceFile('  \n')).toThrow('the file is empty');
  });

  it('imports every public fixture without losing a span', () => {
    const cases: [string, string, number][] = [
      ['public/otlp/opentelemetry-proto-example-trace.json', 'otlp-json', 1],
      ['public/otlp/jaeger-integration-example-trace.json', 'otlp-json', -1],
      ['public/otlp/jaeger-api-v3-hotrod-dispatch.json', 'otlp-json', 40],
      ['public/jaeger/jaeger-ui-01.json', 'jaeger', 5],
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

  it('hands both Jaeger spans with the same id to the store, which keeps the first and counts the other', () => {
    const { spans, warnings } = parseTraceFile(read('public/jaeger/jaeger-ui-01.json'));
    // The second, a different span under the same id, is for the store to count (see the CLI's import line).
    expect(spans.filter((s) => s.spanId === '0000000000000002').map((s) => s.name)).toEqual([
      'test-general-conversion',
      'some-operation',
    ]);
    expect(warnings).toEqual([]);
    const crossTrace = spans.find((s) => s.name === 'reference-test');
    expect(crossTrace?.parentSpanId).toBe('0000000000000002');
    expect(crossTrace?.links.map((l) => l.traceId)).toContain('000000000000000000000000000000ff');
  });

  it('detects every format from its content alone, whatever the file is called', () => {
    const cases: [string, string][] = [
      ['otlp.sample.json', 'otlp-json'],
      ['otlp-lines.sample.json', 'otlp-jsonl'],
      ['jaeger.sample.json', 'jaeger'],
      ['zipkin.sample.json', 'zipkin'],
      ['public/otlp/jaeger-api-v3-hotrod-dispatch.json', 'otlp-json'],
      ['public/jaeger/jaeger-ui-01.json', 'jaeger'],
      ['cases/tempo-batches.json', 'tempo'],
      ['cases/tempo-api-v2.json', 'tempo'],
      ['cases/tempo-instrumentation-library.json', 'tempo'],
      ['cases/collector-mixed-signals.jsonl', 'otlp-jsonl'],
      ['cases/jaeger-non-hex-ids.json', 'jaeger'],
      ['cases/zipkin-shared-id-without-flag.json', 'zipkin'],
    ];
    for (const [file, format] of cases) {
      expect(parseTraceFile(read(file), { fileName: 'trace.txt' }).format, file).toBe(format);
    }
    // Empty containers of each format are still told apart.
    expect(parseTraceFile('{"data": []}').format).toBe('jaeger');
    expect(parseTraceFile('[]').format).toBe('zipkin');
    expect(parseTraceFile('{"batches": []}').format).toBe('tempo');
    expect(parseTraceFile('{"resourceSpans": []}').format).toBe('otlp-json');
  });

  it.each([
    ['{"resourceMetrics": []}', /this is OpenTelemetry metrics \(resourceMetrics\), not traces/],
    ['{"resourceLogs": []}', /this is OpenTelemetry logs \(resourceLogs\), not traces/],
    ['{"traces": [{"scopeSpans": []}]}', /"traces" holds what looks like OTLP ResourceSpans/],
    ['{"response": {"resourceSpans": []}}', /"response" holds an OTLP request/],
    ['[{"traceID": "1", "spans": []}]', /a list of Jaeger traces: Lifeline reads them as \{"data"/],
    ['[{"traceID": "1", "spanID": "2"}]', /a list of Jaeger spans/],
    ['[{"traceId": "1", "spanId": "2"}]', /a list of OTLP spans: wrap them/],
    ['[{"resource": {}, "scopeSpans": []}]', /a list of OTLP ResourceSpans: wrap it as \{"resourceSpans"/],
    ['{"data": [{"id": 1}]}', /"data" is there but does not hold Jaeger traces/],
  ])('refuses %s with the formats it reads and a hint', (text, hint) => {
    const error = errorOf(() => parseTraceFile(text, { fileName: 'x.json' }));
    expect(error.message).toMatch(/^x\.json: unrecognised trace format: expected OTLP JSON/);
    expect(error.message).toMatch(hint);
  });
});

describe('Jaeger spans sharing a span id (Zipkin-instrumented services)', () => {
  const tag = (key: string, value: string) => ({ key, type: 'string', value });
  const span = (spanID: string, kind: string, service: string, parent?: string) => ({
    traceID: 'a1b2c3d4e5f60718',
    spanID,
    operationName: `${service} ${kind}`,
    references: parent === undefined ? [] : [{ refType: 'CHILD_OF', traceID: 'a1b2c3d4e5f60718', spanID: parent }],
    startTime: 1767225600000000,
    duration: 1000,
    tags: [tag('span.kind', kind)],
    processID: service,
  });
  const trace = (spans: object[]) =>
    JSON.stringify({
      data: [
        {
          traceID: 'a1b2c3d4e5f60718',
          spans,
          processes: { frontend: { serviceName: 'frontend' }, pricing: { serviceName: 'pricing' } },
        },
      ],
    });

  it.each([
    ['client first', ['client', 'server']],
    ['server first', ['server', 'client']],
  ])('gives the server half its own id under the client half (%s), and its children follow it', (_, order) => {
    const halves = order.map((kind) =>
      kind === 'client'
        ? span('1111111111111111', 'client', 'frontend', 'a1b2c3d4e5f60718')
        : span('1111111111111111', 'server', 'pricing', 'a1b2c3d4e5f60718'),
    );
    const { spans, warnings } = parseTraceFile(
      trace([
        span('a1b2c3d4e5f60718', 'server', 'frontend'),
        ...halves,
        span('2222222222222222', 'client', 'pricing', '1111111111111111'),
      ]),
    );
    expect(warnings).toEqual([]);
    const byName = new Map(spans.map((s) => [s.name, s]));
    const server = byName.get('pricing server');
    expect(byName.get('frontend client')?.spanId).toBe('1111111111111111');
    expect(server?.spanId).not.toBe('1111111111111111');
    expect(server?.parentSpanId).toBe('1111111111111111');
    expect(server?.attributes['zipkin.shared_span_id']).toBe('1111111111111111');
    expect(byName.get('pricing client')?.parentSpanId).toBe(server?.spanId);
  });
});

describe('odd but valid shapes', () => {
  it('reads an all-zero parent id as no parent, as W3C Trace Context defines it', () => {
    const otlp = parseTraceFile(
      JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              { spans: [{ traceId: '01', spanId: '02', parentSpanId: '0000000000000000', startTimeUnixNano: 1 }] },
            ],
          },
        ],
      }),
    );
    const zipkin = parseTraceFile(
      JSON.stringify([{ traceId: '01', id: '02', parentId: '0000000000000000', timestamp: 1 }]),
    );
    const jaeger = parseTraceFile(
      JSON.stringify({
        traceID: '01',
        spans: [
          {
            traceID: '01',
            spanID: '02',
            startTime: 1,
            references: [{ refType: 'CHILD_OF', traceID: '01', spanID: '0000000000000000' }],
          },
        ],
      }),
    );
    for (const { spans } of [otlp, zipkin, jaeger]) {
      expect(spans).toHaveLength(1);
      expect(spans[0]?.parentSpanId).toBeUndefined();
      expect(spans[0]?.links).toEqual([]);
    }
  });

  it('reads Jaeger\'s streamed API v3 answer, one {"result": …} chunk per line', () => {
    const request = JSON.parse(read('public/otlp/jaeger-api-v3-hotrod-dispatch.json')).result;
    const half = Math.floor(request.resourceSpans.length / 2);
    const lines = [
      { result: { resourceSpans: request.resourceSpans.slice(0, half) } },
      { result: { resourceSpans: request.resourceSpans.slice(half) } },
    ].map((chunk) => JSON.stringify(chunk));
    lines[1] = (lines[1] as string).replace(/"startTimeUnixNano":"\d+"/, '"startTimeUnixNano":"soon"');
    const { format, spans, problems } = parseTraceFile(lines.join('\n'));
    expect(format).toBe('otlp-jsonl');
    expect(spans).toHaveLength(39);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.place).toMatch(
      /^line 2, result\.resourceSpans\[\d+\]\.scopeSpans\[\d+\]\.spans\[\d+\]\.startTimeUnixNano$/,
    );
  });

  it('says a Tempo search result holds no spans and where to get them', () => {
    const search = JSON.stringify({
      traces: [{ traceID: '2f3e0cee77ae5dc9c17ade3689eb2e54', rootServiceName: 'shop' }],
    });
    expect(() => parseTraceFile(search)).toThrow(/Hint: this is a Tempo search result .*\/api\/traces\/<traceID>/);
  });
});

describe('OTLP spans sharing a span id (Zipkin data passed through a Collector)', () => {
  const attrs = (values: Record<string, string>) =>
    Object.entries(values).map(([key, value]) => ({ key, value: { stringValue: value } }));
  const span = (spanId: string, kind: number, name: string, parentSpanId: string, startMs: number) => ({
    traceId: 'a1b2c3d4e5f60718a1b2c3d4e5f60718',
    spanId,
    parentSpanId,
    name,
    kind,
    startTimeUnixNano: String(1_767_225_600_000_000_000n + BigInt(startMs) * 1_000_000n),
    endTimeUnixNano: String(1_767_225_600_000_000_000n + BigInt(startMs + 10) * 1_000_000n),
    attributes: attrs({}),
  });
  const resource = (service: string, spans: object[]) => ({
    resource: { attributes: attrs({ 'service.name': service }) },
    scopeSpans: [{ spans }],
  });

  it.each([
    ['client first', true],
    ['server first', false],
  ])('keeps both halves: the server half gets its own id under the client (%s)', (_, clientFirst) => {
    const client = resource('frontend', [
      span('a1b2c3d4e5f60718', 2, 'GET /checkout', '', 0),
      span('1111111111111111', 3, 'GET', 'a1b2c3d4e5f60718', 1),
    ]);
    const server = resource('pricing', [
      span('1111111111111111', 2, 'GET /price', 'a1b2c3d4e5f60718', 2),
      span('2222222222222222', 3, 'SELECT prices', '1111111111111111', 3),
    ]);
    const { spans, warnings } = parseTraceFile(
      JSON.stringify({ resourceSpans: clientFirst ? [client, server] : [server, client] }),
    );
    expect(spans).toHaveLength(4);
    expect(warnings).toEqual([
      "1 server span shares the span id of the client span that called it (Zipkin's shared spans): each server half gets an id of its own, under its client",
    ]);
    const byName = new Map(spans.map((s) => [s.name, s]));
    const half = byName.get('GET /price');
    expect(byName.get('GET')?.spanId).toBe('1111111111111111');
    expect(half?.spanId).not.toBe('1111111111111111');
    expect(half?.parentSpanId).toBe('1111111111111111');
    expect(half?.attributes['zipkin.shared_span_id']).toBe('1111111111111111');
    expect(byName.get('SELECT prices')?.parentSpanId).toBe(half?.spanId);
  });
});
