/**
 * Which real services are reachable. A suite that needs a missing one is
 * skipped with a warning on a developer's machine, and fails under CI, where
 * every service must be there.
 */
import { Socket } from 'node:net';

/** The loopback services the integration suite uses. */
export const services = {
  postgres: 5432,
  mariadb: 3306,
  redis: 6379,
  rabbitmq: 5672,
} as const;

/** Name of a service in {@link services}. */
export type ServiceName = keyof typeof services;

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}

/**
 * Resolves to the names of the services that are missing. Under CI it throws
 * instead, naming them, so a missing service can never pass as a skip.
 *
 * @example
 * ```ts
 * const missing = await missingServices('postgres');
 * describe.skipIf(missing.length > 0)('pg', () => { ... });
 * ```
 */
export async function missingServices(...names: ServiceName[]): Promise<ServiceName[]> {
  const missing: ServiceName[] = [];
  for (const name of names) {
    if (!(await reachable(services[name]))) missing.push(name);
  }
  if (missing.length > 0) {
    const list = missing.map((name) => `${name} (127.0.0.1:${services[name]})`).join(', ');
    if (process.env.CI) throw new Error(`integration services missing under CI: ${list}`);
    console.warn(`[integration] skipping: ${list} not reachable`);
  }
  return missing;
}
