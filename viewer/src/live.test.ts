import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type SpanStore } from '@lifeline/store';
import { healthTrace } from '@lifeline/test-support/scenes';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLiveHub, type LiveHub } from './live.js';

const MAX_BUFFERED = 64 * 1024;

describe('live updates under a client that stops reading', () => {
  let dir: string;
  let store: SpanStore;
  let hub: LiveHub;
  let server: Server;
  let port: number;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-live-'));
    store = openStore({ path: join(dir, 'traces.db') });
    hub = createLiveHub({ store, pollIntervalMs: 5, maxBufferedBytes: MAX_BUFFERED, stalledTimeoutMs: 60_000 });
    const app = express();
    app.get('/api/events', hub.handler);
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    hub.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens an event stream over a raw socket and stops reading once the headers are in. */
  async function stalledClient(): Promise<{ socket: Socket; received: () => string }> {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    await waitFor(() => text.includes('event: ready'));
    socket.pause();
    return { socket, received: () => text };
  }

  /** Writes traces in batches and lets the hub poll, until `enough` bytes went out as events. */
  async function burst(traces: number): Promise<void> {
    for (let written = 0; written < traces; written += 500) {
      const spans = [];
      for (let i = 0; i < 500; i++) spans.push(...healthTrace());
      store.writeSpans(spans);
      hub.nudge();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  it('keeps what a stalled client costs under the cap and tells it to resync once it reads again', async () => {
    const client = await stalledClient();
    // Far more than the loopback socket buffers hold: the rest would pile up in the server.
    await burst(40_000);
    expect(hub.clientCount).toBe(1);
    expect(hub.stalledCount).toBe(1);
    // The cap, plus the one event whose write crossed it (at most 500 summaries).
    expect(hub.bufferedBytes).toBeLessThan(MAX_BUFFERED + 512 * 1024);

    client.socket.resume();
    await waitFor(() => client.received().includes('event: resync'));
    expect(hub.stalledCount).toBe(0);
    // Once resynced it is sent new traces again.
    const before = client.received().length;
    store.writeSpans(healthTrace());
    hub.nudge();
    await waitFor(() => client.received().slice(before).includes('event: traces'));
  });

  it('ends the stream of a client that stays behind past the timeout', async () => {
    hub.close();
    hub = createLiveHub({ store, pollIntervalMs: 5, maxBufferedBytes: MAX_BUFFERED, stalledTimeoutMs: 200 });
    const app = express();
    app.get('/api/events', hub.handler);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    port = (server.address() as AddressInfo).port;

    await stalledClient();
    await burst(40_000);
    await waitFor(() => hub.clientCount === 0);
    expect(hub.stalledCount).toBe(0);
    expect(hub.bufferedBytes).toBe(0);
  });

  it('keeps sending to a client that reads while another one is stalled', async () => {
    await stalledClient();
    const reader = connect(port, '127.0.0.1');
    sockets.push(reader);
    let text = '';
    reader.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    reader.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await waitFor(() => text.includes('event: ready'));
    await burst(20_000);
    expect(hub.stalledCount).toBe(1);
    await waitFor(() => (text.match(/event: traces/g) ?? []).length >= 40);
    expect(text).not.toContain('event: resync');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a new listener of live updates', () => {
  it('starts at the newest change without reading the changes before it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-live-head-'));
    const store = openStore({ path: join(dir, 'traces.db') });
    const stored = 1200;
    for (let written = 0; written < stored; written += 300) {
      store.writeSpans(Array.from({ length: 300 }, () => healthTrace()).flat());
    }
    // The real store, with every summary handed out by its change feed counted.
    let rowsRead = 0;
    const counted = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'changesSince') {
          return (seq: number, options?: { limit?: number }) => {
            const changes = target.changesSince(seq, options);
            rowsRead += changes.items.length;
            return changes;
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const hub = createLiveHub({ store: counted, pollIntervalMs: 5 });
    const app = express();
    app.get('/api/events', hub.handler);
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    try {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      socket.write('GET /api/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
      await waitFor(() => text.includes('event: ready'));
      const ready = /event: ready\ndata: (\{[^\n]*\})/.exec(text)?.[1];
      expect(JSON.parse(ready ?? '{}')).toEqual({ seq: store.headSeq() });
      expect(store.headSeq()).toBeGreaterThan(0);
      expect(rowsRead).toBe(0);
      // What is written from now on still arrives.
      store.writeSpans(healthTrace());
      await waitFor(() => text.includes('event: traces'));
      expect(rowsRead).toBe(1);
    } finally {
      socket.destroy();
      hub.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
