/**
 * Which real services the examples use. Everything has an embedded fallback
 * so the demo needs no server, but where PostgreSQL, Redis or RabbitMQ answer
 * (on their usual local ports, or at DATABASE_URL / REDIS_URL / AMQP_URL) the
 * examples use them, because their diagrams are the ones people recognise.
 */
import { connect } from 'node:net';

/** The services the examples found. */
export interface Backends {
  /** PostgreSQL URL, or undefined for embedded SQLite. */
  readonly postgresUrl?: string;
  /** Redis URL for the recommendations cache, or undefined for no cache. */
  readonly redisUrl?: string;
  /** RabbitMQ URL for the notification queue, or undefined for the SQLite job table. */
  readonly amqpUrl?: string;
  /** One line per service that was asked for (or looked for) and did not answer. */
  readonly unreachable: readonly string[];
}

const defaults = {
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  redis: 'redis://127.0.0.1:6379',
  amqp: 'amqp://guest:guest@127.0.0.1:5672',
};

/** Resolves when something accepts a TCP connection at the URL's host and port. */
function answers(url: string, defaultPort: number, timeoutMs = 700): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    port = Number(parsed.port) || defaultPort;
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Looks for PostgreSQL, Redis and RabbitMQ. `EXAMPLE_BACKENDS=embedded`
 * skips the search and uses SQLite for everything (no cache), which is what
 * a machine without those servers gets anyway.
 *
 * @example
 * ```ts
 * const backends = await detectBackends(process.env);
 * for (const line of describeBackends(backends)) console.log(line);
 * ```
 */
export async function detectBackends(env: NodeJS.ProcessEnv): Promise<Backends> {
  if (env.EXAMPLE_BACKENDS === 'embedded') return { unreachable: [] };
  const wanted = {
    postgres: env.DATABASE_URL ?? defaults.postgres,
    redis: env.REDIS_URL ?? defaults.redis,
    amqp: env.AMQP_URL ?? defaults.amqp,
  };
  const [postgres, redis, amqp] = await Promise.all([
    answers(wanted.postgres, 5432),
    answers(wanted.redis, 6379),
    answers(wanted.amqp, 5672),
  ]);
  const unreachable: string[] = [];
  if (!postgres) unreachable.push(`PostgreSQL (${redact(wanted.postgres)}): using embedded SQLite instead`);
  if (!redis) unreachable.push(`Redis (${redact(wanted.redis)}): recommendations run without a cache`);
  if (!amqp) unreachable.push(`RabbitMQ (${redact(wanted.amqp)}): notifications go through a SQLite job table`);
  return {
    ...(postgres ? { postgresUrl: wanted.postgres } : {}),
    ...(redis ? { redisUrl: wanted.redis } : {}),
    ...(amqp ? { amqpUrl: wanted.amqp } : {}),
    unreachable,
  };
}

/** Human-readable lines saying what is used and what was skipped. */
export function describeBackends(backends: Backends): string[] {
  return [
    `database: ${backends.postgresUrl ? `PostgreSQL at ${redact(backends.postgresUrl)}` : 'embedded SQLite'}`,
    `cache:    ${backends.redisUrl ? `Redis at ${redact(backends.redisUrl)}` : 'none'}`,
    `queue:    ${backends.amqpUrl ? `RabbitMQ at ${redact(backends.amqpUrl)}` : 'SQLite job table'}`,
    ...backends.unreachable.map((line) => `not reachable: ${line}`),
  ];
}

/** Hides a password in a URL before it is printed. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
