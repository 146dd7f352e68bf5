/**
 * A node:http service whose first request makes the process's first fetch,
 * with `AbortSignal.timeout`, to an upstream that answers too late
 * (UPSTREAM_URL, not recorded). On a fresh process that fetch also loads
 * undici. Started with `node --import @lifeline/node/register`.
 *
 * Environment: PORT, UPSTREAM_URL, TIMEOUT_MS (default 50).
 */
import { createServer } from 'node:http';
import { withLifelineHeaders } from '@lifeline/node';

const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9';
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 50);

const server = createServer(
  withLifelineHeaders(async (_request, response) => {
    let outcome = 'answered';
    try {
      await fetch(`${upstream}/slow`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      outcome = (error as Error).name;
    }
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ outcome }));
  }),
);

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});

process.on('SIGTERM', () => server.close());
