import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Span } from '@lifeline/core';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { newTraceId } from '@lifeline/test-support/scenes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TRACE_SPANS } from './api.js';
import { type RunningViewer, startViewer } from './server.js';

const SPANS = 60_000;
const T0_NS = BigInt(Date.UTC(2025, 4, 1, 12, 0, 0)) * 1_000_000n;

/** One request that made {@link SPANS} − 1 database calls, one after another. */
function hugeTrace(traceId: string): Span[] {
  const idOf = (i: number): string => (i + 1).toString(16).padStart(16, '0');
  const span = (i: number): Span => ({
    traceId,
    spanId: idOf(i),
    ...(i === 0 ? {} : { parentSpanId: idOf(0) }),
    name: i === 0 ? 'GET /report' : 'SELECT rows',
    kind: i === 0 ? 'server' : 'client',
    serviceName: 'reports',
    startTimeNs: T0_NS + BigInt(i) * 10_000n,
    endTimeNs: i === 0 ? T0_NS + BigInt(SPANS + 1) * 10_000n : T0_NS + BigInt(i) * 10_000n + 5_000n,
    status: { code: 'unset' },
    attributes:
      i === 0
        ? { 'http.request.method': 'GET', 'http.route': '/report', 'http.response.status_code': 200 }
        : { 'db.system.name': 'postgresql', 'db.query.text': `SELECT * FROM rows WHERE id = ${i}` },
    events: [],
    links: [],
    resource: { 'service.name': 'reports' },
  });
  return Array.from({ length: SPANS }, (_, i) => span(i));
}

describe(`a trace of ${SPANS.toLocaleString('en')} spans`, () => {
  let dir: string;
  let viewer: RunningViewer;
  const traceId = newTraceId();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-huge-trace-'));
    const db = join(dir, 'traces.db');
    const seed = openStore({ path: db });
    seed.writeSpans(hugeTrace(traceId));
    seed.close();
    viewer = await startViewer({ port: 0, db });
  }, 120_000);

  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not hold up the health probe while it is read and drawn', async () => {
    // The client runs in a process of its own: in this one, the server's long steps would hold
    // up the client's reading of the health answer too, and the order seen would be the test's.
    const client = `
      import { once } from 'node:events';
      import http from 'node:http';
      const url = process.argv[1];
      const agent = new http.Agent({ keepAlive: true });
      const get = (path) =>
        new Promise((resolve, reject) => http.get(url + path, { agent }, resolve).on('error', reject));
      const drain = (response) => { response.resume(); return once(response, 'end'); };
      // Two connections made and idle first: a new connection is accepted in a turn of the server's
      // loop of its own, so the probe waits on one already open, as a load balancer's keep-alive probe does.
      await Promise.all((await Promise.all([get('/api/health'), get('/api/health')])).map(drain));
      const finished = [];
      // Each answer counts from its headers: the server sends them once its work is done.
      const trace = get('/api/traces/${traceId}').then((response) => {
        finished.push('trace');
        return drain(response);
      });
      // The trace request is being handled by then: reading and drawing it takes far longer.
      await new Promise((resolve) => setTimeout(resolve, 10));
      const health = get('/api/health').then((response) => {
        finished.push(response.statusCode === 200 ? 'health' : 'health ' + response.statusCode);
        return drain(response);
      });
      await Promise.all([trace, health]);
      agent.destroy();
      process.stdout.write(JSON.stringify(finished));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', client, viewer.url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual(['health', 'trace']);
  }, 60_000);

  it('sends and draws the earliest spans, says how many there are, and pages through the rest', async () => {
    const response = await fetch(`${viewer.url}/api/traces/${traceId}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      spans: { spanId: string }[];
      spanCount: number;
      truncated?: boolean;
      analyzedSpans?: number;
      sequence: { mermaid: string; model: { notes: string[] } };
    };
    expect(body.spans).toHaveLength(MAX_TRACE_SPANS);
    expect(body.spanCount).toBe(SPANS);
    expect(body.truncated).toBe(true);
    // The summary and analysis are of the spans sent, and the answer says so.
    expect(body.analyzedSpans).toBe(MAX_TRACE_SPANS);
    expect(body.sequence.model.notes[0]).toBe(
      `This trace has 60,000 spans: the first 10,000 by start time are drawn and listed; the rest are read a page at a time from /api/traces/${traceId}/spans?offset=10000`,
    );
    await parseMermaid(body.sequence.mermaid);
    // The diagram's first note says so in the text too: a copied or saved diagram keeps it.
    const firstNote = body.sequence.mermaid.split('\n').find((line) => line.startsWith('Note over '));
    expect(firstNote).toMatch(
      /^Note over p1,p\d+: This trace has 60,000 spans: the earliest 10,000 by start time are drawn$/,
    );
    const text = await (await fetch(`${viewer.url}/api/traces/${traceId}/mermaid`)).text();
    expect(text).toBe(body.sequence.mermaid);

    const page = (await (await fetch(`${viewer.url}/api/traces/${traceId}/spans?offset=59000&limit=600`)).json()) as {
      spans: { spanId: string }[];
      nextOffset?: number;
      spanCount: number;
      classes: Record<string, unknown>;
    };
    expect(page.spans.map((s) => s.spanId)).toEqual(
      Array.from({ length: 600 }, (_, i) => (59_000 + i + 1).toString(16).padStart(16, '0')),
    );
    expect(page.nextOffset).toBe(59_600);
    expect(Object.keys(page.classes)).toHaveLength(600);
    const last = (await (await fetch(`${viewer.url}/api/traces/${traceId}/spans?offset=59600`)).json()) as {
      spans: unknown[];
      nextOffset?: number;
    };
    expect(last.spans).toHaveLength(400);
    expect(last.nextOffset).toBeUndefined();
    expect((await fetch(`${viewer.url}/api/traces/${traceId}/spans?offset=-1`)).status).toBe(400);
  }, 60_000);
});
