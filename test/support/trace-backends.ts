/**
 * Small stand-ins for Grafana Tempo's and Jaeger's query APIs on an
 * ephemeral loopback port. They answer the paths and parameters Lifeline
 * uses with the bodies under test/fixtures/sources (their origin is in the
 * README there), and misbehave on request: slow, 401 without a header,
 * malformed bodies.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of the backend bodies. */
export const sourceFixtures = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/sources');

/** A fixture body as text. */
export function sourceFixture(name: string): string {
  return readFileSync(join(sourceFixtures, name), 'utf8');
}

/** Trace ids the fixtures hold. */
export const FIXTURE_TRACES = {
  tempo: '4bf92f3577b34da6a3ce929d0e0e4736',
  tempoError: '00f067aa0ba902b7a3ce929d0e0e4736',
  jaeger: '7b3bf470e24a1b2c7b3bf470e24a1b2c',
  jaegerError: '0af7651916cd43dd8448eb211c80319c',
} as const;

/** How a stand-in misbehaves. */
export interface FakeBackendOptions {
  /** Answers 401 unless every one of these headers is sent with this value. */
  readonly requireHeaders?: Readonly<Record<string, string>>;
  /** Waits this long before answering. */
  readonly delayMs?: number;
  /** Answers every 200 with this text instead of the fixture (a proxy's page, a truncated body). */
  readonly malformedBody?: string;
  /** Jaeger only: whether the API v3 is there (default true). */
  readonly v3?: boolean;
}

/** A running stand-in. */
export interface FakeBackend {
  readonly url: string;
  /** Every request, in order. */
  readonly requests: URL[];
  close(): Promise<void>;
}

type Route = (url: URL) => { status: number; body: string } | undefined;

const notFound = { status: 404, body: '404 page not found\n' };

function tempoRoute(url: URL): { status: number; body: string } | undefined {
  if (url.pathname === '/api/search') return { status: 200, body: sourceFixture('tempo-search.json') };
  if (url.pathname === '/api/search/tag/service.name/values') {
    return { status: 200, body: sourceFixture('tempo-tag-values-service-name.json') };
  }
  if (url.pathname === `/api/traces/${FIXTURE_TRACES.tempo}`) {
    return { status: 200, body: sourceFixture('tempo-trace-by-id.json') };
  }
  if (url.pathname === `/api/traces/${FIXTURE_TRACES.tempoError}`) {
    return { status: 200, body: sourceFixture('tempo-trace-by-id-error.json') };
  }
  if (url.pathname.startsWith('/api/traces/')) return { status: 404, body: 'trace not found\n' };
  return undefined;
}

function jaegerRoute(v3: boolean): Route {
  return (url) => {
    if (url.pathname === '/api/services') return { status: 200, body: sourceFixture('jaeger-services.json') };
    if (url.pathname === '/api/traces') {
      const service = url.searchParams.get('service');
      if (service === null || service === '') {
        return {
          status: 400,
          body: '{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"parameter \'service\' is required"}]}',
        };
      }
      return {
        status: 200,
        body: sourceFixture(service === 'frontend' ? 'jaeger-search-frontend.json' : 'jaeger-search-empty.json'),
      };
    }
    if (url.pathname === `/api/traces/${FIXTURE_TRACES.jaeger}`) {
      return { status: 200, body: sourceFixture('jaeger-trace-by-id.json') };
    }
    if (url.pathname.startsWith('/api/traces/')) {
      return { status: 404, body: sourceFixture('jaeger-trace-not-found.json') };
    }
    if (!v3) return undefined;
    if (url.pathname === '/api/v3/services') return { status: 200, body: sourceFixture('jaeger-v3-services.json') };
    if (url.pathname === `/api/v3/traces/${FIXTURE_TRACES.jaeger}`) {
      return { status: 200, body: sourceFixture('jaeger-v3-trace-by-id.json') };
    }
    if (url.pathname.startsWith('/api/v3/traces/')) {
      return { status: 404, body: '{"error":{"httpCode":404,"message":"trace not found"}}' };
    }
    return undefined;
  };
}

/** Starts a stand-in for Tempo's or Jaeger's query API. */
export async function startFakeBackend(
  kind: 'tempo' | 'jaeger',
  options: FakeBackendOptions = {},
): Promise<FakeBackend> {
  const route = kind === 'tempo' ? tempoRoute : jaegerRoute(options.v3 ?? true);
  const requests: URL[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://backend');
    requests.push(url);
    const answer = () => {
      for (const [name, value] of Object.entries(options.requireHeaders ?? {})) {
        if (request.headers[name.toLowerCase()] !== value) {
          response.writeHead(401, { 'Content-Type': 'text/plain' }).end('no org id\n');
          return;
        }
      }
      const found = request.method === 'GET' ? (route(url) ?? notFound) : notFound;
      const body = found.status === 200 && options.malformedBody !== undefined ? options.malformedBody : found.body;
      response.writeHead(found.status, { 'Content-Type': 'application/json' }).end(body);
    };
    if (options.delayMs === undefined) answer();
    else setTimeout(answer, options.delayMs).unref();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** A loopback port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}
