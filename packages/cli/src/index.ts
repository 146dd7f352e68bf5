/**
 * The `lifeline` command line: serve the viewer, list recorded requests,
 * export one as Mermaid / Markdown / SVG / PNG / JSON, import trace files,
 * migrate and prune the database. The functions here let scripts do what the
 * commands do without spawning a process.
 *
 * @packageDocumentation
 */

// The Markdown export lives in the core, shared with the viewer; re-exported
// here because the CLI's library surface offered it first.
export type { MarkdownOptions } from '@lifeline/core';
export { traceToMarkdown } from '@lifeline/core';
export { ChromiumNotFoundError, chromiumFlags, findChromium } from './chromium.js';
export type { ExportFormat, RenderExportOptions } from './commands/export.js';
export { renderExport } from './commands/export.js';
export { formatSummaryTable } from './commands/list.js';
export { UserError } from './errors.js';
export { createProgram, runCli } from './program.js';
export type { RenderImageOptions } from './render-image.js';
export { renderMermaidImage } from './render-image.js';
