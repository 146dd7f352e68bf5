import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DocumentBatch, type ReadDocumentOptions, readDocumentBatches } from './json-document.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-json-document-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batchesOf(text: string, options: ReadDocumentOptions = {}) {
  const path = join(dir, `doc-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, text);
  const batches: DocumentBatch[] = [];
  const stats = readDocumentBatches(path, (batch) => batches.push(batch), options);
  return { batches, stats };
}

const resource = (n: number) => ({
  resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${n}` } }] },
  scopeSpans: [{ scope: { name: 'lib' }, spans: [{ spanId: `${n}a` }, { spanId: `${n}b` }] }],
});

type Otlp = { resourceSpans: { resource?: unknown; scopeSpans: { scope?: unknown; spans: { spanId: string }[] }[] }[] };

/** Each span of the batches with the service and scope it was wrapped with. */
function otlpSpans(batches: readonly DocumentBatch[]): string[] {
  return batches.flatMap((batch) =>
    (batch.document as Otlp).resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) =>
        ss.spans.map(
          (span) =>
            `${JSON.stringify((rs.resource as { attributes?: { value: { stringValue: string } }[] } | undefined)?.attributes?.[0]?.value.stringValue)}/${JSON.stringify((ss.scope as { name?: string } | undefined)?.name)}/${span.spanId}`,
        ),
      ),
    ),
  );
}

describe('readDocumentBatches', () => {
  it('hands on the spans of an OTLP document in batches of the asked size, with their resource and scope, in order', () => {
    const document = { resourceSpans: Array.from({ length: 25 }, (_, n) => resource(n)) };
    // Small chunks: values are split across reads.
    const { batches, stats } = batchesOf(JSON.stringify(document), { chunkBytes: 7, batchSpans: 10 });
    expect(stats).toMatchObject({ parts: 50, batches: 5, passes: 1 });
    expect(batches.map((b) => [b.place, b.spans])).toEqual([
      ['resourceSpans[0].scopeSpans[0].spans[0]', 10],
      ['resourceSpans[5].scopeSpans[0].spans[0]', 10],
      ['resourceSpans[10].scopeSpans[0].spans[0]', 10],
      ['resourceSpans[15].scopeSpans[0].spans[0]', 10],
      ['resourceSpans[20].scopeSpans[0].spans[0]', 10],
    ]);
    const joined = batches.flatMap((b) => (b.document as Otlp).resourceSpans);
    expect(joined).toEqual(document.resourceSpans);
  });

  it('splits one resource of many spans into batches, each with the resource and scope, and names places in the file', () => {
    const spans = Array.from({ length: 45 }, (_, n) => ({ spanId: `s${n}` }));
    const document = {
      resourceSpans: [
        resource(0),
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'big' } }] },
          schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
          scopeSpans: [
            { scope: { name: 'one' }, spans: spans.slice(0, 30) },
            { scope: { name: 'two' }, spans: spans.slice(30, 38) },
            { scope: { name: 'three' }, spans: spans.slice(38) },
          ],
        },
      ],
    };
    const { batches, stats } = batchesOf(JSON.stringify(document), { chunkBytes: 64, batchSpans: 10 });
    // Cut where a scope ends once a batch is full, else at twice the size.
    expect(stats).toMatchObject({ parts: 47, batches: 3, passes: 1 });
    expect(stats?.peakHeldSpans).toBeLessThanOrEqual(20);
    expect(batches.map((b) => [b.place, b.spans])).toEqual([
      ['resourceSpans[0].scopeSpans[0].spans[0]', 20],
      ['resourceSpans[1].scopeSpans[0].spans[18]', 12],
      ['resourceSpans[1].scopeSpans[1].spans[0]', 15],
    ]);
    expect(otlpSpans(batches)).toEqual([
      '"svc-0"/"lib"/0a',
      '"svc-0"/"lib"/0b',
      ...spans.slice(0, 30).map((s) => `"big"/"one"/${s.spanId}`),
      ...spans.slice(30, 38).map((s) => `"big"/"two"/${s.spanId}`),
      ...spans.slice(38).map((s) => `"big"/"three"/${s.spanId}`),
    ]);
    const [, second, third] = batches as [DocumentBatch, DocumentBatch, DocumentBatch];
    expect((third.document as { resourceSpans: { schemaUrl?: string }[] }).resourceSpans[0]?.schemaUrl).toBe(
      'https://opentelemetry.io/schemas/1.21.0',
    );
    expect(second.placeInFile('resourceSpans[0].scopeSpans[0].spans[1].kind')).toBe(
      'resourceSpans[1].scopeSpans[0].spans[19].kind',
    );
    expect(third.placeInFile('resourceSpans[0].scopeSpans[1].spans[3].startTimeUnixNano')).toBe(
      'resourceSpans[1].scopeSpans[2].spans[3].startTimeUnixNano',
    );
    expect(third.placeInFile('resourceSpans[0].resource.attributes')).toBe('resourceSpans[1].resource.attributes');
  });

  it('waits for a resource written after its spans, and reads the file again when more spans than a batch wait', () => {
    const late = (n: number, count: number) => ({
      scopeSpans: [
        { spans: Array.from({ length: count }, (_, i) => ({ spanId: `${n}-${i}` })), scope: { name: 'late' } },
      ],
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `late-${n}` } }] },
    });
    // A few spans wait within one read; 25 do not fit in a batch of 10 and are read again.
    const few = batchesOf(JSON.stringify({ resourceSpans: [late(0, 4), resource(1)] }), { batchSpans: 10 });
    expect(few.stats).toMatchObject({ parts: 6, passes: 1 });
    expect(otlpSpans(few.batches).sort()).toEqual(
      [
        '"late-0"/"late"/0-0',
        '"late-0"/"late"/0-1',
        '"late-0"/"late"/0-2',
        '"late-0"/"late"/0-3',
        '"svc-1"/"lib"/1a',
        '"svc-1"/"lib"/1b',
      ].sort(),
    );
    const many = batchesOf(JSON.stringify({ resourceSpans: [resource(0), late(1, 25), resource(2)] }), {
      batchSpans: 10,
    });
    expect(many.stats).toMatchObject({ parts: 29, passes: 2 });
    expect(many.stats?.peakHeldSpans).toBeLessThanOrEqual(21);
    expect(otlpSpans(many.batches).sort()).toEqual(
      [
        '"svc-0"/"lib"/0a',
        '"svc-0"/"lib"/0b',
        '"svc-2"/"lib"/2a',
        '"svc-2"/"lib"/2b',
        ...Array.from({ length: 25 }, (_, i) => `"late-1"/"late"/1-${i}`),
      ].sort(),
    );
    const second = many.batches.find((b) => b.place === 'resourceSpans[1].scopeSpans[0].spans[20]');
    expect(second?.spans).toBe(5);
    // With room for one resource's keys per read, each read keeps one: three late resources take four reads.
    const budget = batchesOf(JSON.stringify({ resourceSpans: [late(0, 12), late(1, 12), late(2, 12)] }), {
      batchSpans: 10,
      keptContextBytes: 1,
    });
    expect(budget.stats).toMatchObject({ parts: 36, passes: 4 });
    expect(otlpSpans(budget.batches)).toHaveLength(36);
  });

  it('reads a Jaeger trace whose processes come after its spans with them, a batch at a time', () => {
    const trace = {
      traceID: 'ab',
      spans: Array.from({ length: 25 }, (_, i) => ({ spanID: `${i}`, processID: i % 2 === 0 ? 'p1' : 'p2' })),
      processes: { p1: { serviceName: 'front' }, p2: { serviceName: 'back' } },
      warnings: null,
    };
    const { batches, stats } = batchesOf(JSON.stringify({ data: [trace], total: 0 }), { batchSpans: 10 });
    expect(stats).toMatchObject({ parts: 25, passes: 2 });
    expect(batches.map((b) => [b.place, b.spans])).toEqual([
      ['data[0].spans[0]', 20],
      ['data[0].spans[20]', 5],
    ]);
    for (const batch of batches) {
      expect(batch.document).toMatchObject({ data: [{ traceID: 'ab', processes: trace.processes }] });
    }
    // A trace that fits in a batch is read once; so is one whose spans carry their process.
    const small = batchesOf(JSON.stringify({ data: [{ ...trace, spans: trace.spans.slice(0, 5) }] }), {
      batchSpans: 10,
    });
    expect(small.stats).toMatchObject({ parts: 5, passes: 1 });
    expect(small.batches[0]?.document).toMatchObject({ data: [{ processes: trace.processes }] });
    const own = trace.spans.map((s) => ({ spanID: s.spanID, process: { serviceName: 'own' } }));
    expect(batchesOf(JSON.stringify({ spans: own, traceID: 'ab' }), { batchSpans: 10 }).stats).toMatchObject({
      parts: 25,
      batches: 3,
      passes: 1,
    });
  });

  it('reads Tempo batches, protobuf field names, the API v3 envelope and Zipkin arrays of spans or traces', () => {
    const tempo = batchesOf(JSON.stringify({ batches: [resource(1)] }));
    expect(tempo.batches[0]?.document).toEqual({ batches: [resource(1)] });
    const proto = batchesOf(
      JSON.stringify({ resource_spans: [{ resource: {}, scope_spans: [{ scope: {}, spans: [{}] }] }] }),
    );
    expect(proto.batches[0]).toMatchObject({ place: 'resourceSpans[0].scopeSpans[0].spans[0]', spans: 1 });
    expect(proto.batches[0]?.document).toEqual({
      resource_spans: [{ resource: {}, scope_spans: [{ scope: {}, spans: [{}] }] }],
    });
    const v3 = batchesOf(JSON.stringify({ result: { resourceSpans: [resource(2)] } }));
    expect(v3.batches[0]?.document).toEqual({ result: { resourceSpans: [resource(2)] } });
    const zipkin = batchesOf(`\uFEFF  ${JSON.stringify([{ id: '1' }, { id: '2' }, { id: '3' }])}`, { batchSpans: 2 });
    expect(zipkin.batches.map((b) => [b.place, b.document])).toEqual([
      ['[0]', [{ id: '1' }, { id: '2' }]],
      ['[2]', [{ id: '3' }]],
    ]);
    const traces = batchesOf(JSON.stringify([[{ id: '1' }, { id: '2' }, { id: '3' }], [{ id: '4' }]]), {
      batchSpans: 2,
    });
    // A trace that fits is not split between batches: its ids are matched within one.
    expect(traces.batches.map((b) => [b.place, b.document])).toEqual([
      ['[0][0]', [[{ id: '1' }, { id: '2' }, { id: '3' }]]],
      ['[1][0]', [[{ id: '4' }]]],
    ]);
    expect(traces.batches[1]?.placeInFile('[0][0].timestamp')).toBe('[1][0].timestamp');
  });

  it('keeps the digits of integers beyond float64 exact range, as a whole-file read does', () => {
    const { batches } = batchesOf(
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"t":1700000000123456789,"small":42,"d":1.5e3}]}]}]}',
    );
    expect(batches[0]?.document).toEqual({
      resourceSpans: [{ scopeSpans: [{ spans: [{ t: '1700000000123456789', small: 42, d: 1500 }] }] }],
    });
  });

  it('leaves a document without a list it streams to the whole-file reader, and throws on broken JSON', () => {
    expect(batchesOf(JSON.stringify({ trace: { batches: [] } })).stats).toBeUndefined();
    expect(batchesOf('not json').stats).toBeUndefined();
    expect(() => batchesOf('{"resourceSpans":[{"scopeSpans":[{"spans":[{"a":1},{"b":')).toThrow();
  });
});
