/**
 * The loader hook that lets instrumentations patch libraries an ES module app
 * `import`s (require-in-the-middle only sees `require`). Only the modules the
 * instrumentations name are wrapped; every other import loads untouched.
 */
import { register } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { register as registerSyncHooks, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';

const installedKey = Symbol.for('lifeline.node.esm-hook');

type GlobalWithHook = typeof globalThis & { [installedKey]?: true };

/**
 * Modules Lifeline's built-in instrumentations patch. Listed here rather than
 * asked of the instrumentations because loading those packages imports
 * `http` and friends, and a module imported before the hook exists stays
 * unwrapped for the whole process.
 */
export const builtInInstrumentedModules: readonly string[] = [
  'http',
  'https',
  'express',
  'pg',
  'pg-pool',
  'mysql2',
  'ioredis',
  'redis',
  '@redis/client',
  '@node-redis/client',
  'amqplib',
  'better-sqlite3',
];

/** The module names the given instrumentations patch (`pg`, `express`, `http`, ...). */
export function instrumentedModules(instrumentations: readonly Instrumentation[]): string[] {
  const names = new Set<string>();
  for (const instrumentation of instrumentations) {
    // InstrumentationBase has it; the Instrumentation interface does not promise it.
    const withDefinitions = instrumentation as { getModuleDefinitions?: () => readonly { name: string }[] };
    for (const definition of withDefinitions.getModuleDefinitions?.() ?? []) names.add(definition.name);
  }
  return [...names];
}

/**
 * Registers import-in-the-middle's loader once per process, limited to
 * `modules`. Where Node supports it the hooks run synchronously on the main
 * thread (`module.registerHooks`): they see every import at once and need no
 * loader thread. Older Node 22 releases get the off-thread `module.register`
 * loader, which receives the same list when it starts.
 *
 * It must run before the app imports those modules; libraries imported
 * earlier stay unpatched.
 *
 * @example
 * ```ts
 * installEsmHook([...builtInInstrumentedModules, ...instrumentedModules(extra)]);
 * await import('./app.js');
 * ```
 */
export function installEsmHook(modules: readonly string[]): void {
  const holder = globalThis as GlobalWithHook;
  if (holder[installedKey]) return;
  holder[installedKey] = true;
  if (supportsSyncHooks()) {
    registerSyncHooks({ include: [...modules] });
    return;
  }
  register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: [...modules] } });
}
