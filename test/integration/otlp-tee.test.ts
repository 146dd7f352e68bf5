import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openStore, StoreError } from '@lifeline/store';
import { closedPort } from '@lifeline/test-support/trace-backends';
import { type RunningViewer, startViewer } from '@lifeline/viewer';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, tempDb } from './support/harness.ts';

const SPANS_PER_REQUEST = 2;

function spanCount(path: string): number {
  if (!existsSync(path)) return 0;
  let store: ReturnType<typeof openStore>;
  try {
    store = openStore({ path, readonly: true, migrate: false });
  } catch (error) {
    // Created by the app a moment ago and not yet set up by its writer: still
    // empty (no schema at all), or part way through its migrations.
    if (error instanceof StoreError && (error.code === 'missing-file' || error.code === 'needs-migration')) return 0;
    throw error;
  }
  try {
    return store.stats().spans;
  } finally {
    store.close();
  }
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Sends `n` requests, a few at a time, as a small load. */
async function load(app: RunningApp, n: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next += 1;
      const response = await fetch(`${app.url}/item/${next}`);
      expect(response.status).toBe(200);
      await response.text();
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** A plain OTLP/HTTP JSON sink that counts the spans it receives; it can answer late. */
async function countingSink(delayMs = 0): Promise<{ url: string; spans: () => number; close: () => Promise<void> }> {
  let spans = 0;
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const answer = () => {
        const parsed = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
        for (const resource of parsed.resourceSpans)
          for (const scope of resource.scopeSpans) spans += scope.spans.length;
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      };
      if (delayMs === 0) answer();
      else setTimeout(answer, delayMs).unref();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans: () => spans,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

describe('the OTLP tee: record once, send to both', () => {
  const local = tempDb();
  const remote = tempDb();
  let app: RunningApp | undefined;
  let viewer: RunningViewer | undefined;

  afterEach(async () => {
    await app?.stop('SIGKILL');
    app = undefined;
    await viewer?.close();
    viewer = undefined;
  });

  it('stores and sends every span, also after the endpoint went away and came back', async () => {
    viewer = await startViewer({ port: 0, db: remote.path });
    const port = viewer.port;
    app = await startApp({
      app: 'tee.ts',
      db: local.path,
      serviceName: 'tee',
      register: false,
      // Lifeline's own receiver, over OTLP/HTTP protobuf (the default protocol).
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: viewer.url, OTEL_EXPORTER_OTLP_TIMEOUT: '10000' },
    });
    await load(app, 200);
    const first = 200 * SPANS_PER_REQUEST;
    await until('both copies of the load', () => spanCount(local.path) === first && spanCount(remote.path) === first);

    // The endpoint goes away: the app keeps answering, the local copy keeps growing.
    await viewer.close();
    viewer = undefined;
    const started = Date.now();
    await load(app, 50);
    expect(Date.now() - started).toBeLessThan(10_000);
    await until('the local copy during the outage', () => spanCount(local.path) === first + 100);
    await new Promise((done) => setTimeout(done, 1500));

    // It comes back on the same port; the exporter's retries deliver what waited.
    viewer = await startViewer({ port, db: remote.path });
    await load(app, 50);
    const total = first + 200;
    await until('the local copy after the outage', () => spanCount(local.path) === total);
    await until('the spans at the receiver', () => spanCount(remote.path) === total, 30_000);
    expect(spanCount(remote.path)).toBe(spanCount(local.path));
    // The outage was shorter than the exporter's retries (OTEL_EXPORTER_OTLP_TIMEOUT):
    // no batch failed for good, so nothing was said.
    await app.stop('SIGTERM');
    expect(app.output()).not.toContain('could not be sent');
  }, 120_000);

  it('says once on stderr when the endpoint stays away, and keeps the local copy whole', async () => {
    const db = tempDb();
    try {
      app = await startApp({
        app: 'tee.ts',
        db: db.path,
        serviceName: 'tee',
        register: false,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
          OTEL_EXPORTER_OTLP_TIMEOUT: '500',
        },
      });
      for (let round = 0; round < 3; round++) {
        await load(app, 20);
        await new Promise((done) => setTimeout(done, 800));
      }
      await until('the local copy', () => spanCount(db.path) === 120);
      await app.stop('SIGTERM');
      const said =
        app
          .output()
          .match(
            /Lifeline: spans could not be sent over OTLP to http:\/\/127\.0\.0\.1:\d+ \(.*\); the local copy is unaffected/g,
          ) ?? [];
      expect(said, app.output()).toHaveLength(1);
    } finally {
      db.remove();
    }
  }, 60_000);

  it('never lets a slow endpoint hold up the app or the local copy (OTLP/HTTP JSON)', async () => {
    const slow = await countingSink(4000);
    const db = tempDb();
    try {
      app = await startApp({
        app: 'tee.ts',
        db: db.path,
        serviceName: 'tee',
        register: false,
        env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: slow.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
      });
      const started = Date.now();
      await load(app, 100);
      expect(Date.now() - started).toBeLessThan(5000);
      await until('the local copy', () => spanCount(db.path) === 200, 5000);
      // The slow sink still gets everything, late.
      await until('the slow sink', () => slow.spans() === 200, 30_000);
    } finally {
      await slow.close();
      db.remove();
    }
  }, 90_000);

  it('keeps sending over OTLP when the local database cannot be written', async () => {
    const sink = await countingSink();
    const broken = tempDb();
    try {
      writeFileSync(broken.path, 'this is not a database\n'.repeat(100));
      app = await startApp({
        app: 'tee.ts',
        db: broken.path,
        serviceName: 'tee',
        register: false,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url.replace('/v1/traces', ''),
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        },
      });
      await load(app, 40);
      await until('the sink', () => sink.spans() === 80);
      await app.stop('SIGTERM');
      expect(app.output()).toMatch(/Lifeline: spans were not stored: .*not a Lifeline database/);
    } finally {
      await sink.close();
      broken.remove();
    }
  }, 60_000);

  it('sends only over OTLP with LIFELINE_STORE=off: no database file', async () => {
    const sink = await countingSink();
    const dir = tempDb();
    const path = join(dir.dir, 'never.db');
    try {
      app = await startApp({
        app: 'tee.ts',
        db: path,
        serviceName: 'tee',
        register: false,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url.replace('/v1/traces', ''),
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          LIFELINE_STORE: 'off',
        },
      });
      await load(app, 40);
      await until('the sink', () => sink.spans() === 80);
      await app.stop('SIGTERM');
      expect(existsSync(path)).toBe(false);
    } finally {
      await sink.close();
      dir.remove();
    }
  }, 60_000);
});
