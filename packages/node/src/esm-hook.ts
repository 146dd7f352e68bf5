/**
 * The loader hook that lets instrumentations patch libraries an ES module app
 * `import`s (require-in-the-middle only sees `require`). The hook is told
 * which modules to wrap through a message channel, so every other import
 * loads untouched.
 */
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';

const installedKey = Symbol.for('lifeline.node.esm-hook');

type GlobalWithHook = typeof globalThis & { [installedKey]?: () => Promise<void> };

/**
 * Registers import-in-the-middle's loader once per process and returns a
 * function that resolves when the loader has acknowledged every module an
 * instrumentation asked to wrap. Await it after enabling instrumentations and
 * before the app imports its libraries.
 *
 * @example
 * ```ts
 * const ready = installEsmHook();
 * sdk.start();
 * await ready();
 * await import('./app.js');
 * ```
 */
export function installEsmHook(): () => Promise<void> {
  const holder = globalThis as GlobalWithHook;
  const existing = holder[installedKey];
  if (existing !== undefined) return existing;
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  holder[installedKey] = waitForAllMessagesAcknowledged;
  return waitForAllMessagesAcknowledged;
}
