/**
 * The blog API process. Run it with the recorder preloaded:
 * `node --import @lifeline/node/register src/server.ts`.
 */

import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { createBlogApi } from './app.ts';
import { describeBackends, detectBackends } from './backends.ts';
import { openDataStore } from './data-store.ts';
import { announce, listen, onShutdown } from './lifecycle.ts';
import { openJobQueue } from './queue.ts';
import { blogSchema } from './schema.ts';

const sqlitePath = resolve(process.env.EXAMPLE_SQLITE_PATH ?? '.lifeline/blog.db');
const jobsPath = resolve(process.env.EXAMPLE_JOBS_PATH ?? '.lifeline/blog-jobs.db');
mkdirSync(dirname(sqlitePath), { recursive: true });
mkdirSync(dirname(jobsPath), { recursive: true });

const backends = await detectBackends(process.env);
const db = await openDataStore({ postgresUrl: backends.postgresUrl, sqlitePath, schema: 'blog_example' });
await db.setup(blogSchema(db.dialect));
const queue = await openJobQueue({ amqpUrl: backends.amqpUrl, sqlitePath: jobsPath });
const app = createBlogApi({
  db,
  queue,
  recommendationsUrl: process.env.RECOMMENDATIONS_URL ?? 'http://127.0.0.1:3001',
  // EXAMPLE_REVIEWED=1 runs the version of the code after review (see createBlogApi).
  reviewed: process.env.EXAMPLE_REVIEWED === '1',
});
const server = createServer(app);
const url = await listen(server, Number(process.env.PORT ?? 3000));
announce({
  service: 'blog-api',
  url,
  lines: [...describeBackends(backends), `data: ${db.description}; queue: ${queue.description}`],
});

onShutdown(async () => {
  await new Promise<void>((done) => {
    server.close(() => done());
    server.closeAllConnections();
  });
  await queue.close();
  await db.close();
});
