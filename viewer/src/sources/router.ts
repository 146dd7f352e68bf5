/**
 * The JSON API over tracing backends: `?source=NAME` on the list and trace
 * endpoints reads that backend (through its cache) instead of the recording
 * database; `GET /api/sources` names the sources the page may offer.
 */
import { StoreError } from '@lifeline/store';
import { type RequestHandler, Router } from 'express';
import { apiRouter, sendBadParameter } from '../api.js';
import { compareRouter } from '../compare-api.js';
import { HttpError } from '../http-error.js';
import { parseListQuery, parseTraceId } from '../params.js';
import { SourceError } from './http.js';
import type { SourceReader } from './reader.js';

/** Options of {@link sourceRouter}. */
export interface SourceRouterOptions {
  readonly sources: readonly SourceReader[];
  /** Package version reported by the health probe. */
  readonly version: string;
}

/** HTTP status of the viewer's answer when a backend fails: 504 for a slow one, else 502. */
function statusOf(error: SourceError): number {
  return error.failure === 'slow' ? 504 : 502;
}

/** Builds the router mounted on `/api` before the local API. */
export function sourceRouter(options: SourceRouterOptions): Router {
  const router = Router();
  const readers = new Map(options.sources.map((reader) => [reader.config.name, reader]));
  const apis = new Map(
    options.sources.map((reader) => {
      // Compare first: the API router answers 404 to any path it does not know.
      const api = Router();
      api.use(compareRouter({ store: reader.cache }));
      api.use(apiRouter({ store: reader.cache, version: options.version }));
      return [reader.config.name, api];
    }),
  );

  router.get('/sources', (_request, response) => {
    // Headers carry credentials: only names, kinds and URLs are shown.
    response.json({
      sources: options.sources.map(({ config }) => ({ name: config.name, kind: config.kind, url: config.url })),
    });
  });

  const dispatch: RequestHandler = (request, response, next) => {
    const raw = request.query.source;
    if (raw === undefined) {
      next();
      return;
    }
    const reader = typeof raw === 'string' ? readers.get(raw) : undefined;
    const api = typeof raw === 'string' ? apis.get(raw) : undefined;
    if (reader === undefined || api === undefined) {
      const names = [...readers.keys()];
      response.status(400).json({
        error: `no source named ${JSON.stringify(raw)} (sources: ${names.length === 0 ? 'none; start the viewer with --source NAME=URL' : names.join(', ')})`,
        parameter: 'source',
      });
      return;
    }
    const prepare = async (): Promise<void> => {
      if (request.path === '/traces') {
        const { filter, page } = parseListQuery(request.query);
        // A later page reads on in the cache the first page filled.
        if (page.cursor === undefined) await reader.search(filter, page.limit);
        return;
      }
      if (request.path === '/compare') {
        // Both requests must be in the cache; `after=latest` is the newest fetched one of that endpoint.
        for (const key of ['before', 'after']) {
          const value = request.query[key];
          if (typeof value === 'string' && value !== 'latest') await reader.ensureTrace(parseTraceId(value));
        }
        return;
      }
      const match = /^\/traces\/([^/]+)(?:\/mermaid)?$/.exec(request.path);
      if (match !== null) await reader.ensureTrace(parseTraceId(decodeURIComponent(match[1] ?? '')));
    };
    prepare().then(
      () => api(request, response, next),
      (error: unknown) => {
        if (error instanceof SourceError) {
          response.status(statusOf(error)).json({ error: error.message, source: reader.config.name });
        } else if (error instanceof HttpError) {
          sendBadParameter(response, error);
        } else if (error instanceof StoreError && error.code === 'bad-cursor') {
          response.status(400).json({ error: `cursor is not valid here: ${error.message}`, parameter: 'cursor' });
        } else {
          next(error);
        }
      },
    );
  };
  router.use(dispatch);
  return router;
}
