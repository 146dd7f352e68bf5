/**
 * @lifeline/viewer — the web viewer: an express server with the request list,
 * the trace page, a JSON API, an OTLP/HTTP receiver and live updates, plus the
 * browser client bundled with Mermaid. Everything is served from this package.
 * Building the client bundle is `@lifeline/viewer/build-client`, apart from
 * the server's surface.
 *
 * @packageDocumentation
 */

export type { ViewerApplication, ViewerAppOptions } from './app.js';
export { createViewerApp, parseByteSize } from './app.js';
export { BodyBudget } from './otlp-receiver.js';
export {
  CONTENT_SECURITY_POLICY,
  generateToken,
  isLoopbackHost,
  MIN_TOKEN_LENGTH,
  weakTokenReason,
} from './security.js';
export type { RunningViewer, StartViewerOptions } from './server.js';
export { startViewer, UnsafeBindError } from './server.js';
export type { SourceQuery, TraceBackend } from './sources/backends.js';
export { backendFor, jaegerBackend, tempoBackend } from './sources/backends.js';
export type { ResolveSourcesOptions, SourceConfig, SourceKind } from './sources/config.js';
export {
  DEFAULT_SOURCE_TIMEOUT_MS,
  parseHeaderList,
  parseSourceHeader,
  parseSourceSpec,
  resolveSources,
  SourceConfigError,
} from './sources/config.js';
export type { SourceFailure } from './sources/http.js';
export { SourceError } from './sources/http.js';
export { SourceReader } from './sources/reader.js';
