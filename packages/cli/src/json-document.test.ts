import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DocumentBatch, readDocumentBatches } from './json-document.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-json-document-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batchesOf(text: string, options: { chunkBytes?: number; batchSpans?: number } = {}) {
  const path = join(dir, `doc-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, text);
  const batches: DocumentBatch[] = [];
  const stats = readDocumentBatches(path, (batch) => batches.push(batch), options);
  return { batches, stats };
}

const resource = (n: number) => ({
  resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${n}` } }] },
  scopeSpans: [{ spans: [{ spanId: `${n}a` }, { spanId: `${n}b` }] }],
});

describe('readDocumentBatches', () => {
  it('hands on the resources of an OTLP document in batches of about the asked span count, in order', () => {
    const document = { resourceSpans: Array.from({ length: 25 }, (_, n) => resource(n)) };
    // Small chunks: values are split across reads.
    const { batches, stats } = batchesOf(JSON.stringify(document), { chunkBytes: 7, batchSpans: 10 });
    expect(stats).toEqual({ parts: 25, batches: 5 });
    expect(batches.map((b) => [b.listPath, b.firstIndex, b.spans])).toEqual([
      ['resourceSpans', 0, 10],
      ['resourceSpans', 5, 10],
      ['resourceSpans', 10, 10],
      ['resourceSpans', 15, 10],
      ['resourceSpans', 20, 10],
    ]);
    const joined = batches.flatMap((b) => (b.document as { resourceSpans: unknown[] }).resourceSpans);
    expect(joined).toEqual(document.resourceSpans);
  });

  it('reads Jaeger downloads, Tempo batches, protobuf field names and top-level arrays by their list', () => {
    const jaeger = batchesOf(JSON.stringify({ data: [{ traceID: 'a', spans: [{}, {}, {}] }], total: 0 }));
    expect(jaeger.batches[0]).toMatchObject({ listPath: 'data', spans: 3, document: { data: [{ traceID: 'a' }] } });
    const tempo = batchesOf(JSON.stringify({ batches: [resource(1)] }));
    expect(tempo.batches[0]?.document).toEqual({ batches: [resource(1)] });
    const proto = batchesOf(JSON.stringify({ resource_spans: [{ scope_spans: [{ spans: [{}] }] }] }));
    expect(proto.batches[0]).toMatchObject({ listPath: 'resource_spans', spans: 1 });
    const v3 = batchesOf(JSON.stringify({ result: { resourceSpans: [resource(2)] } }));
    expect(v3.batches[0]?.document).toEqual({ result: { resourceSpans: [resource(2)] } });
    const zipkin = batchesOf(`\uFEFF  ${JSON.stringify([{ id: '1' }, { id: '2' }, { id: '3' }])}`, { batchSpans: 2 });
    expect(zipkin.batches.map((b) => [b.listPath, b.firstIndex, b.document])).toEqual([
      ['', 0, [{ id: '1' }, { id: '2' }]],
      ['', 2, [{ id: '3' }]],
    ]);
  });

  it('keeps the digits of integers beyond float64 exact range, as a whole-file read does', () => {
    const { batches } = batchesOf('{"resourceSpans":[{"t":1700000000123456789,"small":42,"d":1.5e3}]}');
    expect(batches[0]?.document).toEqual({ resourceSpans: [{ t: '1700000000123456789', small: 42, d: 1500 }] });
  });

  it('leaves a document without a list it streams to the whole-file reader, and throws on broken JSON', () => {
    expect(batchesOf(JSON.stringify({ trace: { batches: [] } })).stats).toBeUndefined();
    expect(batchesOf('not json').stats).toBeUndefined();
    expect(() => batchesOf('{"resourceSpans":[{"a":1},{"b":')).toThrow();
  });
});
