import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceSummary } from '@lifeline/core';
import { openStore, parseTraceFile } from '@lifeline/store';
import { parseSequenceDiagram } from '@lifeline/test-support/mermaid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningViewer, startViewer } from './server.js';

/** A batch consumer (trace WORKER) whose span links point at the publishes of requests A and B. */
const caseFile = join(
  import.meta.dirname,
  '..',
  '..',
  'test',
  'fixtures',
  'cases',
  'links-batch-consumer-fan-in',
  'trace.json',
);
const A = 'aaaa0000000000000000000000000001';
const B = 'bbbb0000000000000000000000000002';
const WORKER = 'cccc0000000000000000000000000003';

interface TraceResponse {
  readonly spans: readonly { traceId: string; spanId: string }[];
  readonly summary: TraceSummary;
  readonly classes: Record<string, unknown>;
  readonly sequence: { mermaid: string; model: { arrows: { spanId: string }[]; notes: string[] } };
}

describe('the JSON API on linked traces', () => {
  let dir: string;
  let viewer: RunningViewer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-linked-'));
    const db = join(dir, 'traces.db');
    const seed = openStore({ path: db });
    seed.writeSpans(parseTraceFile(readFileSync(caseFile, 'utf8')).spans);
    seed.close();
    viewer = await startViewer({ port: 0, db });
  });

  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const trace = async (id: string): Promise<TraceResponse> => {
    const response = await fetch(`${viewer.url}/api/traces/${id}?timings=0`);
    expect(response.status).toBe(200);
    return (await response.json()) as TraceResponse;
  };
  const mermaid = async (id: string): Promise<string> => {
    const text = await (await fetch(`${viewer.url}/api/traces/${id}/mermaid?timings=0`)).text();
    await parseSequenceDiagram(text);
    return text;
  };

  it("draws each request with the batch's processing and never the other request", async () => {
    const fromA = await mermaid(A);
    expect(fromA.match(/POST \/orders/g)).toHaveLength(1);
    expect(fromA).toContain('Note over p3,p4: batch of 2 messages from 2 traces');
    expect(await mermaid(B)).toBe(fromA);
    const b = await trace(B);
    expect(b.sequence.mermaid).toBe(fromA);
    // What the page lists, colours and links to is what the diagram draws: B's spans and the batch's.
    expect(new Set(b.spans.map((s) => s.traceId))).toEqual(new Set([B, WORKER]));
    expect(Object.keys(b.classes).sort()).toEqual(b.spans.map((s) => s.spanId).sort());
    const drawn = new Set(b.spans.map((s) => s.spanId));
    expect(b.sequence.model.arrows.every((arrow) => drawn.has(arrow.spanId))).toBe(true);
    expect(b.summary).toMatchObject({ traceId: B, rootService: 'api', rootName: 'POST /orders', statusCode: 202 });
  });

  it("returns the worker's trace as itself, summarised as the list shows it", async () => {
    const worker = await trace(WORKER);
    expect(worker.spans.map((s) => s.traceId)).toEqual([WORKER, WORKER]);
    const list = (await (await fetch(`${viewer.url}/api/traces?service=worker`)).json()) as { items: TraceSummary[] };
    expect(worker.summary).toEqual(list.items[0]);
    expect(worker.summary).toMatchObject({ rootService: 'worker', rootName: 'process orders' });
    expect(worker.sequence.model.notes).toEqual([]);
    expect(await mermaid(WORKER)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      participant p1 as orders (queue)
      participant p2 as worker
      participant p3 as postgresql (db)
      p1-)p2: process orders
      Note over p1,p2: batch of 2 messages from 2 traces
      p2->>p3: INSERT orders
      p3-->>p2: ok
      "
    `);
  });
});
