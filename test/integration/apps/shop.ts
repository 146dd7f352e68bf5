/**
 * A small ES module service that exercises every library Lifeline
 * instruments. It is started by the integration tests with
 * `node --import @lifeline/node/register apps/shop.ts`; each route opens its
 * own client lazily, so a test that needs only Postgres does not need Redis.
 *
 * Environment: PORT, RUN_ID (keeps queues and keys apart), DOWNSTREAM_URL
 * (another instance to call), APP_SQLITE (the app's own SQLite file).
 */
import { request as httpRequest } from 'node:http';
import { lifelineMiddleware } from '@lifeline/node';
import amqplib from 'amqplib';
import Database from 'better-sqlite3';
import { Queue, Worker } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import express from 'express';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';

const runId = process.env.RUN_ID ?? 'local';
const serviceName = process.env.OTEL_SERVICE_NAME ?? 'shop';

const closers: (() => Promise<unknown>)[] = [];

/** Opens a client on first use and remembers how to close it. */
function lazy<T>(create: () => Promise<T>, close: (value: T) => Promise<unknown>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    if (value === undefined) {
      const created = create();
      value = created;
      closers.push(() => created.then(close));
    }
    return value;
  };
}

const pgPool = lazy(
  async () => new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 4 }),
  (pool) => pool.end(),
);
const mysqlPool = lazy(
  async () => mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 2 }),
  (pool) => pool.end(),
);
const ioredis = lazy(
  async () => new Redis({ host: '127.0.0.1', port: 6379 }),
  (client) => client.quit(),
);
// Commands given in one tick are sent in one write by ioredis itself.
const autoPipelined = lazy(
  async () => new Redis({ host: '127.0.0.1', port: 6379, enableAutoPipelining: true }),
  (client) => client.quit(),
);
const nodeRedis = lazy(
  async () => {
    const client = createClient({ url: 'redis://127.0.0.1:6379' });
    await client.connect();
    return client;
  },
  (client) => client.quit(),
);
const sqlite = lazy(
  async () => {
    const db = new Database(process.env.APP_SQLITE ?? ':memory:');
    db.exec('CREATE TABLE IF NOT EXISTS confirmations (source TEXT, order_id INTEGER)');
    return db;
  },
  async (db) => db.close(),
);

const amqpQueue = `lifeline-it-${runId}`;
const amqp = lazy(
  async () => {
    const connection = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
    const channel = await connection.createChannel();
    await channel.assertQueue(amqpQueue, { durable: false, autoDelete: true });
    await channel.consume(amqpQueue, (message) => {
      if (message === null) return;
      const order = JSON.parse(message.content.toString()) as { id: number };
      void sqlite().then((db) => {
        db.prepare('INSERT INTO confirmations (source, order_id) VALUES (?, ?)').run('amqp', order.id);
        channel.ack(message);
      });
    });
    return { connection, channel };
  },
  ({ connection }) => connection.close(),
);

const bullQueueName = `lifeline-it-${runId}`;
const bull = lazy(
  async () => {
    const connection = { host: '127.0.0.1', port: 6379 };
    const telemetry = new BullMQOtel({ tracerName: serviceName });
    const queue = new Queue(bullQueueName, { connection, telemetry });
    const worker = new Worker(
      bullQueueName,
      async (job) => {
        const db = await sqlite();
        db.prepare('INSERT INTO confirmations (source, order_id) VALUES (?, ?)').run('bullmq', job.data.id);
      },
      { connection, telemetry },
    );
    await worker.waitUntilReady();
    return { queue, worker };
  },
  async ({ queue, worker }) => {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  },
);

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const app = express();
app.use(lifelineMiddleware({ viewerUrl: 'http://viewer.test:4242' }));

app.get('/health', (_req, res) => {
  res.send('ok');
});

// Two awaited queries: the second waits for the first.
app.get('/articles/:id', async (req, res) => {
  const pool = await pgPool();
  const article = await pool.query('SELECT $1::int AS id, pg_sleep(0.02)', [Number(req.params.id)]);
  await pool.query('SELECT $1::int AS article_id, pg_sleep(0.02)', [Number(req.params.id)]);
  res.json({ id: article.rows[0].id });
});

// Two awaited queries that each take well under a millisecond: without
// precise start times they would look as if they overlapped.
app.get('/quick/:id', async (req, res) => {
  const pool = await pgPool();
  const id = Number(req.params.id);
  const author = await pool.query('SELECT $1::int AS author_id', [id]);
  await pool.query('SELECT $1::int AS post_count', [id]);
  res.json({ id: author.rows[0].author_id });
});

// The same quick query awaited once per item: an N+1 run.
app.get('/quick-loop', async (_req, res) => {
  const pool = await pgPool();
  const ids: number[] = [];
  for (let id = 1; id <= 5; id++) {
    const row = await pool.query('SELECT $1::int AS comment_id', [id]);
    ids.push(row.rows[0].comment_id);
  }
  res.json({ ids });
});

// Two independent queries started together.
app.get('/dashboard', async (_req, res) => {
  const pool = await pgPool();
  const [a, b] = await Promise.all([
    pool.query('SELECT 1 AS a, pg_sleep(0.05)'),
    pool.query('SELECT 2 AS b, pg_sleep(0.05)'),
  ]);
  res.json({ a: a.rows[0].a, b: b.rows[0].b });
});

// A literal in the SQL and a value in the query string: neither may be stored.
app.get('/search', async (req, res) => {
  const pool = await pgPool();
  const result = await pool.query("SELECT 'top-secret-literal' AS s, $1::text AS q", [String(req.query.q)]);
  res.json({ rows: result.rowCount });
});

app.get('/mysql', async (_req, res) => {
  const pool = await mysqlPool();
  const [rows] = await pool.query('SELECT SLEEP(0.01) AS slept, ? AS v', [7]);
  res.json(rows);
});

app.get('/cache', async (_req, res) => {
  const io = await ioredis();
  await io.set(`lifeline-it:${runId}:io`, 'a', 'EX', 60);
  const fromIo = await io.get(`lifeline-it:${runId}:io`);
  const nr = await nodeRedis();
  await nr.set(`lifeline-it:${runId}:nr`, 'b', { EX: 60 });
  const fromNr = await nr.get(`lifeline-it:${runId}:nr`);
  res.json({ fromIo, fromNr });
});

// One batch per request, as each client sends it: a pipeline or a MULTI
// transaction of SET + INCR + GET, in one round trip.
app.get('/batch/:kind', async (req, res) => {
  const key = `lifeline-it:${runId}:batch`;
  const kind = req.params.kind;
  if (kind === 'io-pipeline' || kind === 'io-multi') {
    const io = await ioredis();
    const batch = kind === 'io-pipeline' ? io.pipeline() : io.multi();
    const replies = await batch.set(key, 'a', 'EX', 60).incr(`${key}:n`).get(key).exec();
    res.json({ replies: replies?.length });
    return;
  }
  const nr = await nodeRedis();
  const batch = nr.multi().set(key, 'b', { EX: 60 }).incr(`${key}:n`).get(key);
  const replies = kind === 'nr-pipeline' ? await batch.execAsPipeline() : await batch.exec();
  res.json({ replies: replies.length });
});

// Two batches sent at once on one connection: each is its own round trip.
app.get('/batch-pair/:kind', async (req, res) => {
  const key = `lifeline-it:${runId}:pair`;
  const kind = req.params.kind;
  if (kind === 'io-pipeline' || kind === 'io-multi') {
    const io = await ioredis();
    const open = () => (kind === 'io-pipeline' ? io.pipeline() : io.multi());
    const replies = await Promise.all([
      open().set(key, 'a', 'EX', 60).get(key).exec(),
      open().incr(`${key}:n`).del(`${key}:m`).exec(),
    ]);
    res.json({ replies: replies.map((r) => r?.length) });
    return;
  }
  const nr = await nodeRedis();
  const first = nr.multi().set(key, 'b', { EX: 60 }).get(key);
  const second = nr.multi().incr(`${key}:n`).del(`${key}:m`);
  const replies =
    kind === 'nr-pipeline'
      ? await Promise.all([first.execAsPipeline(), second.execAsPipeline()])
      : await Promise.all([first.exec(), second.exec()]);
  res.json({ replies: replies.map((r) => r.length) });
});

// Single commands on a client that auto-pipelines: two given together, then
// one awaited on its own.
app.get('/auto-pipelined', async (_req, res) => {
  const io = await autoPipelined();
  const key = `lifeline-it:${runId}:auto`;
  await Promise.all([io.set(key, 'a', 'EX', 60), io.incr(`${key}:n`)]);
  const value = await io.get(key);
  res.json({ value });
});

// Answers first, then keeps working: a cache write still in flight when the
// response goes out, and another one started after it.
app.get('/respond-then-work', async (_req, res) => {
  const io = await ioredis();
  const key = `lifeline-it:${runId}:after`;
  await io.get(key);
  // Blocks its connection for 100 ms on a list nobody pushes to.
  const inFlight = io.blpop(`${key}:never`, 0.1);
  res.json({ ok: true });
  await new Promise<void>((resolve) => (res.writableFinished ? resolve() : res.on('finish', () => resolve())));
  await new Promise((resolve) => setTimeout(resolve, 5));
  await Promise.all([inFlight, io.set(key, 'later', 'EX', 60)]);
});

// Answers, then holds the thread (CPU-bound work the caller does not wait
// for), then writes to the cache.
app.get('/respond-then-compute', async (_req, res) => {
  const io = await ioredis();
  res.json({ ok: true });
  const until = performance.now() + 200;
  while (performance.now() < until) {
    // work after the response
  }
  await io.set(`lifeline-it:${runId}:computed`, 'later', 'EX', 60);
});

app.get('/outgoing', async (req, res) => {
  const self = `http://127.0.0.1:${req.socket.localPort}`;
  const viaHttp = await get(`${self}/health`);
  const viaFetch = (await fetch(`${self}/health?from=fetch`)).status;
  res.json({ viaHttp, viaFetch });
});

// Service A calls service B; B's own calls belong to the same trace.
app.get('/chain/:id', async (req, res) => {
  const downstream = process.env.DOWNSTREAM_URL;
  if (downstream === undefined) {
    res.status(500).send('DOWNSTREAM_URL not set');
    return;
  }
  const answer = await fetch(`${downstream}/articles/${req.params.id}`);
  res.status(answer.status).json(await answer.json());
});

app.get('/notes', async (_req, res) => {
  const db = await sqlite();
  db.prepare('INSERT INTO confirmations (source, order_id) VALUES (?, ?)').run('notes', 1);
  const rows = db.prepare('SELECT source FROM confirmations').all();
  res.json({ count: rows.length });
});

// Nested routers: the route template of the server span joins the paths, and
// a router that passes a request on leaves no trace of its own mount path.
const reports = express.Router();
reports.get('/reports/:id', (req, res) => {
  res.json({ report: req.params.id });
});
const admin = express.Router();
admin.get('/notes/:id', (req, res) => {
  res.json({ id: req.params.id });
});
app.use('/admin', reports);
app.use('/admin', admin);

app.post('/orders/:id', async (req, res) => {
  const id = Number(req.params.id);
  const via = String(req.query.via);
  if (via === 'amqp') {
    const { channel } = await amqp();
    channel.sendToQueue(amqpQueue, Buffer.from(JSON.stringify({ id })));
  } else {
    const { queue } = await bull();
    await queue.add('confirm', { id });
  }
  res.status(202).json({ queued: id });
});

app.get('/confirmations', async (_req, res) => {
  const db = await sqlite();
  res.json(db.prepare('SELECT source, order_id FROM confirmations').all());
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});

// Graceful stop: close every client that was opened, then let the event loop
// empty; Lifeline writes the last spans on the way out.
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.allSettled(closers.map((close) => close()));
});
