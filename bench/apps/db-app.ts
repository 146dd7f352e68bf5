/**
 * The bench app: one express app with a bare hello route and a route making
 * two PostgreSQL queries, run unchanged in three configurations chosen by
 * BENCH_MODE:
 *
 * - `bare`: no instrumentation at all;
 * - `lifeline`: Lifeline's own start, recording into a SQLite file (BENCH_DB_PATH);
 * - `otlp`: the stock OpenTelemetry NodeSDK with the same instrumentations, a
 *   BatchSpanProcessor and the OTLP/HTTP protobuf exporter sending to BENCH_OTLP_URL;
 * - `sdkOnly`: the same SDK and instrumentations with an exporter that drops
 *   every batch: the cost of recording spans before any export.
 *
 * Prints `{"port": N, "mode": ...}` once listening on loopback.
 */
import { createRequire } from 'node:module';
import type { Express, Request, Response } from 'express';
import type { Pool } from 'pg';

type Mode = 'bare' | 'lifeline' | 'otlp' | 'sdkOnly';
const mode = (process.env.BENCH_MODE ?? 'bare') as Mode;
const serviceName = 'bench-app';
let shutdownTracing: () => Promise<void> = async () => {};

if (mode === 'lifeline') {
  const { startLifeline } = await import('@lifeline/node');
  // Exit handling stays with this app: it flushes through shutdown() on SIGTERM below.
  const lifeline = await startLifeline({ serviceName, db: process.env.BENCH_DB_PATH, handleExit: false });
  shutdownTracing = () => lifeline.shutdown();
} else if (mode === 'otlp' || mode === 'sdkOnly') {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } = await import('@opentelemetry/instrumentation-express');
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
    // Configured as Lifeline configures them, so every traced setup records the same spans.
    instrumentations: [
      new HttpInstrumentation(),
      new ExpressInstrumentation({
        ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.REQUEST_HANDLER],
      }),
      new PgInstrumentation({ ignoreConnectSpans: true }),
    ],
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
