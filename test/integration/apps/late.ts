/**
 * An ES module app that starts Lifeline in its own entry file after its static
 * imports, a common mistake: the imports are evaluated before the file's
 * first line, so express, pg and node:http are loaded before the
 * instrumentation's hooks exist. Run without a preload it must say so; run
 * with `--import @lifeline/node/register` it is recorded as usual.
 */
import { lifelineMiddleware, startLifeline } from '@lifeline/node';
import express from 'express';
import pg from 'pg';

await startLifeline({ serviceName: process.env.OTEL_SERVICE_NAME ?? 'late-start' });

const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 2 });
const app = express();
app.use(lifelineMiddleware());
app.get('/users/:id', async (req, res) => {
  const { rows } = await pool.query('SELECT $1::int AS id', [Number(req.params.id)]);
  const avatar = await fetch(`http://127.0.0.1:${req.socket.localPort}/avatars/${rows[0].id}`);
  res.json({ ...rows[0], avatar: await avatar.text() });
});
app.get('/avatars/:id', (req, res) => {
  res.send(`avatar-${req.params.id}.png`);
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end();
});
