/**
 * An ES module service whose calls do not end the plain way: queries that
 * wait for a pool of one connection, queries read as streams, and outgoing
 * HTTP calls that get no response or whose body is never read. Started by
 * the integration tests with `node --import @lifeline/node/register apps/calls.ts`.
 *
 * The upstream the HTTP calls go to runs in a process of its own, not
 * recorded: only the app's side of each call is drawn.
 *
 * Environment: PORT, RUN_ID (keeps tables apart).
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { lifelineMiddleware } from '@lifeline/node';
import express from 'express';
import { Redis } from 'ioredis';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import pg from 'pg';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';

const runId = process.env.RUN_ID ?? 'local';
const closers: (() => Promise<unknown>)[] = [];

// Pools of a single connection: a second caller waits for the first.
const pgPool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 1 });
closers.push(() => pgPool.end());
const mysqlOptions = { host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 1 };
const mysqlPool = mysql.createPool(mysqlOptions);
closers.push(() => new Promise((resolve) => mysqlPool.end(resolve)));
const mysqlPromisePool = mysqlPromise.createPool(mysqlOptions);
closers.push(() => mysqlPromisePool.end());
// Connections opened at start-up, outside any request: their sockets are read
// in no request's context.
const mysqlConnection = mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
closers.push(() => new Promise((resolve) => mysqlConnection.end(resolve)));
const pgClient = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
await pgClient.connect();
closers.push(() => pgClient.end());

const upstreamCode = `const big = Buffer.alloc(2 * 1024 * 1024, 97);
const s = require('node:http').createServer((req, res) => {
  if (req.url === '/slow') setTimeout(() => res.end('late'), 400);
  else if (req.url === '/reset') req.socket.destroy();
  else if (req.url === '/big') res.end(big);
  else if (req.url === '/cut') {
    res.writeHead(200, { 'content-length': String(big.length) });
    res.write(big.subarray(0, 1000));
    setTimeout(() => req.socket.destroy(), 30);
  }
  else res.end('ok');
}).listen(0, '127.0.0.1', () => console.log(s.address().port));`;
// Without NODE_OPTIONS or preloads: nothing records the upstream.
const upstream = spawn(process.execPath, ['-e', upstreamCode], {
  env: { PATH: process.env.PATH ?? '' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
closers.push(async () => upstream.kill());
const upstreamPort = await new Promise<number>((resolve) =>
  upstream.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim()))),
);
const up = `http://127.0.0.1:${upstreamPort}`;
// A port nobody listens on: connections are refused.
const closedPort = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const address = probe.address();
    probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
  });
});

/** A node:http GET; resolves with how it ended (the status, or the error's code or name). */
function httpGet(url: string, options: { timeoutMs?: number; destroyAfterMs?: number; signal?: AbortSignal } = {}) {
  return new Promise<string>((resolve) => {
    const req = httpRequest(url, options.signal === undefined ? {} : { signal: options.signal }, (response) => {
      response.resume();
      response.on('end', () => resolve(String(response.statusCode)));
      // The body cut off: the response fails after its headers.
      response.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.name));
    });
    if (options.timeoutMs !== undefined) req.setTimeout(options.timeoutMs, () => req.destroy());
    if (options.destroyAfterMs !== undefined) setTimeout(() => req.destroy(), options.destroyAfterMs);
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.name));
    req.end();
  });
}

/** How a failed fetch ended: its name, and the code of its cause when there is one. */
function fetchFailure(error: unknown): string {
  const { name, cause } = error as { name: string; cause?: { code?: string } };
  return cause?.code ?? name;
}

const app = express();
app.use(lifelineMiddleware({ viewerUrl: 'http://viewer.test:4242' }));

// Waits for the pool's only connection when another request holds it.
app.get('/pg/report/:id', async (req, res) => {
  const { rows } = await pgPool.query('SELECT $1::int AS id, pg_sleep(0.05)', [Number(req.params.id)]);
  res.json({ id: rows[0].id });
});

// Three queries issued together on the pool of one connection: the second
// and third wait for it in the pool's queue.
app.get('/pg/together', async (_req, res) => {
  const rows = await Promise.all([1, 2, 3].map((n) => pgPool.query('SELECT $1::int AS n, pg_sleep(0.03)', [n])));
  res.json({ count: rows.length });
});

// The same on one client: pg queues them in the client until it is free.
app.get('/pg/client-together', async (_req, res) => {
  const rows = await Promise.all([1, 2, 3].map((n) => pgClient.query('SELECT $1::int AS n, pg_sleep(0.03)', [n])));
  res.json({ count: rows.length });
});

// The same on one connection: mysql2 queues them in the connection.
app.get('/mysql/connection-together', (_req, res) => {
  let left = 3;
  for (const n of [1, 2, 3]) {
    mysqlConnection.query('SELECT ? AS n, SLEEP(0.03)', [n], (error) => {
      if (error) res.status(500).send(error.message);
      else if (--left === 0) res.json({ count: 3 });
    });
  }
});

app.get('/mysql/together', async (_req, res) => {
  const rows = await Promise.all([1, 2, 3].map((n) => mysqlPromisePool.query('SELECT ? AS n, SLEEP(0.03)', [n])));
  res.json({ count: rows.length });
});

// The callback form: the connection is handed over by pool.connect(cb).
app.get('/pg/checkout/:id', (req, res) => {
  pgPool.connect((error, client, release) => {
    if (error || client === undefined) {
      res.status(500).send(String(error));
      return;
    }
    client.query('SELECT $1::int AS id, pg_sleep(0.05)', [Number(req.params.id)], (queryError, result) => {
      release();
      if (queryError) res.status(500).send(queryError.message);
      else res.json({ id: result.rows[0].id });
    });
  });
});

app.get('/mysql/report/:id', (req, res) => {
  mysqlPool.query('SELECT ? AS id, SLEEP(0.05) AS slept', [Number(req.params.id)], (error, rows) => {
    if (error) res.status(500).send(error.message);
    else res.json({ id: (rows as { id: number }[])[0]?.id });
  });
});

app.get('/mysql/execute/:id', async (req, res) => {
  const [rows] = await mysqlPromisePool.execute('SELECT ? AS id, SLEEP(0.05) AS slept', [Number(req.params.id)]);
  res.json({ id: (rows as { id: number }[])[0]?.id });
});

app.get('/mysql/checkout/:id', async (req, res) => {
  const connection = await mysqlPromisePool.getConnection();
  try {
    const [rows] = await connection.query('SELECT ? AS id, SLEEP(0.05) AS slept', [Number(req.params.id)]);
    res.json({ id: (rows as { id: number }[])[0]?.id });
  } finally {
    connection.release();
  }
});

// A second query issued from the first one's callback or `end` listener.
app.get('/nested/:client/:id', (req, res) => {
  const id = Number(req.params.id);
  const done = (error: Error | null | undefined) => {
    if (error) res.status(500).send(error.message);
    else res.json({ id });
  };
  switch (req.params.client) {
    case 'mysql-pool':
      mysqlPool.query('SELECT ? AS a', [id], (error) => {
        if (error) done(error);
        else mysqlPool.query('SELECT ? AS b', [id], done);
      });
      break;
    case 'mysql-connection':
      mysqlConnection.execute('SELECT ? AS a', [id], (error) => {
        if (error) done(error);
        else mysqlConnection.query('SELECT ? AS b', [id], done);
      });
      break;
    case 'mysql-events':
      mysqlPool
        .query('SELECT ? AS a', [id])
        .on('error', done)
        .on('end', () => mysqlConnection.query('SELECT ? AS b', [id], done));
      break;
    case 'pg-events':
      pgClient
        .query(new pg.Query('SELECT $1::int AS a', [id]))
        .on('error', done)
        .on('end', () => pgClient.query('SELECT $1::int AS b', [id], done));
      break;
    default:
      res.status(404).end();
  }
});

// A Redis client opened by the first request of a batch: the others' commands
// wait in its offline queue until its connection is ready.
const redisClients = new Map<string, Redis>();
closers.push(async () => Promise.all([...redisClients.values()].map((client) => client.quit())));
app.get('/ioredis/:batch/:id', async (req, res) => {
  let client = redisClients.get(req.params.batch);
  if (client === undefined) {
    client = new Redis({ host: '127.0.0.1', port: 6379 });
    redisClients.set(req.params.batch, client);
  }
  const value = await client.get(`lifeline-it:${runId}:${req.params.batch}:${req.params.id}`);
  res.json({ id: Number(req.params.id), value });
});

// Streamed reads: no callback, no promise, the rows come as events.
app.get('/pg/stream', async (_req, res) => {
  const client = await pgPool.connect();
  try {
    const stream = client.query(
      new QueryStream('SELECT g AS n FROM generate_series(1, 25) AS g', [], { batchSize: 10 }),
    );
    let count = 0;
    for await (const _row of stream) count++;
    res.json({ count });
  } finally {
    client.release();
  }
});

app.get('/pg/cursor', async (_req, res) => {
  const client = await pgPool.connect();
  try {
    const cursor = client.query(new Cursor('SELECT g AS n FROM generate_series(1, 12) AS g'));
    let count = 0;
    for (;;) {
      const rows = await cursor.read(5);
      count += rows.length;
      if (rows.length === 0) break;
    }
    await cursor.close();
    res.json({ count });
  } finally {
    client.release();
  }
});

// A cursor closed after its first rows: the query ends early.
app.get('/pg/cursor-closed', async (_req, res) => {
  const client = await pgPool.connect();
  try {
    const cursor = client.query(new Cursor('SELECT g AS n FROM generate_series(1, 1000) AS g'));
    const rows = await cursor.read(3);
    await cursor.close();
    res.json({ count: rows.length });
  } finally {
    client.release();
  }
});

app.get('/pg/stream-error', async (_req, res) => {
  const client = await pgPool.connect();
  try {
    const stream = client.query(new QueryStream(`SELECT n FROM lifeline_missing_${runId}`));
    try {
      for await (const _row of stream) {
        // no rows: the table does not exist
      }
      res.json({ failed: false });
    } catch (error) {
      res.json({ failed: true, message: (error as Error).message.replace(runId, '<run>') });
    }
  } finally {
    client.release();
  }
});

app.get('/mysql/stream', (_req, res) => {
  mysqlPool.getConnection((error, connection) => {
    if (error) {
      res.status(500).send(error.message);
      return;
    }
    let count = 0;
    connection
      .query(
        'SELECT seq AS n FROM (SELECT 1 AS seq UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) AS t WHERE seq > ?',
        [0],
      )
      .stream()
      .on('data', () => {
        count++;
      })
      .on('end', () => {
        connection.release();
        res.json({ count });
      });
  });
});

app.get('/mysql/events', (_req, res) => {
  let count = 0;
  mysqlPool
    .query('SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3')
    .on('result', () => {
      count++;
    })
    .on('end', () => res.json({ count }));
});

// Outgoing calls that get no response, or whose body is never read.
app.get('/fetch/:outcome', async (req, res) => {
  try {
    switch (req.params.outcome) {
      case 'timeout':
        await fetch(`${up}/slow`, { signal: AbortSignal.timeout(50) });
        break;
      case 'abort': {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 50);
        await fetch(`${up}/slow`, { signal: controller.signal });
        break;
      }
      case 'reset':
        await fetch(`${up}/reset`);
        break;
      case 'refused':
        await fetch(`http://127.0.0.1:${closedPort}/`);
        break;
      case 'cut':
        await (await fetch(`${up}/cut`)).arrayBuffer();
        break;
      case 'status-only': {
        const response = await fetch(`${up}/big`);
        res.json({ outcome: String(response.status) });
        return;
      }
      case 'read-late': {
        // The body is read after the answer went out, in the background.
        const response = await fetch(`${up}/big`);
        res.json({ outcome: String(response.status) });
        setTimeout(() => void response.arrayBuffer(), 20);
        return;
      }
    }
    res.json({ outcome: 'answered' });
  } catch (error) {
    res.json({ outcome: fetchFailure(error) });
  }
});

app.get('/http/:outcome', async (req, res) => {
  let outcome: string;
  switch (req.params.outcome) {
    case 'timeout':
      outcome = await httpGet(`${up}/slow`, { timeoutMs: 50 });
      break;
    case 'abort':
      outcome = await httpGet(`${up}/slow`, { destroyAfterMs: 50 });
      break;
    case 'signal':
      outcome = await httpGet(`${up}/slow`, { signal: AbortSignal.timeout(50) });
      break;
    case 'reset':
      outcome = await httpGet(`${up}/reset`);
      break;
    case 'refused':
      outcome = await httpGet(`http://127.0.0.1:${closedPort}/`);
      break;
    case 'cut':
      outcome = await httpGet(`${up}/cut`);
      break;
    case 'status-only': {
      // A response listener that never reads: node:http leaves the body alone.
      outcome = await new Promise<string>((resolve) => {
        const call = httpRequest(`${up}/big`, (response) => resolve(String(response.statusCode)));
        call.end();
      });
      break;
    }
    default:
      outcome = await httpGet(`${up}/fast`);
  }
  res.json({ outcome });
});

// A recorded upstream in this same process: its server span must last until
// it answers, whatever the caller that gave up did with its own call.
app.get('/self/slow', async (_req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  res.json({ outcome: 'late' });
});

// Works on after its caller gave up (the test's caller gives up at 100 ms):
// a query at 300 ms, then an answer nobody reads.
app.get('/slow-work', async (_req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  await pgPool.query('SELECT 1 AS late');
  res.json({ outcome: 'late' });
});

app.get('/self/:client', async (req, res) => {
  const self = `http://127.0.0.1:${(server.address() as { port: number }).port}/self/slow`;
  const outcome =
    req.params.client === 'fetch'
      ? await fetch(self, { signal: AbortSignal.timeout(50) }).then(
          (response) => String(response.status),
          (error: unknown) => fetchFailure(error),
        )
      : await httpGet(self, { destroyAfterMs: 50 });
  res.json({ outcome });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.allSettled(closers.map((close) => close()));
});
