/**
 * Bundles the browser client (viewer/client/) together with Mermaid into
 * viewer/public/assets/. Used by the `build:client` script and by the browser
 * tests, which rebuild whenever the bundle is older than the client sources so
 * they never exercise a stale bundle.
 *
 * This file has no relative imports so that `node src/build-client.ts` runs it
 * directly (Node strips the types) before anything is compiled.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const VIEWER_DIR = fileURLToPath(new URL('..', import.meta.url));
const CLIENT_DIR = join(VIEWER_DIR, 'client');
const DEFAULT_OUTDIR = join(VIEWER_DIR, 'public', 'assets');
// The client bundles a few pure helpers of @lifeline/core from source (in the workspace).
const CORE_SOURCES = join(VIEWER_DIR, '..', 'packages', 'core', 'src');

/**
 * The list of modules each page needs before it can draw, written beside the
 * bundle; the server names them in the page's HTML (src/page-shell.ts reads
 * it under this name, with this shape).
 */
const MODULE_PRELOADS_FILE = 'modulepreload.json';

interface ModulePreloads {
  readonly entry: readonly string[];
  readonly sequenceDiagram: readonly string[];
}

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
  const preloads = modulePreloads(result.metafile, outdir);
  writeFileSync(join(outdir, MODULE_PRELOADS_FILE), `${JSON.stringify(preloads, null, 2)}\n`);
  const outputs = Object.values(result.metafile.outputs);
  return { outdir, bytes: outputs.reduce((sum, output) => sum + output.bytes, 0), files: outputs.length };
}

/** The part of esbuild's metafile {@link modulePreloads} reads. */
interface BundleOutputs {
  readonly outputs: Record<
    string,
    { readonly entryPoint?: string; readonly imports: readonly { readonly path: string; readonly kind: string }[] }
  >;
}

/**
 * The static import closure of the `app` entry and of Mermaid's sequence
 * diagram chunk, from esbuild's metafile (output paths are relative to the
 * working directory; the lists are relative to `outdir`).
 */
function modulePreloads(metafile: BundleOutputs, outdir: string): ModulePreloads {
  const outputs = Object.entries(metafile.outputs);
  const closure = (start: string | undefined, known: ReadonlySet<string>): string[] => {
    const found: string[] = [];
    const seen = new Set<string>(known);
    // Breadth first: the modules the start imports directly are requested first.
    const queue = start === undefined ? [] : [start];
    for (let next = 0; next < queue.length; next++) {
      for (const imported of metafile.outputs[queue[next] as string]?.imports ?? []) {
        if (imported.kind !== 'import-statement' || seen.has(imported.path)) continue;
        seen.add(imported.path);
        found.push(imported.path);
        queue.push(imported.path);
      }
    }
    return found;
  };
  const entry = outputs.find(([path]) => relative(outdir, path) === 'app.js')?.[0];
  const entryModules = closure(entry, new Set(entry === undefined ? [] : [entry]));
  // Mermaid imports each diagram type's code dynamically: esbuild gives that chunk its source module as entryPoint.
  const sequence = outputs.find(([, output]) => /(^|\/)sequenceDiagram-[^/]*\.mjs$/.test(output.entryPoint ?? ''))?.[0];
  const known = new Set([...(entry === undefined ? [] : [entry]), ...entryModules]);
  const sequenceModules =
    sequence === undefined || known.has(sequence)
      ? []
      : [sequence, ...closure(sequence, new Set([...known, sequence]))];
  const inBundle = (paths: readonly string[]) => paths.map((path) => relative(outdir, path).split('\\').join('/'));
  return { entry: inBundle(entryModules), sequenceDiagram: inBundle(sequenceModules) };
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
