/**
 * The blog API. Each endpoint shows one thing a sequence diagram makes
 * obvious: awaited queries in series, the same queries overlapped, an N+1
 * loop, a call to another traced service, work handed to a queue, and a
 * query that fails.
 */
import { lifelineMiddleware } from '@lifeline/node';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { DataStore } from './data-store.ts';
import type { JobQueue } from './queue.ts';

/** What the app needs from outside. */
export interface BlogApiDependencies {
  readonly db: DataStore;
  readonly queue: JobQueue;
  /** Base URL of the recommendations service. */
  readonly recommendationsUrl: string;
  /**
   * The same app after a code review fixed two of its endpoints: the list
   * reads all authors in one query instead of one per article, and the
   * serial route starts its two queries together. Recording both versions
   * and comparing the runs is what `lifeline diff` is for. Default false.
   */
  readonly reviewed?: boolean;
}

interface Article {
  readonly id: number;
  readonly author_id: number;
  readonly title: string;
  readonly body: string;
}

function articleId(request: Request): number {
  const id = Number(request.params.id);
  if (!Number.isInteger(id) || id < 1)
    throw Object.assign(new Error('article id must be a positive integer'), { status: 400 });
  return id;
}

/**
 * Builds the express app.
 *
 * @example
 * ```ts
 * createBlogApi({ db, queue, recommendationsUrl: 'http://127.0.0.1:3001' }).listen(3000);
 * ```
 */
export function createBlogApi({
  db,
  queue,
  recommendationsUrl,
  reviewed = false,
}: BlogApiDependencies): express.Express {
  const app = express();
  // First, so every response (errors included) says which trace it belongs to.
  app.use(lifelineMiddleware());
  app.use(express.json());

  const findArticle = async (id: number): Promise<Article | undefined> =>
    (await db.query<Article>('SELECT id, author_id, title, body FROM articles WHERE id = $1', [id]))[0];
  const findComments = (id: number) =>
    db.query('SELECT id, author_name, body FROM comments WHERE article_id = $1 ORDER BY id', [id]);

  // Article, then comments: the second query waits for the first to answer.
  app.get('/articles/:id/serial', async (request, response) => {
    const id = articleId(request);
    if (reviewed) {
      const [article, comments] = await Promise.all([findArticle(id), findComments(id)]);
      if (!article) return void response.status(404).json({ error: `no article ${id}` });
      return void response.json({ ...article, comments });
    }
    const article = await findArticle(id);
    const comments = await findComments(id);
    if (!article) return void response.status(404).json({ error: `no article ${id}` });
    response.json({ ...article, comments });
  });

  // The same two queries, started together: the wait is the longer one, not the sum.
  app.get('/articles/:id/parallel', async (request, response) => {
    const id = articleId(request);
    const [article, comments] = await Promise.all([findArticle(id), findComments(id)]);
    if (!article) return void response.status(404).json({ error: `no article ${id}` });
    response.json({ ...article, comments });
  });

  // One query for the list, then one per article for its author: N+1.
  app.get('/articles', async (_request, response) => {
    const articles = await db.query<Article>('SELECT id, author_id, title FROM articles ORDER BY id');
    if (reviewed) {
      // The fix: every author the page needs, in one round trip.
      const ids = [...new Set(articles.map((article) => article.author_id))];
      const authors = await db.query<{ id: number; name: string }>(
        `SELECT id, name FROM authors WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ') || 'NULL'})`,
        ids,
      );
      const names = new Map(authors.map((author) => [Number(author.id), author.name]));
      return void response.json(articles.map((article) => ({ ...article, author: names.get(article.author_id) })));
    }
    const withAuthors = [];
    for (const article of articles) {
      const [author] = await db.query<{ name: string }>('SELECT name FROM authors WHERE id = $1', [article.author_id]);
      withAuthors.push({ ...article, author: author?.name });
    }
    response.json(withAuthors);
  });

  // A call to another traced service, which has its own cache and database.
  app.get('/articles/:id/recommendations', async (request, response) => {
    const id = articleId(request);
    const article = await findArticle(id);
    if (!article) return void response.status(404).json({ error: `no article ${id}` });
    const answer = await fetch(`${recommendationsUrl}/recommendations/${id}`);
    if (!answer.ok) throw new Error(`recommendations answered ${answer.status}`);
    response.json({ article: article.title, recommendations: await answer.json() });
  });

  // The comment is stored now; notifying the author is queued for the worker.
  app.post('/articles/:id/comments', async (request, response) => {
    const id = articleId(request);
    const body = request.body as { author?: unknown; text?: unknown } | undefined;
    const author = typeof body?.author === 'string' ? body.author : 'anonymous';
    const text = typeof body?.text === 'string' ? body.text : '';
    if (text === '') return void response.status(400).json({ error: 'text is required' });
    const [comment] = await db.query<{ id: number }>(
      'INSERT INTO comments (article_id, author_name, body) VALUES ($1, $2, $3) RETURNING id',
      [id, author, text],
    );
    if (!comment) throw new Error('the comment was not stored');
    await queue.publish({ articleId: id, commentId: Number(comment.id) });
    response.status(202).json({ id: comment.id, queued: true });
  });

  // A typo in a table name: the database refuses the query and the request fails.
  app.get('/articles/:id/broken', async (request, response) => {
    const id = articleId(request);
    const rows = await db.query('SELECT id, title FROM article WHERE id = $1', [id]);
    response.json(rows);
  });

  app.use((error: Error & { status?: number }, _request: Request, response: Response, _next: NextFunction) => {
    const status = error.status ?? 500;
    response.status(status).json({ error: error.message });
  });
  return app;
}
