/**
 * The bench app: one express app with a bare hello route, a route making two
 * PostgreSQL queries one after the other, and an N+1 route (a list query,
 * then one query per listed article: about 20 spans a request under
 * Lifeline), run unchanged in the configurations chosen by BENCH_MODE:
 *
 * - `bare`: no instrumentation at all;
 * - `lifeline`: Lifeline's own start, recording into a SQLite file (BENCH_DB_PATH);
 * - `lifelineBefore`: the same, with `@lifeline/node` loaded from the built
 *   package under BENCH_LIFELINE_BEFORE (another build of Lifeline, to compare
 *   two versions in one run);
 * - `otlp`: the stock OpenTelemetry set-up a user would write from the
 *   documentation, untuned: `NodeSDK` with its default settings, the http,
 *   express and pg instrumentations with their default options, and the
 *   OTLP/HTTP protobuf exporter sending to BENCH_OTLP_URL;
 * - `sdkOnly`: the same SDK and instrumentations with an exporter that drops
 *   every batch: the cost of recording spans before any export.
 *
 * Prints `{"port": N, "mode": ...}` once listening on loopback.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Express, Request, Response } from 'express';
import type { Pool } from 'pg';

type Mode = 'bare' | 'lifeline' | 'lifelineBefore' | 'otlp' | 'sdkOnly';
const mode = (process.env.BENCH_MODE ?? 'bare') as Mode;
const serviceName = 'bench-app';
let shutdownTracing: () => Promise<void> = async () => {};

if (mode === 'lifeline' || mode === 'lifelineBefore') {
  const before = process.env.BENCH_LIFELINE_BEFORE;
  if (mode === 'lifelineBefore' && !before) throw new Error('lifelineBefore needs BENCH_LIFELINE_BEFORE');
  const { startLifeline } = (
    mode === 'lifeline'
      ? await import('@lifeline/node')
      : await import(pathToFileURL(join(before as string, 'node', 'dist', 'index.js')).href)
  ) as typeof import('@lifeline/node');
  // Exit handling stays with this app: it flushes through shutdown() on SIGTERM below.
  const lifeline = await startLifeline({ serviceName, db: process.env.BENCH_DB_PATH, handleExit: false });
  shutdownTracing = () => lifeline.shutdown();
} else if (mode === 'otlp' || mode === 'sdkOnly') {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } = await import('@opentelemetry/instrumentation-pg');
  const dropAll = {
    export: (_spans: unknown[], done: (result: { code: number }) => void) => done({ code: 0 }),
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  const sdk = new NodeSDK({
    serviceName,
    // Given a trace exporter, the SDK wraps it in its own BatchSpanProcessor
    // with the default settings: the configuration most apps run with.
    traceExporter: mode === 'otlp' ? new OTLPTraceExporter({ url: process.env.BENCH_OTLP_URL }) : dropAll,
    // Default options, as the OpenTelemetry documentation shows them: this is
    // the set-up Lifeline is compared with, so nothing is tuned in its favour
    // or against it (it records express middleware and pg pool spans too).
    instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation(), new PgInstrumentation()],
  });
  sdk.start();
  shutdownTracing = () => sdk.shutdown();
} else if (mode !== 'bare') {
  throw new Error(`unknown BENCH_MODE ${mode}`);
}

// express and pg are loaded with require, after tracing has started, because
// the OpenTelemetry instrumentations patch CommonJS modules as they are
// required; a static import would load them before any patch exists.
const require = createRequire(import.meta.url);
const express = require('express') as typeof import('express');
const { Pool: PgPool } = require('pg') as typeof import('pg');

const pool: Pool = new PgPool({
  connectionString: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 10,
});
const app: Express = express();

app.get('/hello', (_req: Request, res: Response) => {
  res.send('hello');
});

// Two queries, one after the other, as a typical "show one article" handler does.
app.get('/articles/:id', async (req: Request, res: Response) => {
  const id = Number(req.params.id);
  const article = await pool.query('SELECT id, title, body, author FROM bench_articles WHERE id = $1', [id]);
  const comments = await pool.query(
    'SELECT id, author, body FROM bench_comments WHERE article_id = $1 ORDER BY id LIMIT 20',
    [id],
  );
  res.json({ article: article.rows[0], comments: comments.rows });
});

// The N+1 pattern: one query lists 18 articles, then each article's comment
// count is read with a query of its own, one after the other. Under Lifeline
// a request records 20 spans (the server span and 19 queries).
const feedLength = 18;
app.get('/feed/:n', async (req: Request, res: Response) => {
  const first = 1 + (Number(req.params.n) % (1000 - feedLength));
  const listed = await pool.query<{ id: number; title: string }>(
    'SELECT id, title FROM bench_articles WHERE id >= $1 ORDER BY id LIMIT $2',
    [first, feedLength],
  );
  const feed: { id: number; title: string; comments: number }[] = [];
  for (const article of listed.rows) {
    const counted = await pool.query<{ n: string }>('SELECT count(*) AS n FROM bench_comments WHERE article_id = $1', [
      article.id,
    ]);
    feed.push({ ...article, comments: Number(counted.rows[0]?.n ?? 0) });
  }
  res.json(feed);
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port, mode })}\n`);
});

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void (async () => {
    await pool.end();
    await shutdownTracing();
    process.exit(0);
  })();
});
