/**
 * The HTML shell every page of the viewer is served as (`public/index.html`),
 * with the modules the page needs named up front.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Name of the list the client build writes beside the bundle
 * (`viewer/src/build-client.ts` writes it under this name).
 */
export const MODULE_PRELOADS_FILE = 'modulepreload.json';

/** The list's shape: paths relative to the bundle folder (`public/assets/`). */
export interface ModulePreloads {
  /** Every module the entry imports statically, at any depth (not the entry itself). */
  readonly entry: readonly string[];
  /** Mermaid's sequence diagram chunk and its imports not in `entry`: what a trace page adds. */
  readonly sequenceDiagram: readonly string[];
}

/** Which page the shell is served for: a trace page also preloads Mermaid's sequence diagram code. */
export type PageKind = 'trace' | 'other';

/**
 * Returns the shell for a page: `index.html` with a `<link rel="modulepreload">`
 * for each module of the build's {@link MODULE_PRELOADS_FILE}. Without them,
 * the browser finds a module's imports only once it has that module, a round
 * trip per level of imports; with them it requests every module with the page
 * (HTML Standard, "Link type modulepreload"). The shell is rebuilt whenever
 * either file changes; without a list it is `index.html` as it is.
 *
 * @throws Error when `index.html` cannot be read, or the list is not valid JSON.
 */
export function pageShell(publicDir: string): (kind: PageKind) => string {
  const htmlPath = join(publicDir, 'index.html');
  const listPath = join(publicDir, 'assets', MODULE_PRELOADS_FILE);
  let cached: { readonly stamp: string; readonly pages: Record<PageKind, string> } | undefined;
  return (kind) => {
    const stamp = `${modified(htmlPath)}:${modified(listPath)}`;
    if (cached?.stamp !== stamp) cached = { stamp, pages: buildPages(htmlPath, listPath) };
    return cached.pages[kind];
  };
}

function modified(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function buildPages(htmlPath: string, listPath: string): Record<PageKind, string> {
  const html = readFileSync(htmlPath, 'utf8');
  let list: ModulePreloads;
  try {
    list = JSON.parse(readFileSync(listPath, 'utf8')) as ModulePreloads;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { trace: html, other: html };
    throw new Error(`${listPath}: ${(error as Error).message}`);
  }
  // Before </head>, after the page's own scripts, which the browser then requests first.
  const at = html.lastIndexOf('</head>');
  const withLinks = (paths: readonly string[]): string =>
    at < 0
      ? html
      : `${html.slice(0, at)}${paths.map((path) => `  <link rel="modulepreload" href="/assets/${encodeURI(path)}" />\n  `).join('')}${html.slice(at)}`;
  return { other: withLinks(list.entry), trace: withLinks([...list.entry, ...list.sequenceDiagram]) };
}
