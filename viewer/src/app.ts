/**
 * The viewer's express application: pages, JSON API, OTLP/HTTP receiver and
 * live updates, all served from this package so it works offline.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bigintToJson } from '@lifeline/core';
import type { SpanStore, SpanWriterThread } from '@lifeline/store';
import type { ErrorRequestHandler } from 'express';
import express from 'express';
import { apiRouter } from './api.js';
import { compareRouter } from './compare-api.js';
import { endpointsRouter } from './endpoints-api.js';
import { createLiveHub, type LiveHub } from './live.js';
import { type BodyBudget, otlpTraceReceiver } from './otlp-receiver.js';
import { type PageKind, pageShell } from './page-shell.js';
import { requireLoopbackHost, requireToken, securityHeaders } from './security.js';
import type { SourceReader } from './sources/reader.js';
import { sourceRouter } from './sources/router.js';

/** Where the static files (HTML shell, CSS, client bundle) live. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** Default limit of an OTLP request body: large exports fit, runaway ones do not. */
const DEFAULT_BODY_LIMIT = '16mb';

/** Options of {@link createViewerApp}. */
export interface ViewerAppOptions {
  /** The store to read traces from and to write received spans into. */
  readonly store: SpanStore;
  /**
   * Where received spans are written instead of `store`: a writer thread on
   * the same file, so that decoding one request and committing another use
   * both cores. Without it they are written on this thread.
   */
  readonly writer?: SpanWriterThread;
  /** When set, every request must carry it (Bearer header, `?token=` or the cookie set by `?token=`). */
  readonly token?: string;
  /** Largest OTLP request body, as bytes or a string such as `"16mb"` (default 16 MiB). */
  readonly bodyLimit?: string;
  /**
   * Bytes that OTLP request bodies may hold at once across all requests
   * (default: four times the body limit, at least 64 MiB); past it the
   * receiver answers 503 with `Retry-After`.
   */
  readonly bodyBudget?: BodyBudget;
  /**
   * Milliseconds an OTLP request body may take to arrive (default 30 s); past
   * it the receiver answers 408 and closes the connection.
   */
  readonly bodyTimeoutMs?: number;
  /** How often live updates poll the store, in milliseconds (default 500). */
  readonly pollIntervalMs?: number;
  /** Folder with index.html, styles.css and the built assets/ (default: this package's public/). */
  readonly publicDir?: string;
  /** Tracing backends the API reads with `?source=NAME` (read only, each through a cache of its own). */
  readonly sources?: readonly SourceReader[];
}

/** The application plus the live hub it owns, so a server can close both. */
export interface ViewerApplication extends express.Application {
  /** Stops the live-update polling and ends open event streams. */
  closeLive(): void;
}

/**
 * Creates the viewer application without binding a port (tests and embedding
 * servers can mount or listen on it themselves).
 *
 * @example
 * ```ts
 * import { openStore } from '@lifeline/store';
 * import { createViewerApp } from '@lifeline/viewer';
 *
 * const app = createViewerApp({ store: openStore({ path: 'traces.db' }) });
 * app.listen(4242, '127.0.0.1');
 * ```
 */
export function createViewerApp(options: ViewerAppOptions): ViewerApplication {
  const limitBytes = parseByteSize(options.bodyLimit ?? DEFAULT_BODY_LIMIT);
  const publicDir = options.publicDir ?? PUBLIC_DIR;
  const clientEntry = join(publicDir, 'assets', 'app.js');
  const app = express() as unknown as ViewerApplication;
  const live: LiveHub = createLiveHub({
    store: options.store,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });
  app.closeLive = () => live.close();

  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  // Span and summary times are exact bigints: the API sends them as decimal strings.
  app.set('json replacer', bigintToJson);
  app.use(securityHeaders());
  if (options.token !== undefined && options.token !== '') app.use(requireToken(options.token));
  else app.use(requireLoopbackHost());

  app.post(
    '/v1/traces',
    otlpTraceReceiver({
      store: options.store,
      ...(options.writer === undefined ? {} : { writer: options.writer }),
      limitBytes,
      ...(options.bodyBudget === undefined ? {} : { budget: options.bodyBudget }),
      ...(options.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: options.bodyTimeoutMs }),
      onStored: () => live.nudge(),
    }),
  );
  app.get('/api/events', live.handler);
  // Before the API router, whose last route answers 404 to any other path.
  app.use('/api', sourceRouter({ sources: options.sources ?? [], version: VERSION }));
  app.use('/api', compareRouter({ store: options.store }));
  app.use('/api', endpointsRouter({ store: options.store }));
  app.use('/api', apiRouter({ store: options.store, version: VERSION }));

  app.use(
    express.static(publicDir, {
      index: false,
      fallthrough: true,
      setHeaders(response, path) {
        // Bundle files change with every build under fixed names: revalidate them.
        response.setHeader('Cache-Control', path.includes('/assets/') ? 'no-cache' : 'public, max-age=300');
      },
    }),
  );

  const shell = pageShell(publicDir);
  const page =
    (kind: PageKind): express.RequestHandler =>
    (_request, response) => {
      if (!existsSync(clientEntry)) {
        response.status(503).type('text/html; charset=utf-8').send(MISSING_BUNDLE_PAGE);
        return;
      }
      response.setHeader('Cache-Control', 'no-cache');
      response.type('text/html; charset=utf-8').send(shell(kind));
    };
  app.get('/', page('other'));
  app.get('/traces/:id', page('trace'));
  app.get('/compare', page('other'));
  app.get('/endpoints', page('other'));

  app.use((_request, response) => {
    response.status(404).type('text/plain; charset=utf-8').send('Not found');
  });

  const onError: ErrorRequestHandler = (error: unknown, _request, response, _next) => {
    if (response.headersSent) return;
    const status = (error as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      response.status(status).json({ error: (error as Error).message });
      return;
    }
    response.status(500).json({ error: `internal error: ${(error as Error).message}` });
  };
  app.use(onError);
  return app;
}

const MISSING_BUNDLE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lifeline viewer</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The viewer's browser bundle is missing</h1>
<p>The server is running and the JSON API works, but the page's script has not been built.
Build it with <code>pnpm --filter @lifeline/viewer run build:client</code> (or <code>pnpm run build</code> at the
repository root), then reload this page.</p>
</body></html>
`;

/** Parses `16mb`, `512kb`, `1gb` or a plain byte count. */
export function parseByteSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (match === null) throw new Error(`invalid size "${value}": use a byte count or a value such as 16mb`);
  const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Math.floor(Number(match[1]) * (units[(match[2] ?? 'b').toLowerCase()] ?? 1));
}
