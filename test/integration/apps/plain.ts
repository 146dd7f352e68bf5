/**
 * A node:http service that starts Lifeline itself (no preload): it awaits
 * startLifeline() and only then imports the libraries it uses, the
 * programmatic path for an ES module app. Spans wait up to a minute before
 * being written, so anything found in the database after a signal was
 * written by the exit flush.
 */
import { startLifeline, withLifelineHeaders } from '@lifeline/node';

const lifeline = await startLifeline({
  exportIntervalMs: 60_000,
  viewerUrl: 'http://viewer.test:9999/',
  redact: (key, value) => (key === 'app.user.email' ? undefined : value),
});

const { createServer } = await import('node:http');
const { trace } = await import('@opentelemetry/api');
// Imported as an ES module, the CommonJS class arrives as the default export.
const { default: Database } = (await import('better-sqlite3')) as unknown as {
  default: typeof import('better-sqlite3');
};

const db = new Database(':memory:');
db.exec('CREATE TABLE visits (path TEXT)');

const server = createServer(
  withLifelineHeaders((request, response) => {
    trace.getActiveSpan()?.setAttributes({ 'app.user.email': 'ann@example.com', 'app.plan': 'pro' });
    db.prepare('INSERT INTO visits (path) VALUES (?)').run(request.url ?? '/');
    // Ends the process right after answering, as some apps do on a fatal
    // condition (on the next turn: the server span ends once the answer is sent).
    if (request.url === '/exit') response.once('finish', () => setImmediate(() => process.exit(3)));
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ enabled: lifeline.enabled, service: lifeline.serviceName }));
  }),
);

// The common hand-written shutdown: exit at once on SIGTERM, no await.
if (process.env.APP_EXIT_ON_SIGTERM === '1') process.on('SIGTERM', () => process.exit(0));

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});
