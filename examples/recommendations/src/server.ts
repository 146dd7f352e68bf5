/**
 * The recommendations service the blog API calls. It looks in its Redis
 * cache first (when Redis answers), then asks its own database and fills the
 * cache, so one call from the blog shows a cache miss, a query and a cache
 * write on a second lifeline. Run it with the recorder preloaded:
 * `node --import @lifeline/node/register src/server.ts`.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { lifelineMiddleware } from '@lifeline/node';
import { describeBackends, detectBackends } from '@lifeline-example/blog-api/backends';
import { type Dialect, openDataStore } from '@lifeline-example/blog-api/data-store';
import { announce, listen, onShutdown } from '@lifeline-example/blog-api/lifecycle';
import express from 'express';
import { Redis } from 'ioredis';

function schema(dialect: Dialect): string[] {
  const id = dialect === 'postgres' ? 'SERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY';
  const statements = [
    'DROP TABLE IF EXISTS recommendations',
    `CREATE TABLE recommendations (id ${id}, source_article_id INTEGER NOT NULL, article_id INTEGER NOT NULL, score REAL NOT NULL)`,
  ];
  for (let source = 1; source <= 6; source++) {
    for (let offset = 1; offset <= 3; offset++) {
      const target = ((source + offset - 1) % 6) + 1;
      statements.push(
        `INSERT INTO recommendations (source_article_id, article_id, score) VALUES (${source}, ${target}, ${(1 - offset / 10).toFixed(2)})`,
      );
    }
  }
  return statements;
}

const sqlitePath = resolve(process.env.EXAMPLE_RECOMMENDATIONS_SQLITE_PATH ?? '.lifeline/recommendations.db');
mkdirSync(dirname(sqlitePath), { recursive: true });
const backends = await detectBackends(process.env);
const db = await openDataStore({ postgresUrl: backends.postgresUrl, sqlitePath, schema: 'recommendations_example' });
await db.setup(schema(db.dialect));
const redis = backends.redisUrl
  ? new Redis(backends.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  : undefined;
await redis?.connect();
// Keys are scoped to this run, so the first request of every demo is a miss
// and its diagram shows the whole path (cache, database, cache write).
const keyPrefix = `lifeline-example:recommendations:${randomUUID().slice(0, 8)}`;

const app = express();
app.use(lifelineMiddleware());
app.get('/recommendations/:articleId', async (request, response) => {
  const articleId = Number(request.params.articleId);
  if (!Number.isInteger(articleId) || articleId < 1) {
    return void response.status(400).json({ error: 'article id must be a positive integer' });
  }
  const key = `${keyPrefix}:${articleId}`;
  const cached = await redis?.get(key);
  if (cached) return void response.json(JSON.parse(cached));
  const rows = await db.query<{ article_id: number; score: number }>(
    'SELECT article_id, score FROM recommendations WHERE source_article_id = $1 ORDER BY score DESC LIMIT 3',
    [articleId],
  );
  await redis?.set(key, JSON.stringify(rows), 'EX', 60);
  response.json(rows);
});

const server = createServer(app);
const url = await listen(server, Number(process.env.PORT ?? 3001));
announce({
  service: 'recommendations',
  url,
  lines: [...describeBackends(backends).slice(0, 2), `data: ${db.description}`],
});

onShutdown(async () => {
  await new Promise<void>((done) => {
    server.close(() => done());
    server.closeAllConnections();
  });
  redis?.disconnect();
  await db.close();
});
