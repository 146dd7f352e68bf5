/**
 * An app recorded with the register preload that also checks its own flows:
 * `/articles` reads one author per article (an N+1 on better-sqlite3), and
 * `/check` records a request to `/articles` with recordFlow, riding on the
 * recorder the preload started, and answers what it saw.
 */
import { createServer } from 'node:http';
import { checkNoNPlusOne, recordFlow, startFlowRecorder } from '@lifeline/node';

// Imported as an ES module, the CommonJS class arrives as the default export.
const { default: Database } = (await import('better-sqlite3')) as unknown as {
  default: typeof import('better-sqlite3');
};

const recorder = await startFlowRecorder();
const db = new Database(':memory:');
db.exec('CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT)');
for (const name of ['Ada', 'Grace', 'Edsger', 'Barbara']) db.prepare('INSERT INTO authors (name) VALUES (?)').run(name);

let port = 0;
const server = createServer((request, response) => {
  response.setHeader('content-type', 'application/json');
  if (request.url === '/articles') {
    const names = [1, 2, 3, 4].map((id) => db.prepare('SELECT name FROM authors WHERE id = ?').get(id));
    response.end(JSON.stringify(names));
    return;
  }
  if (request.url === '/check') {
    void recordFlow(async () => (await fetch(`http://127.0.0.1:${port}/articles`)).json()).then((flow) => {
      const check = checkNoNPlusOne(flow);
      response.end(
        JSON.stringify({
          provider: recorder.provider,
          traces: flow.traces.length,
          traceId: flow.traces[0]?.traceId,
          counts: flow.counts,
          noNPlusOne: check.pass,
          message: check.message,
        }),
      );
    });
    return;
  }
  response.statusCode = 404;
  response.end('{}');
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
  console.log(`listening on ${port}`);
});
process.on('SIGTERM', () => server.close());
