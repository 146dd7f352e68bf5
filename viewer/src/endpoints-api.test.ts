import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EndpointStats } from '@lifeline/core';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { articleTrace, healthTrace, startUpTrace } from '@lifeline/test-support/scenes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningViewer, startViewer } from './server.js';

const MS = 1e6;

describe('the endpoint API', () => {
  let dir: string;
  let viewer: RunningViewer;
  const t0 = Date.UTC(2025, 4, 1, 12, 0, 0) * MS;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-endpoints-'));
    const db = join(dir, 'traces.db');
    const store = openStore({ path: db });
    store.writeSpans([
      ...articleTrace({ startNs: t0, comments: 4 }),
      ...articleTrace({ startNs: t0 + 1000 * MS, articleId: 7, fail: true }),
      ...healthTrace({ startNs: t0 + 2000 * MS }),
      ...startUpTrace({ startNs: t0 - 1000 * MS }),
    ]);
    store.close();
    viewer = await startViewer({ port: 0, db });
  });

  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string): Promise<Response> => fetch(`${viewer.url}${path}`);

  it('lists the endpoints of requests only, slowest p95 first, within a time window', async () => {
    const all = (await (await get('/api/endpoints')).json()) as { items: EndpointStats[] };
    expect(all.items.map((e) => [e.name, e.requests])).toEqual([
      ['GET /articles/:id', 2],
      ['GET /health', 1],
    ]);
    expect(all.items[0]?.errorShare).toBe(0.5);
    const since = String(t0 + 1500 * MS);
    const late = (await (await get(`/api/endpoints?since=${since}&sort=name`)).json()) as { items: EndpointStats[] };
    expect(late.items.map((e) => e.name)).toEqual(['GET /health']);
  });

  it('draws one endpoint with its variants, and refuses bad parameters by name', async () => {
    const name = encodeURIComponent('GET /articles/:id');
    const response = await get(`/api/endpoints/flow?service=blog-api&kind=server&name=${name}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { flow: { text: string; shapes: { share: number }[] } };
    expect(body.flow.shapes.map((s) => s.share)).toEqual([0.5, 0.5]);
    expect(body.flow.text).toMatch(/^alt /m);
    await parseMermaid(body.flow.text);

    const missing = await get('/api/endpoints/flow?service=blog-api&kind=server&name=GET%20%2Fnothing');
    expect(missing.status).toBe(404);
    const badSort = await get('/api/endpoints?sort=fastest');
    expect(badSort.status).toBe(400);
    expect(((await badSort.json()) as { parameter: string }).parameter).toBe('sort');
    const badSince = await get('/api/endpoints?since=yesterday');
    expect(((await badSince.json()) as { parameter: string }).parameter).toBe('since');
    const noName = await get('/api/endpoints/flow?service=blog-api');
    expect(((await noName.json()) as { parameter: string }).parameter).toBe('name');
  });
});
