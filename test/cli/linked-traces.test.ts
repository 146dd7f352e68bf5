import { once } from 'node:events';
import { get } from 'node:http';
import { join } from 'node:path';
import { parseSequenceDiagram } from '@lifeline/test-support/mermaid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, repoRoot, runCli, startCli, tempDir } from './cli-runner.js';

/** The case of a batch consumer whose span links point at two producer traces. */
const caseDir = join(repoRoot, 'test', 'fixtures', 'cases', 'links-batch-consumer-fan-in');
const A = 'aaaa0000000000000000000000000001';
const B = 'bbbb0000000000000000000000000002';
const WORKER = 'cccc0000000000000000000000000003';

let batchDb: string;
let controlDb: string;

beforeAll(() => {
  buildWorkspace();
  const work = tempDir('linked');
  batchDb = join(work, 'batch.db');
  controlDb = join(work, 'control.db');
  for (const [file, db] of [
    ['trace.json', batchDb],
    ['control-one-link.json', controlDb],
  ] as const) {
    const result = runCli(['import', join(caseDir, file), '--db', db]);
    expect(result.code, result.stderr).toBe(0);
  }
}, 300_000);

/** `lifeline export <id> --format mmd`, checked to parse as a sequence diagram. */
async function exportMermaid(db: string, traceId: string, ...flags: string[]): Promise<string> {
  const result = runCli(['export', traceId, '--db', db, '--format', 'mmd', ...flags]);
  expect(result.code, result.stderr).toBe(0);
  await parseSequenceDiagram(result.stdout);
  return result.stdout;
}

describe('lifeline export of linked traces', () => {
  it("draws request A with the batch's processing and without request B", async () => {
    const text = await exportMermaid(batchDb, A, '--no-timings');
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as postgresql (db)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      p2-->>p1: 202
      p3-)p4: process orders
      Note over p3,p4: batch of 2 messages from 2 traces
      p4->>p5: INSERT orders
      p5-->>p4: ok
      "
    `);
  });

  it("draws request B with the batch's processing and without request A", async () => {
    const model = JSON.parse(runCli(['export', B, '--db', batchDb, '--format', 'json', '--no-timings']).stdout) as {
      mermaid: string;
      model: { arrows: { spanId: string }[] };
      summary: { rootService: string; spanCount: number };
      trace: { spans: { traceId: string }[] };
    };
    expect(model.mermaid).toBe(await exportMermaid(batchDb, A, '--no-timings'));
    expect(model.model.arrows.map((a) => a.spanId.slice(0, 2))).toEqual(['b1', 'b1', 'b1', 'c1', 'c1', 'c1']);
    expect(new Set(model.trace.spans.map((s) => s.traceId))).toEqual(new Set([B, WORKER]));
    expect(model.summary).toMatchObject({ rootService: 'api', spanCount: 4 });
  });

  it('counts each request’s queue wait from its own publish', async () => {
    expect(await exportMermaid(batchDb, A)).toContain('waited 96 ms in queue');
    expect(await exportMermaid(batchDb, B)).toContain('waited 91 ms in queue');
  });

  it("draws the worker's trace as itself, noting the batch and where it came from", async () => {
    const text = await exportMermaid(batchDb, WORKER, '--no-timings');
    expect(text).toMatchInlineSnapshot(`
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
    const json = JSON.parse(runCli(['export', WORKER, '--db', batchDb, '--format', 'json']).stdout) as {
      summary: { rootService: string; rootName: string; spanCount: number };
    };
    expect(json.summary).toMatchObject({ rootService: 'worker', rootName: 'process orders', spanCount: 2 });
  });

  it('joins a consumer with a single link to its request too', async () => {
    const text = await exportMermaid(controlDb, A, '--no-timings');
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as postgresql (db)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      p2-->>p1: 202
      p3-)p4: process orders
      p4->>p5: INSERT orders
      p5-->>p4: ok
      "
    `);
  });
});

/**
 * GET over a connection of its own: the exports run between requests take
 * seconds, long enough for the server to close an idle keep-alive socket just
 * as a reused one sends ("other side closed").
 */
function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

describe('lifeline export and the viewer', () => {
  let child: ReturnType<typeof startCli> | undefined;
  let url = '';

  beforeAll(async () => {
    child = startCli(['serve', '--port', '0', '--db', batchDb]);
    child.stdout?.setEncoding('utf8');
    let output = '';
    url = await new Promise<string>((resolve, reject) => {
      child?.stdout?.on('data', (chunk: string) => {
        output += chunk;
        const match = /Lifeline viewer on (\S+)/.exec(output);
        if (match?.[1]) resolve(match[1].replace(/\/$/, ''));
      });
      child?.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (child === undefined || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  });

  it.each([
    [A, 'timings'],
    [B, 'timings'],
    [WORKER, 'timings'],
    [A, 'no timings'],
    [WORKER, 'no timings'],
  ])('draws trace %s with %s exactly as `lifeline export` does', async (traceId, mode) => {
    const timings = mode === 'timings';
    const response = await fetchText(`${url}/api/traces/${traceId}/mermaid${timings ? '' : '?timings=0'}`);
    expect(response.status).toBe(200);
    const viewer = response.body;
    const cli = await exportMermaid(batchDb, traceId, ...(timings ? [] : ['--no-timings']));
    expect(cli.trimEnd()).toBe(viewer.trimEnd());
  });

  it("summarises the worker's trace as the worker's, as the list does", async () => {
    const trace = JSON.parse((await fetchText(`${url}/api/traces/${WORKER}`)).body) as {
      summary: { rootService: string; rootName: string; spanCount: number };
      spans: { traceId: string }[];
    };
    const list = JSON.parse((await fetchText(`${url}/api/traces?service=worker`)).body) as {
      items: { traceId: string; rootName: string; spanCount: number }[];
    };
    expect(trace.summary).toMatchObject({ rootService: 'worker', rootName: 'process orders', spanCount: 2 });
    expect(list.items.map((i) => [i.traceId, i.rootName, i.spanCount])).toEqual([
      [WORKER, trace.summary.rootName, trace.summary.spanCount],
    ]);
    expect(trace.spans.every((s) => s.traceId === WORKER)).toBe(true);
  });
});
