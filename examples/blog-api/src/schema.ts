/** The blog's tables and a small fixed data set, recreated at every start so each run draws the same diagrams. */
import type { Dialect } from './data-store.ts';

const authors = ['Ada Lovelace', 'Grace Hopper', 'Edsger Dijkstra', 'Barbara Liskov'];
const titles = [
  'Why the second query waited for the first',
  'Promise.all and the price of a round trip',
  'Reading a sequence diagram of your own API',
  'N+1 queries, found by a loop in a picture',
  'Queues: where a request hands work to a worker',
  'Clock skew between services, explained',
];

/** Statements that drop and recreate the blog's tables with their seed rows. */
export function blogSchema(dialect: Dialect): string[] {
  const id = dialect === 'postgres' ? 'SERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY';
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const statements = [
    'DROP TABLE IF EXISTS notifications',
    'DROP TABLE IF EXISTS comments',
    'DROP TABLE IF EXISTS articles',
    'DROP TABLE IF EXISTS authors',
    `CREATE TABLE authors (id ${id}, name TEXT NOT NULL)`,
    `CREATE TABLE articles (id ${id}, author_id INTEGER NOT NULL REFERENCES authors(id), title TEXT NOT NULL, body TEXT NOT NULL)`,
    `CREATE TABLE comments (id ${id}, article_id INTEGER NOT NULL REFERENCES articles(id), author_name TEXT NOT NULL, body TEXT NOT NULL)`,
    `CREATE TABLE notifications (id ${id}, article_id INTEGER NOT NULL, comment_id INTEGER NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL)`,
  ];
  authors.forEach((name, index) => {
    statements.push(`INSERT INTO authors (id, name) VALUES (${index + 1}, ${quote(name)})`);
  });
  titles.forEach((title, index) => {
    const authorId = (index % authors.length) + 1;
    statements.push(
      `INSERT INTO articles (id, author_id, title, body) VALUES (${index + 1}, ${authorId}, ${quote(title)}, ${quote(`${title}: a short article.`)})`,
    );
    for (let comment = 1; comment <= 3; comment++) {
      statements.push(
        `INSERT INTO comments (article_id, author_name, body) VALUES (${index + 1}, ${quote(authors[(index + comment) % authors.length] ?? 'reader')}, ${quote(`Comment ${comment} on article ${index + 1}`)})`,
      );
    }
  });
  if (dialect === 'postgres') {
    // Explicit ids above leave the sequences behind; new rows must not collide.
    for (const table of ['authors', 'articles', 'comments']) {
      statements.push(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT MAX(id) FROM ${table}))`);
    }
  }
  return statements;
}
