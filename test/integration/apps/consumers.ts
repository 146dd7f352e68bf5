/**
 * A RabbitMQ (amqplib) service for the consumer suite: a request publishes a
 * few messages at once, and a consumer that takes several messages at a time
 * (prefetch) handles them concurrently with an async handler that queries
 * Postgres. Two queues: one acknowledged by the handler when it is done, one
 * consumed with automatic acknowledgement (`noAck`), where nothing but the
 * handler's promise says when a message was handled.
 *
 * Environment: PORT, RUN_ID (keeps queues apart).
 */
import { lifelineMiddleware } from '@lifeline/node';
import amqplib from 'amqplib';
import express from 'express';
import pg from 'pg';

const runId = process.env.RUN_ID ?? 'local';
const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 4 });
const modes = ['ack', 'noack', 'early-ack', 'failing'] as const;
type Mode = (typeof modes)[number];
const queueName = (mode: Mode) => `lifeline-consumers-${mode}-${runId}`;

const connection = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
const publisher = await connection.createChannel();
const consumers: amqplib.Channel[] = [];
for (const mode of modes) {
  const channel = await connection.createChannel();
  consumers.push(channel);
  await channel.assertQueue(queueName(mode), { durable: false, autoDelete: true });
  // Several messages at a time: their handlers overlap.
  await channel.prefetch(4);
  const noAck = mode === 'noack' || mode === 'failing';
  await channel.consume(
    queueName(mode),
    async (message) => {
      if (message === null) return;
      const { part } = JSON.parse(message.content.toString()) as { part: number };
      // Acknowledged at once, handled after: the message's work goes on.
      if (mode === 'early-ack') channel.ack(message);
      await pool.query('SELECT $1::int AS part, pg_sleep(0.2)', [part]);
      await pool.query('SELECT $1::int AS done', [part]);
      if (mode === 'failing') throw new Error(`part ${part} could not be filed`);
      if (mode === 'ack') channel.ack(message);
    },
    { noAck },
  );
}

// A handler that throws under noAck leaves a rejected promise nobody awaits.
process.on('unhandledRejection', () => {});

const app = express();
// Tells the tests each request's trace id (X-Lifeline-Trace).
app.use(lifelineMiddleware());
app.post('/batches/:mode', (req, res) => {
  const mode = req.params.mode as Mode;
  if (!modes.includes(mode)) {
    res.status(400).json({ error: `mode must be one of ${modes.join(', ')}` });
    return;
  }
  for (const part of [1, 2]) publisher.sendToQueue(queueName(mode), Buffer.from(JSON.stringify({ part })));
  res.status(202).json({ parts: 2 });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void (async () => {
    for (const channel of consumers) await channel.close().catch(() => {});
    await publisher.close().catch(() => {});
    await connection.close().catch(() => {});
    await pool.end();
  })();
});
