/**
 * Packing the public packages the way they would be published, reading what a
 * tarball ships, and measuring what an install pulls in.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The folders of the packages a user installs, in dependency order. */
export const publicPackageDirs = [
  'packages/core',
  'packages/store',
  'packages/node',
  'viewer',
  'packages/cli',
] as const;

/** One packed package. */
export interface PackedPackage {
  /** The package's folder in the workspace, relative to the root. */
  readonly dir: string;
  readonly name: string;
  readonly version: string;
  /** Absolute path of the `.tgz`. */
  readonly tarball: string;
  /** Where the tarball was unpacked: `<extractDir>/package.json` is the published manifest. */
  readonly extractDir: string;
  /** Every file the tarball holds, relative to its `package/` folder. */
  readonly files: readonly string[];
}

/**
 * Packs each public package with `pnpm pack`, which writes the manifest as
 * `pnpm publish` would (it replaces `workspace:` and `catalog:` specifiers and
 * applies `publishConfig`), and unpacks it beside the tarball.
 *
 * @throws when `pnpm` or `tar` fails.
 */
export function packPublicPackages(destination: string): PackedPackage[] {
  const [pnpm, ...pnpmArgs] = pnpmCommand();
  return publicPackageDirs.map((dir) => {
    const output = execFileSync(pnpm, [...pnpmArgs, 'pack', '--json', '--pack-destination', destination], {
      cwd: join(repoRoot, dir),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const report = JSON.parse(output.slice(output.indexOf('{'))) as {
      name: string;
      version: string;
      filename: string;
      files: { path: string }[];
    };
    const tarball = resolve(destination, report.filename);
    const extractDir = join(destination, 'unpacked', report.name.replace('/', '__'));
    mkdirSync(extractDir, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', extractDir, '--strip-components=1']);
    return {
      dir,
      name: report.name,
      version: report.version,
      tarball,
      extractDir,
      files: report.files.map((file) => file.path).sort(),
    };
  });
}

/** How to start pnpm: through the script that started this run, else from PATH. */
function pnpmCommand(): [string, ...string[]] {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return [process.execPath, execPath];
  return ['pnpm'];
}

/** A published manifest, as far as these checks read it. */
export interface Manifest {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly exports?: unknown;
  readonly bin?: Record<string, string> | string;
  readonly engines?: Record<string, string>;
}

/** Reads the manifest a tarball ships. */
export function readManifest(pkg: PackedPackage): Manifest {
  return JSON.parse(readFileSync(join(pkg.extractDir, 'package.json'), 'utf8')) as Manifest;
}

/** Every `name@specifier` of the manifest that only means something inside this workspace. */
export function workspaceOnlySpecifiers(manifest: Manifest): string[] {
  const found: string[] = [];
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'] as const) {
    for (const [name, specifier] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|catalog|link|file|portal):/.test(specifier)) found.push(`${field}: ${name}@${specifier}`);
    }
  }
  return found;
}

/** Every target string of an `exports` map, with the chain of conditions that leads to it. */
export function exportTargets(
  exportsField: unknown,
  path: readonly string[] = [],
): { path: string[]; target: string }[] {
  if (typeof exportsField === 'string') return [{ path: [...path], target: exportsField }];
  if (exportsField === null || typeof exportsField !== 'object') return [];
  return Object.entries(exportsField).flatMap(([key, value]) => exportTargets(value, [...path, key]));
}

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** The package a bare specifier names (`@scope/name/sub` -> `@scope/name`), undefined for relative, absolute and built-in ones. */
export function packageOfSpecifier(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  if (specifier.includes(':')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
  if (builtins.has(name) || builtins.has(specifier)) return undefined;
  return name;
}

// Static imports and re-exports, side-effect imports, dynamic imports with a
// literal, require() and require.resolve() with a literal, import.meta.resolve().
const importPatterns = [
  /(?:^|[\s;}])(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|[\s;}])import\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*[,)]/g,
  /\brequire(?:\.resolve)?\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bimport\.meta\.resolve\s*\(\s*['"]([^'"]+)['"]/g,
];

/**
 * The text of a JavaScript or declaration file without its comments: the
 * examples in TSDoc name packages a module never loads. A `//` counts as a
 * comment at the start of a line or after whitespace, so `'http://...'` stays.
 */
export function codeOf(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');
}

/** The packages the code imports: each with the shipped files that import it. */
export function importedPackages(pkg: PackedPackage, extensions: readonly string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of pkg.files) {
    if (!extensions.some((extension) => file.endsWith(extension))) continue;
    const text = codeOf(readFileSync(join(pkg.extractDir, file), 'utf8'));
    for (const pattern of importPatterns) {
      for (const match of text.matchAll(pattern)) {
        const name = packageOfSpecifier(match[1] ?? '');
        if (name === undefined || name === pkg.name) continue;
        const files = found.get(name) ?? [];
        if (!files.includes(file)) files.push(file);
        found.set(name, files);
      }
    }
  }
  return found;
}

/**
 * Whether any shipped JavaScript or declaration file names the package in a
 * string literal, as `'name'` or `'name/...'`: an import, a specifier handed
 * to a loader (`module.register('pkg/hook.mjs')`), or a type the published
 * declarations take from it (a consumer's compiler needs that package too).
 */
export function mentionsPackage(pkg: PackedPackage, name: string): boolean {
  const literal = new RegExp(`['"\`]${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?:/[^'"\`]*)?['"\`]`);
  return pkg.files
    .filter((file) => /\.(m|c)?js$|\.d\.(m|c)?ts$/.test(file))
    .some((file) => literal.test(codeOf(readFileSync(join(pkg.extractDir, file), 'utf8'))));
}

/** Sum of the sizes of the files under `dir`, not following links; `skip` names folders to leave out. */
export function folderBytes(dir: string, skip: ReadonlySet<string> = new Set()): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(full, skip);
    else total += lstatSync(full).size;
  }
  return total;
}

/** What installing one package costs an app. */
export interface InstalledSize {
  /** Bytes of the package's own files plus those of every package it needs at run time. */
  readonly bytes: number;
  /** The packages counted, the root included, as `node_modules`-relative folders. */
  readonly packages: readonly string[];
}

/**
 * The installed size of a package with everything it needs at run time
 * (`dependencies`, `optionalDependencies` that were installed, and peers
 * that are present), found the way Node resolves them: from the requiring
 * package's folder up through every `node_modules` to the app.
 *
 * @throws when a dependency is missing from the install.
 */
export function installedSize(appDir: string, name: string): InstalledSize {
  const seen = new Set<string>();
  const queue: string[] = [join(appDir, 'node_modules', name)];
  let bytes = 0;
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    if (seen.has(dir)) continue;
    seen.add(dir);
    bytes += folderBytes(dir, new Set(['node_modules']));
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    const required = Object.keys(manifest.dependencies ?? {});
    const optional = [
      ...Object.keys(manifest.optionalDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ];
    for (const dependency of [...required, ...optional]) {
      const found = locate(appDir, dir, dependency);
      if (found) queue.push(found);
      else if (required.includes(dependency)) throw new Error(`${dependency} (needed by ${dir}) is not installed`);
    }
  }
  return { bytes, packages: [...seen].map((dir) => relative(join(appDir, 'node_modules'), dir)).sort() };
}

function locate(appDir: string, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === appDir || dirname(dir) === dir) return undefined;
    dir = dirname(dir);
  }
}
