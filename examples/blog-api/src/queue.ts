/**
 * The notification queue between the blog API and its worker: RabbitMQ when
 * it answers (traced by Lifeline's amqplib instrumentation), else a job table
 * in a SQLite file that this module traces itself, the way a queue client's
 * instrumentation would: a producer span that carries its context inside the
 * message, and a consumer span that continues the same trace.
 */
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import { preciseNow } from './data-store.ts';

/** What the worker is asked to do after a comment is posted. */
export interface NotificationJob {
  readonly articleId: number;
  readonly commentId: number;
}

/** Either side of the notification queue. */
export interface JobQueue {
  /** `RabbitMQ queue blog.notifications` or `SQLite job table …`. */
  readonly description: string;
  publish(job: NotificationJob): Promise<void>;
  /** Calls `handler` for every job until {@link JobQueue.close}. */
  consume(handler: (job: NotificationJob) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link openJobQueue}. */
export interface OpenJobQueueOptions {
  readonly amqpUrl?: string | undefined;
  /** SQLite file for the job table when there is no RabbitMQ. */
  readonly sqlitePath: string;
}

/** Name of the queue (RabbitMQ) or of the job table's destination (SQLite). */
export const notificationQueue = 'blog.notifications';

/**
 * Opens the queue.
 *
 * @example
 * ```ts
 * const queue = await openJobQueue({ amqpUrl: process.env.AMQP_URL, sqlitePath: '.lifeline/blog-jobs.db' });
 * await queue.publish({ articleId: 1, commentId: 7 });
 * ```
 */
export async function openJobQueue(options: OpenJobQueueOptions): Promise<JobQueue> {
  return options.amqpUrl ? openRabbitQueue(options.amqpUrl) : openSqliteQueue(options.sqlitePath);
}

async function openRabbitQueue(url: string): Promise<JobQueue> {
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  await channel.assertQueue(notificationQueue, { durable: false });
  return {
    description: `RabbitMQ queue ${notificationQueue}`,
    async publish(job) {
      channel.sendToQueue(notificationQueue, Buffer.from(JSON.stringify(job)), { contentType: 'application/json' });
    },
    async consume(handler) {
      await channel.prefetch(4);
      await channel.consume(notificationQueue, (message) => {
        if (!message) return;
        const job = JSON.parse(message.content.toString('utf8')) as NotificationJob;
        handler(job).then(
          () => channel.ack(message),
          (error: unknown) => {
            console.error(`notification job failed: ${(error as Error).message}`);
            channel.nack(message, false, false);
          },
        );
      });
    },
    async close() {
      await channel.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}

interface JobRow {
  readonly id: number;
  readonly payload: string;
  readonly headers: string;
}

function openSqliteQueue(path: string): JobQueue {
  const tracer = trace.getTracer('@lifeline-example/job-queue');
  // The table's own reads and writes are the queue's plumbing, like AMQP
  // frames: they stay out of the diagram, which shows publish and process.
  const quietly = <T>(work: () => T): T => context.with(suppressTracing(context.active()), work);
  const db = quietly(() => {
    const handle = new Database(path);
    handle.pragma('journal_mode = WAL');
    handle.pragma('busy_timeout = 5000');
    handle.exec(
      'CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, payload TEXT NOT NULL, headers TEXT NOT NULL, taken INTEGER NOT NULL DEFAULT 0)',
    );
    return handle;
  });
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const attributes = (operation: 'send' | 'process') => ({
    'messaging.system': 'sqlite',
    'messaging.destination.name': notificationQueue,
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
  });

  return {
    description: `SQLite job table in ${path}`,
    async publish(job) {
      await tracer.startActiveSpan(
        `send ${notificationQueue}`,
        { kind: SpanKind.PRODUCER, startTime: preciseNow(), attributes: attributes('send') },
        async (span: Span) => {
          try {
            const headers: Record<string, string> = {};
            propagation.inject(context.active(), headers);
            const info = quietly(() =>
              db
                .prepare('INSERT INTO jobs (queue, payload, headers) VALUES (?, ?, ?)')
                .run(notificationQueue, JSON.stringify(job), JSON.stringify(headers)),
            );
            span.setAttribute('messaging.message.id', String(info.lastInsertRowid));
          } finally {
            span.end(preciseNow());
          }
        },
      );
    },
    async consume(handler) {
      const take = db.prepare(
        'UPDATE jobs SET taken = 1 WHERE id IN (SELECT id FROM jobs WHERE queue = ? AND taken = 0 ORDER BY id LIMIT 8) RETURNING id, payload, headers',
      );
      let busy = false;
      const poll = async () => {
        if (busy || closed) return;
        busy = true;
        try {
          const rows = quietly(() => take.all(notificationQueue)) as JobRow[];
          for (const row of rows) {
            const parent = propagation.extract(ROOT_CONTEXT, JSON.parse(row.headers) as Record<string, string>);
            const producer = trace.getSpanContext(parent);
            await tracer.startActiveSpan(
              `process ${notificationQueue}`,
              {
                kind: SpanKind.CONSUMER,
                startTime: preciseNow(),
                attributes: { ...attributes('process'), 'messaging.message.id': String(row.id) },
                ...(producer ? { links: [{ context: producer }] } : {}),
              },
              parent,
              async (span: Span) => {
                try {
                  await handler(JSON.parse(row.payload) as NotificationJob);
                } catch (error) {
                  span.recordException(error as Error);
                  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
                  console.error(`notification job ${row.id} failed: ${(error as Error).message}`);
                } finally {
                  span.end(preciseNow());
                }
              },
            );
          }
        } finally {
          busy = false;
        }
      };
      timer = setInterval(() => void poll(), 50);
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      quietly(() => db.close());
    },
  };
}
