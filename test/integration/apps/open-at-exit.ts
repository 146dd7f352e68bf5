/**
 * A service whose requests answer while a streamed query they started is
 * still open (its rows not read yet), and which is then stopped. Started by
 * the integration tests with `node --import @lifeline/node/register`.
 *
 * It has no SIGTERM handler of its own, unless APP_EXIT_ON_SIGTERM=1: then
 * it calls `process.exit(0)` at once, as many hand-written shutdowns do.
 *
 * Environment: PORT, APP_EXIT_ON_SIGTERM.
 */
import { lifelineMiddleware } from '@lifeline/node';
import express from 'express';
import mysql from 'mysql2';
import pg from 'pg';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';

const pgPool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 4 });
const mysqlPool = mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 2 });

const app = express();
app.use(lifelineMiddleware({ viewerUrl: 'http://viewer.test:4242' }));

// A million rows asked for, one read: the rest wait.
app.get('/pg/stream', async (_req, res) => {
  const client = await pgPool.connect();
  const stream = client.query(
    new QueryStream('SELECT g AS n FROM generate_series(1, 1000000) AS g', [], { batchSize: 100 }),
  );
  stream.once('readable', () => {
    stream.read();
    res.json({ open: true });
  });
});

app.get('/pg/cursor', async (_req, res) => {
  const client = await pgPool.connect();
  const cursor = client.query(new Cursor('SELECT g AS n FROM generate_series(1, 1000000) AS g'));
  const rows = await cursor.read(10);
  res.json({ open: rows.length === 10 });
});

app.get('/mysql/stream', (_req, res) => {
  mysqlPool.getConnection((error, connection) => {
    if (error) {
      res.status(500).send(error.message);
      return;
    }
    const stream = connection.query('SELECT seq AS n FROM seq_1_to_1000000').stream({ highWaterMark: 5 });
    stream.once('data', () => {
      stream.pause();
      res.json({ open: true });
    });
  });
});

if (process.env.APP_EXIT_ON_SIGTERM === '1') process.on('SIGTERM', () => process.exit(0));

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});
