import pg from 'pg';

/** Where the bench app's PostgreSQL lives: BENCH_PG_URL, else the local test database. */
export function postgresUrl(): string {
  return process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/**
 * Creates and fills the two small tables the bench app reads (articles and
 * their comments), once; later runs find them ready. Throws with the
 * connection error when PostgreSQL is not reachable.
 */
export async function preparePostgres(url = postgresUrl()): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS bench_articles (
      id integer PRIMARY KEY, title text NOT NULL, body text NOT NULL, author text NOT NULL)`);
    await client.query(`CREATE TABLE IF NOT EXISTS bench_comments (
      id integer PRIMARY KEY, article_id integer NOT NULL, author text NOT NULL, body text NOT NULL)`);
    await client.query('CREATE INDEX IF NOT EXISTS bench_comments_article ON bench_comments (article_id)');
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM bench_comments');
    if (Number(rows[0]?.n) === 10_000) return;
    await client.query('BEGIN');
    await client.query('TRUNCATE bench_articles, bench_comments');
    await client.query(`INSERT INTO bench_articles
      SELECT i, 'Article ' || i, repeat('Lorem ipsum dolor sit amet. ', 20), 'author' || (i % 37)
      FROM generate_series(1, 1000) AS i`);
    await client.query(`INSERT INTO bench_comments
      SELECT i, 1 + (i % 1000), 'reader' || (i % 101), repeat('Nice one. ', 5 + i % 10)
      FROM generate_series(1, 10000) AS i`);
    await client.query('COMMIT');
    await client.query('ANALYZE bench_articles');
    await client.query('ANALYZE bench_comments');
  } finally {
    await client.end();
  }
}
