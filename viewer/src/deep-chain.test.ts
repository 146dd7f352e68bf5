import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Span, summarizeTrace, traceToMermaid } from '@lifeline/core';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { newTraceId } from '@lifeline/test-support/scenes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeOrder } from '../client/timeline.js';
import { toClientSpan } from '../client/types.js';
import { type RunningViewer, startViewer } from './server.js';

const DEPTH = 10_000;
const T0_NS = BigInt(Date.UTC(2025, 4, 1, 12, 0, 0)) * 1_000_000n;

/** A request whose every span is the only child of the one before: a chain {@link DEPTH} spans deep. */
function deepChain(traceId: string): Span[] {
  const spans: Span[] = [];
  const idOf = (i: number): string => (i + 1).toString(16).padStart(16, '0');
  for (let i = 0; i < DEPTH; i++) {
    // Server and client spans of five services in turn, so every level is a drawn call.
    const server = i % 2 === 0;
    const service = `svc-${Math.floor((i + 1) / 2) % 5}`;
    spans.push({
      traceId,
      spanId: idOf(i),
      ...(i === 0 ? {} : { parentSpanId: idOf(i - 1) }),
      name: server ? 'GET /next' : 'GET',
      kind: server ? 'server' : 'client',
      serviceName: service,
      startTimeNs: T0_NS + BigInt(i) * 1000n,
      endTimeNs: T0_NS + 100_000_000n - BigInt(i) * 1000n,
      status: { code: 'unset' },
      attributes: server
        ? { 'http.request.method': 'GET', 'http.route': '/next', 'http.response.status_code': 200 }
        : { 'http.request.method': 'GET', 'url.full': `http://svc-${Math.floor((i + 2) / 2) % 5}/next` },
      events: [],
      links: [],
      resource: { 'service.name': service },
    });
  }
  return spans;
}

describe(`a chain of spans ${DEPTH.toLocaleString('en')} deep`, () => {
  let dir: string;
  let viewer: RunningViewer;
  const traceId = newTraceId();
  const spans = deepChain(traceId);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-deep-chain-'));
    const db = join(dir, 'traces.db');
    const seed = openStore({ path: db });
    seed.writeSpans(spans);
    seed.close();
    viewer = await startViewer({ port: 0, db });
  });

  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is summarized and drawn by the core, folded below the deepest drawn level', async () => {
    const trace = { traceId, spans };
    const summary = summarizeTrace(trace);
    expect(summary.spanCount).toBe(DEPTH);
    const diagram = traceToMermaid(trace, { timings: false });
    expect(diagram.model.notes.some((note) => /nested deeper than \d+ levels folded/.test(note))).toBe(true);
    await parseMermaid(diagram.text);
  });

  it('is served whole by the trace route, with its diagram and summary', async () => {
    const response = await fetch(`${viewer.url}/api/traces/${traceId}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      spans: unknown[];
      summary: { spanCount: number };
      sequence: { mermaid: string };
    };
    expect(body.spans).toHaveLength(DEPTH);
    expect(body.summary.spanCount).toBe(DEPTH);
    await parseMermaid(body.sequence.mermaid);
    const text = await fetch(`${viewer.url}/api/traces/${traceId}/mermaid`);
    expect(text.status).toBe(200);
    await parseMermaid(await text.text());
  });

  it("is laid out by the trace page's timeline, each span one level below its parent", async () => {
    const response = await fetch(`${viewer.url}/api/traces/${traceId}`);
    const body = (await response.json()) as { spans: unknown[] };
    const ordered = treeOrder(body.spans.map(toClientSpan));
    expect(ordered).toHaveLength(DEPTH);
    expect(ordered.map((row) => row.depth)).toEqual(Array.from({ length: DEPTH }, (_, i) => i));
  });
});
