/**
 * Live updates over Server-Sent Events. The store is the only source of truth:
 * polling its change sequence (rather than hooking our own writes) is what lets
 * traces written by other processes into the same SQLite file appear too.
 */
import { bigintToJson } from '@lifeline/core';
import type { SpanStore } from '@lifeline/store';
import type { Request, RequestHandler, Response } from 'express';

/** Options of the live-update hub. */
export interface LiveHubOptions {
  readonly store: SpanStore;
  /** How often the store is polled while at least one client listens. */
  readonly pollIntervalMs?: number;
  /** How often an idle stream gets a comment line, so proxies keep it open. */
  readonly heartbeatMs?: number;
}

/** The Server-Sent Events endpoint and its polling loop. */
export interface LiveHub {
  /** Express handler for `GET /api/events`. */
  readonly handler: RequestHandler;
  /** Polls at once instead of waiting for the next tick (after this process stored spans). */
  nudge(): void;
  /** Number of connected clients. */
  readonly clientCount: number;
  /** Ends every stream and stops polling. */
  close(): void;
}

/**
 * Creates the hub. Polling runs only while clients are connected; each batch of
 * new or updated trace summaries is sent as one `traces` event whose id is the
 * store sequence, so a reconnecting EventSource resumes where it left off.
 */
export function createLiveHub(options: LiveHubOptions): LiveHub {
  const { store } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const clients = new Set<Response>();
  // Change sequence already delivered; 0 until the first listener connects.
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let nudged: NodeJS.Immediate | undefined;

  const send = (client: Response, event: string, data: unknown, id?: number): void => {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    client.write(`event: ${event}\n${idLine}data: ${JSON.stringify(data, bigintToJson)}\n\n`);
  };

  const poll = (): void => {
    if (clients.size === 0) return;
    // A burst larger than one batch is sent as several events, oldest first.
    for (let batch = 0; batch < 20; batch++) {
      let changes: ReturnType<SpanStore['changesSince']>;
      try {
        changes = store.changesSince(seq, { limit: BATCH });
      } catch {
        // A busy or briefly locked database is retried on the next tick.
        return;
      }
      if (changes.items.length === 0) return;
      seq = Math.max(seq, changes.seq);
      for (const client of clients) send(client, 'traces', changes.items, seq);
      if (changes.items.length < BATCH) return;
    }
  };

  const start = (): void => {
    timer ??= setInterval(poll, pollIntervalMs);
    heartbeat ??= setInterval(() => {
      for (const client of clients) client.write(': ping\n\n');
    }, heartbeatMs);
  };

  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    if (heartbeat !== undefined) clearInterval(heartbeat);
    timer = undefined;
    heartbeat = undefined;
  };

  const handler: RequestHandler = (request: Request, response: Response) => {
    const resumeFrom = parseLastEventId(request);
    // While nobody listened the cursor stood still; a new listener starts at the present.
    if (clients.size === 0) seq = headSeq(store, seq);
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    response.write(`retry: 2000\n\n`);
    send(response, 'ready', { seq });
    // A client that reconnects after missing events first gets what it missed.
    if (resumeFrom !== undefined && resumeFrom < seq) {
      const missed = store.changesSince(resumeFrom, { limit: BATCH });
      if (missed.items.length > 0) send(response, 'traces', missed.items, missed.seq);
    }
    clients.add(response);
    start();
    request.on('close', () => {
      clients.delete(response);
      if (clients.size === 0) stop();
    });
  };

  return {
    handler,
    nudge() {
      if (clients.size === 0 || nudged !== undefined) return;
      nudged = setImmediate(() => {
        nudged = undefined;
        poll();
      });
    },
    get clientCount() {
      return clients.size;
    },
    close() {
      stop();
      if (nudged !== undefined) clearImmediate(nudged);
      for (const client of clients) client.end();
      clients.clear();
    },
  };
}

const BATCH = 500;

/**
 * The store's current change sequence. The store offers no direct read of it,
 * so the change feed is walked forward from the last known position in large
 * pages (the whole feed once, then only what changed while no one listened).
 */
function headSeq(store: SpanStore, from: number): number {
  let seq = from;
  for (;;) {
    const changes = store.changesSince(seq, { limit: 5000 });
    if (changes.items.length === 0) return seq;
    seq = changes.seq;
  }
}

function parseLastEventId(request: Request): number | undefined {
  const header = request.headers['last-event-id'];
  const raw = typeof header === 'string' ? header : typeof request.query.since === 'string' ? request.query.since : '';
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}
