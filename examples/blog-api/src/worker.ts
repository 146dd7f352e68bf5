/**
 * The notification worker: takes the jobs the blog API queues when a comment
 * is posted and records a notification for the article's author. Each job is
 * a consumer span in the trace of the request that queued it.
 */
import { resolve } from 'node:path';
import { detectBackends } from './backends.ts';
import { openDataStore } from './data-store.ts';
import { announce, onShutdown } from './lifecycle.ts';
import { openJobQueue } from './queue.ts';

const backends = await detectBackends(process.env);
const db = await openDataStore({
  postgresUrl: backends.postgresUrl,
  sqlitePath: resolve(process.env.EXAMPLE_SQLITE_PATH ?? '.lifeline/blog.db'),
  schema: 'blog_example',
  poolSize: 2,
});
const queue = await openJobQueue({
  amqpUrl: backends.amqpUrl,
  sqlitePath: resolve(process.env.EXAMPLE_JOBS_PATH ?? '.lifeline/blog-jobs.db'),
});

await queue.consume(async (job) => {
  const [author] = await db.query<{ name: string }>(
    'SELECT authors.name FROM articles JOIN authors ON authors.id = articles.author_id WHERE articles.id = $1',
    [job.articleId],
  );
  await db.query('INSERT INTO notifications (article_id, comment_id, recipient, message) VALUES ($1, $2, $3, $4)', [
    job.articleId,
    job.commentId,
    author?.name ?? 'unknown',
    `New comment ${job.commentId} on article ${job.articleId}`,
  ]);
  // Lets the demo know the job is done, so it waits for exactly this.
  process.send?.({ processed: job });
});
announce({ service: 'blog-worker', lines: [`consuming ${queue.description}`] });

onShutdown(async () => {
  await queue.close();
  await db.close();
});
