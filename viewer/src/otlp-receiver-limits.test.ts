import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openStore } from '@lifeline/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createViewerApp } from './app.js';
import { BodyBudget } from './otlp-receiver.js';
import { type RunningViewer, startViewer } from './server.js';

const MIB = 1024 * 1024;

/** A valid, empty OTLP/JSON request padded to about `bytes`: gzip shrinks it to a few kB. */
function paddedRequest(bytes: number): Buffer {
  return Buffer.from(JSON.stringify({ resourceSpans: [], padding: ' '.repeat(bytes) }));
}

describe('the OTLP/HTTP receiver under many bodies at once', () => {
  let dir: string;
  let viewer: RunningViewer;
  const budget = new BodyBudget(4 * MIB);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-receiver-limits-'));
    viewer = await startViewer({ port: 0, db: join(dir, 'traces.db'), bodyLimit: '1mb', bodyBudget: budget });
  });

  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: Buffer, headers: Record<string, string>): Promise<Response> =>
    fetch(`${viewer.url}/v1/traces`, { method: 'POST', body: new Uint8Array(body), headers });

  it('holds at most the budget across parallel gzip bodies and asks the rest to retry', async () => {
    // Each body is a few kB on the wire and 0.9 MiB inflated, within the 1 MiB limit.
    const bomb = gzipSync(paddedRequest(0.9 * MIB));
    expect(bomb.length).toBeLessThan(16 * 1024);
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => post(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' })),
    );
    const statuses = answers.map((answer) => answer.status);
    // 60 × 0.9 MiB inflated would be 54 MiB; the budget holds 4.
    expect(budget.peakBytes).toBeLessThanOrEqual(budget.maxBytes);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0);
    const busy = answers.filter((answer) => answer.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const answer of busy) {
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(((await answer.json()) as { message: string }).message).toContain('retry');
    }
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    // Everything taken was given back.
    expect(budget.usedBytes).toBe(0);
  });

  it('counts plain bodies by their declared length and gives the bytes back after refusing', async () => {
    const body = paddedRequest(0.9 * MIB);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => post(body, { 'content-type': 'application/json' })),
    );
    expect(budget.peakBytes).toBeLessThanOrEqual(budget.maxBytes);
    expect(answers.every((answer) => answer.status === 200 || answer.status === 503)).toBe(true);
    expect(budget.usedBytes).toBe(0);
    // Once the others are answered there is room again.
    expect((await post(body, { 'content-type': 'application/json' })).status).toBe(200);
  });
});

describe('the OTLP/HTTP receiver when spans cannot be stored', () => {
  it('answers 503 with Retry-After (not 500), so the sender keeps the spans and retries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-receiver-store-fails-'));
    const path = join(dir, 'traces.db');
    openStore({ path }).close();
    // A store that refuses every write stands for a full disk or a locked file.
    const store = openStore({ path, readonly: true });
    const app = createViewerApp({ store });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      const answer = await fetch(url, {
        method: 'POST',
        body: JSON.stringify(oneSpanRequest()),
        headers: { 'content-type': 'application/json' },
      });
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(((await answer.json()) as { message: string }).message).toMatch(/could not store spans: .*read-?only/i);
    } finally {
      app.closeLive();
      await new Promise((resolve) => server.close(resolve));
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The smallest valid OTLP/JSON request: one server span. */
function oneSpanRequest(): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
        scopeSpans: [
          {
            scope: { name: 'test' },
            spans: [
              {
                traceId: '5b8efff798038103d269b633813fc60c',
                spanId: 'eee19b7ec3c1b174',
                name: 'GET /',
                kind: 2,
                startTimeUnixNano: '1700000000000000000',
                endTimeUnixNano: '1700000000010000000',
              },
            ],
          },
        ],
      },
    ],
  };
}
