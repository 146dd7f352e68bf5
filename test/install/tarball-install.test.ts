/**
 * The path a user takes: the public packages are packed into tarballs,
 * installed with plain npm from the npm registry into an app folder outside
 * the workspace (no workspace links, no pnpm), and an express + pg app is run
 * under `node --import @lifeline/node/register`; then `npx lifeline list` and
 * `npx lifeline export` read what it recorded. The manifests and files of each
 * tarball are checked as a registry user would meet them.
 *
 * `LIFELINE_INSTALL_NODE_BIN` names the folder of another `node` binary to
 * install and run the app with (the CI script runs this file on every
 * supported Node major); by default it is the Node running the tests.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace } from '../cli/cli-runner.ts';
import { missingServices } from '../integration/support/services.ts';
import {
  exportTargets,
  importedPackages,
  installedSize,
  mentionsPackage,
  type PackedPackage,
  packPublicPackages,
  readManifest,
  repoRoot,
  workspaceOnlySpecifiers,
} from './tarballs.ts';

const registry = 'https://registry.npmjs.org/';
const nodeBinDir = process.env.LIFELINE_INSTALL_NODE_BIN || dirname(process.execPath);
const nodeExe = join(nodeBinDir, 'node');
const nodeVersion = execFileSync(nodeExe, ['--version'], { encoding: 'utf8' }).trim();
/** PATH of every child: the chosen Node first, so npm and the `lifeline` bin run on it. */
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: [nodeBinDir, process.env.PATH].join(delimiter),
  // Nothing of the workspace may leak into the app's resolution or npm's config.
  NODE_PATH: '',
  NODE_OPTIONS: '',
  npm_config_registry: registry,
  npm_config_userconfig: '/dev/null',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};
for (const key of Object.keys(childEnv)) {
  // pnpm's and Vitest's own settings (workspace dir, node-linker, ...) are not the user's.
  if (/^(npm_package_|npm_lifecycle_|pnpm_|PNPM_|VITEST)/.test(key) || key === 'npm_execpath') delete childEnv[key];
  if (
    /^npm_config_/.test(key) &&
    ![
      'npm_config_registry',
      'npm_config_userconfig',
      'npm_config_audit',
      'npm_config_fund',
      'npm_config_update_notifier',
      'npm_config_cache',
    ].includes(key)
  )
    delete childEnv[key];
}

const missing = await missingServices('postgres');
const work = mkdtempSync(join(tmpdir(), 'lifeline-install-'));
const appDir = join(work, 'app');
let packed: PackedPackage[] = [];

function npm(args: readonly string[], cwd: string): string {
  const result = spawnSync('npm', [...args], { cwd, env: childEnv, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) {
    throw new Error(`npm ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return `${result.stdout}${result.stderr}`;
}

beforeAll(() => {
  if (!existsSync(join(repoRoot, 'viewer', 'public', 'assets', 'app.js'))) {
    throw new Error('the viewer client bundle is missing: run `pnpm run build` first');
  }
  buildWorkspace();
  packed = packPublicPackages(work);
}, 240_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  // The app's node_modules holds tens of thousands of files.
}, 180_000);

/** Runs `check` on every packed package and collects what it finds, so one run reports every package. */
function problemsOfEach(check: (pkg: PackedPackage) => string[]): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const pkg of packed) {
    const problems = check(pkg);
    if (problems.length > 0) found[pkg.name] = problems;
  }
  return found;
}

describe('the published manifests', () => {
  it('name only registry versions: no workspace:, catalog: or local specifiers', () => {
    expect(problemsOfEach((pkg) => workspaceOnlySpecifiers(readManifest(pkg)))).toEqual({});
  });

  it('declare exactly the packages their shipped code and types import', () => {
    const problems = problemsOfEach((pkg) => {
      const manifest = readManifest(pkg);
      const declared = new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {}),
      ]);
      const imported = importedPackages(pkg, ['.js', '.mjs', '.cjs', '.d.ts']);
      const undeclared = [...imported]
        .filter(([name]) => !declared.has(name))
        .map(([name, files]) => `imports ${name} (${files[0]}) without depending on it`);
      // A runtime dependency nothing loads is installed into every app for nothing.
      const unused = Object.keys(manifest.dependencies ?? {})
        .filter((name) => !mentionsPackage(pkg, name))
        .map((name) => `depends on ${name}, which its code never loads`);
      return [...undeclared, ...unused];
    });
    expect(problems).toEqual({});
  });

  it('point exports, types and bin at shipped JavaScript and declarations', () => {
    const problems = problemsOfEach((pkg) => {
      const found: string[] = [];
      const manifest = readManifest(pkg);
      const targets = exportTargets(manifest.exports);
      if (targets.length === 0) found.push('no exports');
      for (const { path, target } of targets) {
        const where = `exports ${path.join(' > ')} -> ${target}`;
        if (!pkg.files.includes(target.replace(/^\.\//, ''))) found.push(`${where}: not in the tarball`);
        const wanted = path.includes('types') ? /\.d\.ts$/ : /\.js$/;
        if (!wanted.test(target)) found.push(`${where}: expected ${wanted}`);
      }
      const bins = typeof manifest.bin === 'string' ? { bin: manifest.bin } : (manifest.bin ?? {});
      for (const [name, target] of Object.entries(bins)) {
        if (!pkg.files.includes(target.replace(/^\.\//, '')))
          found.push(`bin ${name} -> ${target}: not in the tarball`);
        else if (!readFileSync(join(pkg.extractDir, target), 'utf8').startsWith('#!/usr/bin/env node\n')) {
          found.push(`bin ${name} -> ${target}: no node shebang`);
        }
      }
      if (!/^>=22(\.|$)/.test(manifest.engines?.node ?? '')) found.push(`engines.node is ${manifest.engines?.node}`);
      return found;
    });
    expect(problems).toEqual({});
  });

  it('ship built code only: no TypeScript sources, tests or test and build helpers', () => {
    const problems = problemsOfEach((pkg) =>
      pkg.files.filter(
        (file) =>
          (/\.(c|m)?ts$/.test(file) && !/\.d\.(c|m)?ts$/.test(file)) ||
          /\.test\.|test-support|test-helpers|source-hooks|build-client|\.tsbuildinfo$/.test(file) ||
          !/^(package\.json|README\.md|LICENSE|dist\/|public\/|generated\/[^/]+\.cjs$)/.test(file),
      ),
    );
    expect(problems).toEqual({});
  });

  it('pass publint with no error or warning', async () => {
    const problems: Record<string, string[]> = {};
    for (const pkg of packed) {
      const tarball = readFileSync(pkg.tarball);
      const { messages, pkg: manifest } = await publint({
        pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
        level: 'warning',
        strict: true,
      });
      if (messages.length > 0) {
        problems[pkg.name] = messages.map(
          (message) => `${message.type}: ${formatMessage(message, manifest, { color: false })}`,
        );
      }
    }
    expect(problems).toEqual({});
  });
});

describe.skipIf(missing.length > 0)(`an app that installs the tarballs with npm on Node ${nodeVersion}`, () => {
  let app: ChildProcess | undefined;
  const db = join(work, 'traces.db');

  beforeAll(() => {
    execFileSync('mkdir', ['-p', appDir]);
    writeFileSync(
      join(appDir, 'package.json'),
      `${JSON.stringify({ name: 'lifeline-install-check', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
    );
    copyFileSync(join(repoRoot, 'test', 'install', 'app', 'server.js'), join(appDir, 'server.js'));
    // Every tarball in one install, so the packages that depend on each other
    // (the manifests name plain versions) resolve to the tarballs, never to
    // the registry; everything else comes from the registry.
    npm(['install', ...packed.map((pkg) => pkg.tarball), 'express@^5', 'pg@^8'], appDir);
  }, 300_000);

  afterAll(() => {
    app?.kill('SIGKILL');
  });

  it('installs each package of Lifeline from its tarball, once, with no link into the workspace', () => {
    const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; link?: boolean }>;
    };
    for (const pkg of packed) {
      const copies = Object.keys(lock.packages).filter((path) => path.endsWith(`node_modules/${pkg.name}`));
      expect(copies, pkg.name).toEqual([`node_modules/${pkg.name}`]);
      expect(lock.packages[`node_modules/${pkg.name}`]?.resolved ?? '', pkg.name).toMatch(/^file:.*\.tgz$/);
    }
    for (const [path, entry] of Object.entries(lock.packages)) {
      expect(entry.link ?? false, path).toBe(false);
      if (entry.resolved && !entry.resolved.startsWith('file:'))
        expect(entry.resolved, path).toMatch(/^https:\/\/registry\.npmjs\.org\//);
    }
  });

  it('resolves import-in-the-middle and require-in-the-middle to one copy each', () => {
    // @lifeline/node registers import-in-the-middle's loader and the
    // instrumentations register their hooks with it: two copies keep two
    // registries, and ES modules would load unpatched without a word.
    const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    for (const name of ['import-in-the-middle', 'require-in-the-middle']) {
      const copies = Object.keys(lock.packages).filter((path) => path.endsWith(`node_modules/${name}`));
      expect(copies, name).toEqual([`node_modules/${name}`]);
    }
  });

  it('records a request of an express + pg app run with --import @lifeline/node/register', async () => {
    app = spawn(nodeExe, ['--import', '@lifeline/node/register', 'server.js'], {
      cwd: appDir,
      env: {
        ...childEnv,
        LIFELINE_DB: db,
        OTEL_SERVICE_NAME: 'install-check',
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    app.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const port = await new Promise<number>((resolvePort, reject) => {
      let stdout = '';
      app?.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /listening (\d+)/.exec(stdout);
        if (match) resolvePort(Number(match[1]));
      });
      app?.once('exit', (code) => reject(new Error(`the app exited (${code}) before listening:\n${stderr}`)));
    });
    for (const id of [1, 2, 3]) {
      const response = await fetch(`http://127.0.0.1:${port}/users/${id}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ id, name: 'Ann' });
    }
    const exited = new Promise<number | null>((resolveExit) => app?.once('exit', (code) => resolveExit(code)));
    app.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).not.toMatch(/Error|Warning|deprecat/i);
    expect(existsSync(db)).toBe(true);
  }, 60_000);

  it('lists the requests with npx lifeline list', () => {
    const out = npm(['exec', '--no', '--', 'lifeline', 'list', '--db', db, '--json'], appDir);
    const rows = JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)) as {
      route?: string;
      service?: string;
    }[];
    expect(rows).toHaveLength(3);
    expect(rows.every((row) => JSON.stringify(row).includes('/users/:id'))).toBe(true);
    const table = npm(['exec', '--no', '--', 'lifeline', 'list', '--db', db], appDir);
    expect(table).toContain('install-check');
    expect(table).toContain('GET /users/:id');
  }, 120_000);

  it('exports the last request as Markdown with a Mermaid diagram of the app and PostgreSQL', async () => {
    const md = npm(
      ['exec', '--no', '--', 'lifeline', 'export', 'last', '--db', db, '--format', 'md', '--no-timings'],
      appDir,
    );
    const diagram = /```mermaid\n([\s\S]*?)```/.exec(md)?.[1] ?? '';
    expect(diagram).toMatch(/^sequenceDiagram/);
    expect(diagram).toContain('install-check');
    expect(diagram).toMatch(/postgresql test/);
    await parseMermaid(diagram);
  }, 120_000);

  it(`reports the installed size of @lifeline/node with its dependencies`, () => {
    const size = installedSize(appDir, '@lifeline/node');
    const megabytes = (size.bytes / 1024 / 1024).toFixed(1);
    console.log(
      `[install] Node ${nodeVersion}: @lifeline/node installs ${megabytes} MiB in ${size.packages.length} packages`,
    );
    // gRPC, the Node SDK and the exporters of other signals are never loaded
    // by @lifeline/node; an app must not install them through it. The OTLP
    // trace exporters (HTTP/protobuf and HTTP/JSON) are its dependencies for
    // sending the recorded spans to a team's Collector as well, loaded only
    // when an OTLP endpoint is set; their transformer brings the logs and
    // metrics SDKs' types along.
    const unwanted = size.packages.filter(
      (name) =>
        /@grpc\/|@opentelemetry\/(sdk-node|exporter-)/.test(name) &&
        !/^@opentelemetry\/exporter-trace-otlp-(proto|http)$/.test(name),
    );
    expect(unwanted).toEqual([]);
  });
});
