/**
 * Bundles the browser client (viewer/client/) together with Mermaid into
 * viewer/public/assets/. Used by the `build:client` script and by the browser
 * tests, which rebuild whenever the bundle is older than the client sources so
 * they never exercise a stale bundle.
 *
 * This file has no relative imports so that `node src/build-client.ts` runs it
 * directly (Node strips the types) before anything is compiled.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VIEWER_DIR = fileURLToPath(new URL('..', import.meta.url));
const CLIENT_DIR = join(VIEWER_DIR, 'client');
const DEFAULT_OUTDIR = join(VIEWER_DIR, 'public', 'assets');
// The client bundles a few pure helpers of @lifeline/core from source (in the workspace).
const CORE_SOURCES = join(VIEWER_DIR, '..', 'packages', 'core', 'src');

/** Options of {@link buildClient}. */
export interface BuildClientOptions {
  /** Output folder (default viewer/public/assets). */
  readonly outdir?: string;
  /** Minify the bundle (default true). */
  readonly minify?: boolean;
  /**
   * Entry module (default viewer/client/main.ts, written as `app.js`). The
   * benchmark bundles a bare Mermaid page with the same settings, so both
   * pages load Mermaid built the same way.
   */
  readonly entry?: string;
}

/** What {@link buildClient} produced. */
export interface BuildClientResult {
  readonly outdir: string;
  /** Bytes written, all files together. */
  readonly bytes: number;
  /** Number of files written (the entry plus Mermaid's lazily loaded chunks). */
  readonly files: number;
}

/**
 * Bundles the client with esbuild. Mermaid loads each diagram type on demand,
 * so the bundle is split: the entry stays small and sequence diagrams pull in
 * only their own chunk.
 *
 * @example
 * ```ts
 * import { buildClient } from '@lifeline/viewer';
 * const { bytes } = await buildClient();
 * ```
 */
export async function buildClient(options: BuildClientOptions = {}): Promise<BuildClientResult> {
  const outdir = options.outdir ?? DEFAULT_OUTDIR;
  // esbuild is a build-time tool: load it only when a build is asked for.
  const esbuild = await import('esbuild');
  // Old chunks have hashed names; clearing keeps the folder to one build.
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  // The preload script is an entry of its own: a few lines the page runs before the main bundle.
  // So is the worker: it loads by its own URL, and splitting may share the core's code with the app.
  const entryPoints: Record<string, string> =
    options.entry === undefined
      ? {
          app: join(CLIENT_DIR, 'main.ts'),
          preload: join(CLIENT_DIR, 'preload.ts'),
          // Draws a trace loaded a page at a time off the page's thread (client/redraw.ts).
          'redraw-worker': join(CLIENT_DIR, 'redraw-worker.ts'),
        }
      : { app: options.entry };
  const result = await esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    format: 'esm',
    splitting: true,
    platform: 'browser',
    target: ['es2022'],
    minify: options.minify ?? true,
    chunkNames: 'chunks/[name]-[hash]',
    conditions: ['source'],
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
    tsconfig: join(CLIENT_DIR, 'tsconfig.json'),
  });
  const outputs = Object.values(result.metafile.outputs);
  return { outdir, bytes: outputs.reduce((sum, output) => sum + output.bytes, 0), files: outputs.length };
}

/** Whether the bundle exists and is at least as new as every client source. */
export function clientBundleStatus(options: { outdir?: string } = {}): { built: boolean; stale: boolean } {
  const entry = join(options.outdir ?? DEFAULT_OUTDIR, 'app.js');
  let builtAt: number;
  try {
    builtAt = statSync(entry).mtimeMs;
  } catch {
    return { built: false, stale: true };
  }
  const sources = [CLIENT_DIR, CORE_SOURCES].filter((dir) => existsSync(dir));
  return { built: true, stale: Math.max(...sources.map(newestMtime)) > builtAt };
}

/** Builds the client unless an up-to-date bundle is already there. */
export async function ensureClientBundle(options: BuildClientOptions = {}): Promise<{ rebuilt: boolean }> {
  const status = clientBundleStatus(options.outdir === undefined ? {} : { outdir: options.outdir });
  if (status.built && !status.stale) return { rebuilt: false };
  await buildClient(options);
  return { rebuilt: true };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

// `node src/build-client.ts` (the build:client script) builds and reports.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const { outdir, bytes, files } = await buildClient();
  console.log(
    `Lifeline viewer client: ${files} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${outdir} (${Date.now() - started} ms)`,
  );
}
