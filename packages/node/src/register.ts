/**
 * Preload entry: `node --import @lifeline/node/register app.js` records the
 * app into Lifeline with settings from the environment (`OTEL_SERVICE_NAME`,
 * `OTEL_RESOURCE_ATTRIBUTES`, `LIFELINE_DB`, `LIFELINE_VIEWER_URL`,
 * `LIFELINE_DISABLED=1`). It runs before the app's first import, which is
 * what lets the instrumentations patch libraries the app imports as ES
 * modules as well as those it requires.
 *
 * @example
 * ```sh
 * OTEL_SERVICE_NAME=orders node --import @lifeline/node/register server.js
 * ```
 *
 * @packageDocumentation
 */
import { startLifeline } from './start.js';

await startLifeline();
