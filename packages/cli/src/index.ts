/**
 * The `lifeline` command line: serve the viewer, list recorded requests,
 * export one as Mermaid / Markdown / SVG / PNG / JSON, import trace files,
 * migrate and prune the database. The functions here let scripts do what the
 * commands do without spawning a process.
 *
 * @packageDocumentation
 */
export { chromiumFlags, findChromium } from './chromium.js';
export type { ExportFormat, RenderExportOptions } from './commands/export.js';
export { renderExport } from './commands/export.js';
export { formatSummaryTable } from './commands/list.js';
export { UserError } from './errors.js';
export type { MarkdownOptions } from './markdown.js';
export { traceToMarkdown } from './markdown.js';
export { createProgram, runCli } from './program.js';
export type { RenderImageOptions } from './render-image.js';
export { renderMermaidImage } from './render-image.js';
