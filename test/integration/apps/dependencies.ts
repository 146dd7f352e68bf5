/**
 * Requests whose calls use, or do not use, each other's answers. Started by
 * `dependencies.test.ts` with `node --import @lifeline/node/register`.
 *
 * Environment: PORT, RUN_ID (keeps tables and keys apart).
 */
import { lifelineMiddleware } from '@lifeline/node';
import express from 'express';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';

const runId = (process.env.RUN_ID ?? 'local').replace(/\W/g, '_');
const articles = `dep_articles_${runId}`;
const authors = `dep_authors_${runId}`;

const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 2 });
let mysqlPool: mysql.Pool | undefined;
let redis: Redis | undefined;
let nodeRedis: ReturnType<typeof createClient> | undefined;

/** The same two tables in both databases: article 7001 by author 4711. */
async function setup(): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${articles} (id int PRIMARY KEY, author_id int, title text)`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${authors} (id int PRIMARY KEY, name text, flag int)`);
  await pool.query(`INSERT INTO ${articles} VALUES (7001, 4711, 'Hello') ON CONFLICT DO NOTHING`);
  await pool.query(`INSERT INTO ${authors} VALUES (4711, 'Ann', 1), (1, 'Bob', 1) ON CONFLICT DO NOTHING`);
  if (process.env.WITH_MYSQL === '1') {
    mysqlPool = mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 1 });
    await mysqlPool.query(`CREATE TABLE IF NOT EXISTS ${articles} (id int PRIMARY KEY, author_id int, title text)`);
    await mysqlPool.query(`CREATE TABLE IF NOT EXISTS ${authors} (id int PRIMARY KEY, name text, flag int)`);
    await mysqlPool.query(`INSERT IGNORE INTO ${articles} VALUES (7001, 4711, 'Hello')`);
    await mysqlPool.query(`INSERT IGNORE INTO ${authors} VALUES (4711, 'Ann', 1)`);
  }
  if (process.env.WITH_REDIS === '1') {
    redis = new Redis({ host: '127.0.0.1', port: 6379 });
    nodeRedis = createClient({ url: 'redis://127.0.0.1:6379' });
    await nodeRedis.connect();
  }
}

const app = express();
app.use(lifelineMiddleware());

// The author is looked up by the article's author_id: dependent.
app.get('/pg/articles/:id/with-author', async (req, res) => {
  const { rows } = await pool.query(`SELECT id, author_id, title FROM ${articles} WHERE id = $1`, [
    Number(req.params.id),
  ]);
  const article = rows[0] as { author_id: number } | undefined;
  const author = await pool.query(`SELECT name FROM ${authors} WHERE id = $1`, [article?.author_id]);
  res.json({ article, author: author.rows[0] });
});

// Both ids come from the request: independent, though the author's id is
// also in the article's row.
app.get('/pg/pair', async (req, res) => {
  const article = await pool.query(`SELECT id, author_id, title FROM ${articles} WHERE id = $1`, [
    Number(req.query.article),
  ]);
  const author = await pool.query(`SELECT name FROM ${authors} WHERE id = $1`, [Number(req.query.author)]);
  res.json({ article: article.rows[0], author: author.rows[0] });
});

// The first query answers 1, the second sends 1 of its own: a coincidence.
app.get('/pg/small', async (_req, res) => {
  const flag = await pool.query(`SELECT flag FROM ${authors} WHERE name = 'Ann'`);
  const author = await pool.query(`SELECT name FROM ${authors} WHERE id = $1`, [1]);
  res.json({ flag: flag.rows[0], author: author.rows[0] });
});

// Cache-aside: a miss, the read it stands in for, the write of its result.
app.get('/cached/articles/:id', async (req, res) => {
  const key = `dep:${runId}:article:${req.params.id}`;
  const cached = await redis?.get(key);
  if (cached) return void res.json(JSON.parse(cached));
  const { rows } = await pool.query(`SELECT id, author_id, title FROM ${articles} WHERE id = $1`, [
    Number(req.params.id),
  ]);
  await redis?.set(key, JSON.stringify(rows[0]), 'EX', 60);
  res.json(rows[0]);
});

// The same through node-redis: the author is read from the cached article's author_id.
app.get('/node-redis/articles/:id/author', async (req, res) => {
  const key = `dep:${runId}:nr:article:${req.params.id}`;
  const cached = await nodeRedis?.get(key);
  let article = cached ? (JSON.parse(cached) as { author_id: number }) : undefined;
  if (article === undefined) {
    const { rows } = await pool.query(`SELECT id, author_id, title FROM ${articles} WHERE id = $1`, [
      Number(req.params.id),
    ]);
    article = rows[0] as { author_id: number };
    await nodeRedis?.set(key, JSON.stringify(article), { EX: 60 });
  }
  const author = await nodeRedis?.get(`dep:${runId}:nr:author:${article.author_id}`);
  res.json({ article, author });
});

app.get('/mysql/articles/:id/with-author', async (req, res) => {
  const db = mysqlPool as mysql.Pool;
  const [rows] = await db.query(`SELECT id, author_id, title FROM ${articles} WHERE id = ?`, [Number(req.params.id)]);
  const article = (rows as { author_id: number }[])[0];
  const [author] = await db.execute(`SELECT name FROM ${authors} WHERE id = ?`, [article?.author_id ?? null]);
  res.json({ article, author: (author as unknown[])[0] });
});

await setup();
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  const drops: Promise<unknown>[] = [pool.query(`DROP TABLE IF EXISTS ${articles}, ${authors}`)];
  if (mysqlPool) drops.push(mysqlPool.query(`DROP TABLE IF EXISTS ${articles}, ${authors}`));
  if (redis) drops.push(redis.del(`dep:${runId}:article:7001`, `dep:${runId}:nr:article:7001`));
  void Promise.allSettled(drops).then(() =>
    Promise.allSettled([pool.end(), mysqlPool?.end(), redis?.quit(), nodeRedis?.quit()]),
  );
});
