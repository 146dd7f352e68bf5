/**
 * A small app for the two-writer burst: an HTTP server and a client that
 * calls it `N_REQ` times with `CONC` calls in flight (two spans per call),
 * run under `--import @lifeline/node/register` so both record into
 * `LIFELINE_DB`. It ends normally, flushing on an emptied event loop.
 * Prints `finished N` at the end.
 */
import { Agent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';

const total = Number(process.env.N_REQ ?? 5000);
const inFlight = Number(process.env.CONC ?? 32);
const server = createServer((_request, response) => {
  response.setHeader('content-type', 'text/plain');
  response.end('ok');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
let started = 0;
let done = 0;
async function worker(): Promise<void> {
  while (started < total) {
    started++;
    await new Promise<void>((resolve) => {
      get({ host: '127.0.0.1', port, path: `/item/${started}`, agent }, (response) => {
        response.resume();
        response.on('end', resolve);
      }).on('error', () => resolve());
    });
    done++;
  }
}
await Promise.all(Array.from({ length: inFlight }, worker));
process.stdout.write(`finished ${done}\n`);
agent.destroy();
server.close();
