/**
 * A BullMQ service for the job-processing suite: a request enqueues a job,
 * and the job is processed by a sandboxed processor (a file BullMQ runs in a
 * forked child process, or in a worker thread), or by an inline worker whose
 * first attempt fails so that BullMQ retries it, or by an inline worker that
 * runs two jobs at a time (a request adds two). Every processor queries
 * Postgres. BullMQ records its own spans through `bullmq-otel`.
 *
 * Environment: PORT, RUN_ID (keeps queues apart), STALLED_INTERVAL_MS (how
 * often BullMQ's housekeeping checks for stalled jobs).
 */
import { fileURLToPath } from 'node:url';
import { lifelineMiddleware } from '@lifeline/node';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { Queue, Worker } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import express from 'express';
import pg from 'pg';

const runId = process.env.RUN_ID ?? 'local';
const connection = { host: '127.0.0.1', port: 6379 };
const telemetry = new BullMQOtel({ tracerName: process.env.OTEL_SERVICE_NAME ?? 'jobs' });
const stalledInterval = Number(process.env.STALLED_INTERVAL_MS ?? 30_000);
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 2 });
const processorFile = fileURLToPath(new URL('./job-processor.ts', import.meta.url));

const modes = ['fork', 'thread', 'retry', 'pair'] as const;
type Mode = (typeof modes)[number];
const queueName = (mode: Mode) => `lifeline-jobs-${mode}-${runId}`;

const queues = new Map(modes.map((mode) => [mode, new Queue(queueName(mode), { connection, telemetry })]));
const workers = [
  new Worker(queueName('fork'), processorFile, { connection, telemetry, stalledInterval }),
  new Worker(queueName('thread'), processorFile, { connection, telemetry, stalledInterval, useWorkerThreads: true }),
  new Worker(
    queueName('retry'),
    async (job) => {
      await pool.query('SELECT $1::int AS attempt', [job.attemptsMade + 1]);
      if (job.attemptsMade === 0) throw new Error(`invoice ${job.data.id} not ready yet`);
      return 'sent';
    },
    { connection, telemetry, stalledInterval },
  ),
];
// Two jobs at a time: the two jobs of one request run side by side. The worker
// starts only once the request's answer has gone out (see the route), as a
// worker busy with earlier jobs would: otherwise it may take the first job
// while the request is still answering, and the two jobs no longer both
// start after the answer.
const pairWorker = new Worker(
  queueName('pair'),
  async (job) => {
    await pool.query('SELECT $1::int AS part, pg_sleep(0.2)', [job.data.part]);
  },
  { connection, telemetry, stalledInterval, concurrency: 2, autorun: false },
);
workers.push(pairWorker);
await Promise.all(workers.map((worker) => worker.waitUntilReady()));

const app = express();
// Tells the tests each request's trace id (X-Lifeline-Trace).
app.use(lifelineMiddleware());
app.post('/jobs/:id', async (req, res) => {
  const mode = String(req.query.mode) as Mode;
  const queue = queues.get(mode);
  if (queue === undefined) {
    res.status(400).json({ error: `mode must be one of ${modes.join(', ')}` });
    return;
  }
  if (mode === 'pair') {
    const jobs = await Promise.all(
      [1, 2].map((part) => queue.add('invoice-part', { id: Number(req.params.id), part })),
    );
    res.once('finish', () => {
      // Outside the request's context: the worker's own polling belongs to no request.
      if (!pairWorker.isRunning()) context.with(ROOT_CONTEXT, () => void pairWorker.run());
    });
    res.status(202).json({ jobs: jobs.map((job) => job.id) });
    return;
  }
  const job = await queue.add('invoice', { id: Number(req.params.id) }, mode === 'retry' ? { attempts: 2 } : {});
  res.status(202).json({ job: job.id });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void (async () => {
    await Promise.allSettled(workers.map((worker) => worker.close()));
    for (const queue of queues.values()) {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
    await pool.end();
  })();
});
