/**
 * Telling the developer when Lifeline started too late to record the
 * libraries it instruments. An ES module's static imports are evaluated
 * before its first line runs, so `import express ...; await startLifeline()`
 * in one file loads express before the instrumentation's hooks exist: its
 * calls are never recorded, and nothing else would say so.
 */
import { createRequire } from 'node:module';
import type { InstrumentationName } from './instrumentations.js';

/**
 * Of `modules` (package names such as `pg` or `@redis/client`, or Node
 * built-ins such as `http`), those this process has already loaded.
 * Packages are found among the modules loaded through the CommonJS loader,
 * which holds every CommonJS package an ES module imported as well; Node
 * built-ins among the ones Node has loaded (`process.moduleLoadList`). An
 * ES-module-only package an app imported cannot be seen, and is not named.
 *
 * @example
 * ```ts
 * modulesLoadedAlready(['express', 'pg', 'http']); // ['express', 'http'] after `import express from 'express'`
 * ```
 */
export function modulesLoadedAlready(modules: readonly string[]): string[] {
  const cached = Object.keys(createRequire(import.meta.url).cache);
  const builtIns = new Set(
    ((process as { moduleLoadList?: readonly string[] }).moduleLoadList ?? [])
      .filter((entry) => entry.startsWith('NativeModule '))
      .map((entry) => entry.slice('NativeModule '.length)),
  );
  return modules.filter((name) => {
    if (builtIns.has(name)) return true;
    const folder = `/node_modules/${name}/`;
    return cached.some((path) => path.replaceAll('\\', '/').includes(folder));
  });
}

/** Joins names for a sentence: `a`, `a and b`, `a, b and c`. */
function listed(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

const warnedKey = Symbol.for('lifeline.node.late-start-warned');

/**
 * The warning for modules loaded before Lifeline started, or `undefined`
 * when there are none.
 */
export function lateStartWarning(loaded: readonly string[]): string | undefined {
  if (loaded.length === 0) return undefined;
  const them = loaded.length === 1 ? 'it' : 'them';
  return (
    `Lifeline: ${listed(loaded)} ${loaded.length === 1 ? 'was' : 'were'} loaded before Lifeline started, ` +
    `so calls through ${them} are not recorded. Start Lifeline before the app loads ${them}: ` +
    '`node --import @lifeline/node/register app.js`, or await startLifeline() in a file of its own ' +
    "and import the app after it (`await import('./app.js')`): an ES module's static imports " +
    'run before its first line.\n'
  );
}

/**
 * Writes {@link lateStartWarning} for `modules` to stderr, once per process,
 * whether or not an OpenTelemetry logger is set: losing every span of a
 * library must never be silent.
 */
export function warnIfStartedLate(modules: readonly string[]): void {
  const holder = globalThis as typeof globalThis & { [warnedKey]?: true };
  if (holder[warnedKey]) return;
  const warning = lateStartWarning(modulesLoadedAlready(modules));
  if (warning === undefined) return;
  holder[warnedKey] = true;
  process.stderr.write(warning);
}

/**
 * Per built-in instrumentation, the modules whose early load means it records
 * nothing, the one an app imports first: `redis` loads `@redis/client`, and
 * naming both would say the same thing twice.
 */
const lateStartModules: Record<InstrumentationName, readonly string[]> = {
  http: ['http', 'https'],
  express: ['express'],
  undici: [],
  pg: ['pg', 'pg-pool'],
  mysql2: ['mysql2'],
  ioredis: ['ioredis'],
  redis: ['redis', '@redis/client', '@node-redis/client'],
  amqplib: ['amqplib'],
  bullmq: ['bullmq'],
  'better-sqlite3': ['better-sqlite3'],
};

/** Of each enabled built-in instrumentation, the first of its modules the process loaded already. */
export function namedForLateStart(enabled: Partial<Record<InstrumentationName, boolean>>): string[] {
  const named: string[] = [];
  for (const [name, modules] of Object.entries(lateStartModules) as [InstrumentationName, readonly string[]][]) {
    if (enabled[name] === false) continue;
    const first = modulesLoadedAlready(modules)[0];
    if (first !== undefined) named.push(first);
  }
  return named;
}
