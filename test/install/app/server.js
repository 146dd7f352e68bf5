// A small express + pg app as a user writes it: plain JavaScript, no Lifeline
// import of its own. It is started with `node --import @lifeline/node/register`.
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const app = express();

app.get('/users/:id', async (request, response) => {
  const { rows } = await pool.query('SELECT $1::int AS id, $2::text AS name', [Number(request.params.id), 'Ann']);
  response.json(rows[0]);
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
});

process.on('SIGTERM', () => {
  server.close(() => {
    pool.end().then(() => process.exit(0));
  });
});
