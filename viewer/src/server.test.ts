import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type SpanStore } from '@lifeline/store';
import { articleTrace, healthTrace } from '@lifeline/test-support/scenes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createViewerApp } from './app.js';
import { BodyBudget } from './otlp-receiver.js';
import { type RunningViewer, startViewer, UnsafeBindError } from './server.js';

/** A GET with a chosen Host header (fetch does not allow setting it). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

describe('binding and access rules', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-bind-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a non-loopback interface unless remote access is allowed', async () => {
    await expect(startViewer({ port: 0, host: '0.0.0.0', db: join(dir, 'a.db') })).rejects.toThrow(UnsafeBindError);
    await expect(startViewer({ port: 0, host: '0.0.0.0', db: join(dir, 'a.db') })).rejects.toThrow(/allowRemote/);
  });

  it('refuses remote access without a token', async () => {
    await expect(startViewer({ port: 0, host: '0.0.0.0', allowRemote: true, db: join(dir, 'b.db') })).rejects.toThrow(
      /without a token/,
    );
  });

  it.each([
    ['', /empty or only white space/],
    [' ', /empty or only white space/],
    ['\t\n', /empty or only white space/],
    ['a', /1 character; use at least 16/],
    ['0123456789abcde', /15 characters; use at least 16/],
  ])('refuses the weak token %j, on loopback too, and suggests a strong one', async (token, reason) => {
    for (const host of ['0.0.0.0', '127.0.0.1']) {
      const started = startViewer({ port: 0, host, allowRemote: true, token, db: join(dir, 'weak.db') });
      await expect(started).rejects.toThrow(reason);
      await expect(started).rejects.toThrow(/for example [0-9a-f]{32}\)/);
    }
  });

  it('serves remotely with a token, and every request must carry it', async () => {
    const viewer = await startViewer({
      port: 0,
      host: '0.0.0.0',
      allowRemote: true,
      token: 's3cret-0123456789ab',
      db: join(dir, 'c.db'),
    });
    try {
      const base = `http://127.0.0.1:${viewer.port}`;
      const anonymous = await fetch(`${base}/api/health`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
      expect((await fetch(`${base}/api/health`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect(
        (await fetch(`${base}/api/health`, { headers: { authorization: 'Bearer s3cret-0123456789ab' } })).status,
      ).toBe(200);
      const otlp = await fetch(`${base}/v1/traces`, {
        method: 'POST',
        body: '{"resourceSpans":[]}',
        headers: { 'content-type': 'application/json' },
      });
      expect(otlp.status).toBe(401);

      // A browser visit with ?token= gets a cookie, so scripts and the event stream work without the query.
      const visit = await fetch(`${base}/api/health?token=s3cret-0123456789ab`);
      expect(visit.status).toBe(200);
      const cookie = visit.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/lifeline_token=s3cret-0123456789ab; Path=\/; HttpOnly; SameSite=Strict/);
      const withCookie = await fetch(`${base}/api/traces`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
      expect(withCookie.status).toBe(200);
      // Remote names are fine once a token guards the server.
      expect(await getWithHost(`${base}/api/health?token=s3cret-0123456789ab`, 'lifeline.example:4242')).toBe(200);
    } finally {
      await viewer.close();
    }
  });

  it('answers only loopback Host names when no token is set (DNS rebinding)', async () => {
    const viewer = await startViewer({ port: 0, db: join(dir, 'd.db') });
    try {
      expect(await getWithHost(`${viewer.url}/api/health`, `127.0.0.1:${viewer.port}`)).toBe(200);
      expect(await getWithHost(`${viewer.url}/api/health`, `localhost:${viewer.port}`)).toBe(200);
      expect(await getWithHost(`${viewer.url}/api/health`, `attacker.example:${viewer.port}`)).toBe(403);
    } finally {
      await viewer.close();
    }
  });

  it('rejects an out-of-range port before opening anything', async () => {
    await expect(startViewer({ port: 70_000, db: join(dir, 'e.db') })).rejects.toThrow(RangeError);
  });
});

describe('pages and headers', () => {
  let dir: string;
  let viewer: RunningViewer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-pages-'));
    viewer = await startViewer({ port: 0, db: join(dir, 'traces.db') });
  });
  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a strict Content-Security-Policy and hardening headers on every answer', async () => {
    for (const path of ['/', '/api/health', '/styles.css', '/missing']) {
      const response = await fetch(`${viewer.url}${path}`);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(csp).not.toMatch(/unsafe-eval/);
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('serves the page shell for the list and for trace permalinks', async () => {
    const list = await fetch(`${viewer.url}/`);
    const trace = await fetch(`${viewer.url}/traces/${'a'.repeat(32)}`);
    for (const response of [list, trace]) {
      // Without a built bundle the page says how to build it; with one it is the shell.
      const html = await response.text();
      if (response.status === 200) {
        expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
        expect(html).not.toMatch(/<script>(?!<\/script>)/);
      } else {
        expect(response.status).toBe(503);
        expect(html).toContain('build:client');
      }
    }
  });

  it('explains how to build the client when the bundle is missing', async () => {
    const publicDir = join(dir, 'public-without-bundle');
    mkdirSync(publicDir, { recursive: true });
    writeFileSync(join(publicDir, 'index.html'), '<!doctype html><title>shell</title>');
    const store: SpanStore = openStore({ path: join(dir, 'bundle.db') });
    const app = createViewerApp({ store, publicDir });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const response = await fetch(`http://127.0.0.1:${port}/traces/${'b'.repeat(32)}`);
      expect(response.status).toBe(503);
      const html = await response.text();
      expect(html).toContain('browser bundle is missing');
      expect(html).toContain('pnpm --filter @lifeline/viewer run build:client');
      // The API keeps working without the bundle.
      expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
    } finally {
      app.closeLive();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      store.close();
    }
  });
});

describe('live updates', () => {
  let dir: string;
  let db: string;
  let viewer: RunningViewer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-live-'));
    db = join(dir, 'traces.db');
    const seed = openStore({ path: db });
    seed.writeSpans(healthTrace());
    seed.close();
    viewer = await startViewer({ port: 0, db });
  });
  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Reads server-sent events until `until` is satisfied or the time runs out. */
  async function readEvents(
    response: Response,
    until: (events: { event: string; data: string; id?: string }[]) => boolean,
    timeoutMs: number,
  ): Promise<{ event: string; data: string; id?: string }[]> {
    const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
    if (reader === undefined) throw new Error('no body');
    const events: { event: string; data: string; id?: string }[] = [];
    let buffer = '';
    const deadline = Date.now() + timeoutMs;
    try {
      while (!until(events) && Date.now() < deadline) {
        const chunk = await Promise.race([
          reader.read(),
          new Promise<{ done: true; value: undefined }>((resolve) =>
            setTimeout(() => resolve({ done: true, value: undefined }), Math.max(0, deadline - Date.now())),
          ),
        ]);
        if (chunk.done) break;
        buffer += chunk.value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((line) => line !== '' && !line.startsWith(':'))
              .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
          ) as Record<string, string>;
          if (fields.event !== undefined) {
            events.push({
              event: fields.event,
              data: fields.data ?? '',
              ...(fields.id === undefined ? {} : { id: fields.id }),
            });
          }
          end = buffer.indexOf('\n\n');
        }
      }
    } finally {
      await reader.cancel();
    }
    return events;
  }

  it('pushes traces written by another process into the same file', async () => {
    const controller = new AbortController();
    const response = await fetch(`${viewer.url}/api/events`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);

    // Another connection to the SQLite file stands for another process writing.
    const spans = articleTrace();
    const traceId = spans[0]?.traceId;
    setTimeout(() => {
      const writer = openStore({ path: db });
      writer.writeSpans(spans);
      writer.close();
    }, 100);

    const events = await readEvents(
      response,
      (seen) => seen.some((event) => event.event === 'traces' && event.data.includes(traceId ?? '-')),
      10_000,
    );
    controller.abort();
    expect(events[0]?.event).toBe('ready');
    const update = events.find((event) => event.event === 'traces');
    expect(update?.id).toMatch(/^\d+$/);
    const summaries = JSON.parse(update?.data ?? '[]') as { traceId: string; rootName: string }[];
    expect(summaries.map((summary) => summary.traceId)).toContain(traceId);
    expect(summaries.find((summary) => summary.traceId === traceId)?.rootName).toBe('GET /articles/:id');
    // Only the new trace: the one stored before the client connected is not replayed.
    expect(summaries).toHaveLength(1);
  });

  it('resumes after the last event id a reconnecting client sends', async () => {
    const first = await fetch(`${viewer.url}/api/events`);
    const [ready] = await readEvents(first, (seen) => seen.length > 0, 5000);
    const seq = Number(JSON.parse(ready?.data ?? '{}').seq);
    expect(Number.isInteger(seq)).toBe(true);

    const missed = articleTrace({ articleId: 99 });
    const writer = openStore({ path: db });
    writer.writeSpans(missed);
    writer.close();

    const again = await fetch(`${viewer.url}/api/events`, { headers: { 'last-event-id': String(seq) } });
    const events = await readEvents(again, (seen) => seen.some((event) => event.event === 'traces'), 5000);
    const replay = events.find((event) => event.event === 'traces');
    expect(JSON.parse(replay?.data ?? '[]').map((s: { traceId: string }) => s.traceId)).toContain(missed[0]?.traceId);
  });
});

describe('bodies that never finish arriving', () => {
  let dir: string;
  let viewer: RunningViewer;
  const budget = new BodyBudget(64 * 1024 * 1024);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-slow-'));
    viewer = await startViewer({ port: 0, db: join(dir, 'traces.db'), bodyTimeoutMs: 300, bodyBudget: budget });
  });
  afterAll(async () => {
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends headers announcing `declared` bytes and only the first bytes of the body; resolves with all the server says. */
  function stalledPost(declared: number): Promise<{ text: string; afterMs: number }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const socket = connect(viewer.port, '127.0.0.1', () => {
        socket.write(
          `POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n{"resourceSpans":[`,
        );
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      // The answer ends with the connection, which the server closes.
      socket.on('close', () => resolve({ text, afterMs: Date.now() - started }));
      socket.on('error', reject);
      socket.setTimeout(20_000, () => socket.destroy(new Error('no answer within 20 s')));
    });
  }

  it('answers 408 naming the deadline, closes the connection and gives back the budget it held', async () => {
    const { text, afterMs } = await stalledPost(16_000_000);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toMatch(/connection: close/i);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { code: number; message: string };
    expect(body).toEqual({
      code: 4,
      message: 'the request body did not arrive within 0.3 s (18 bytes received): send it again, or smaller',
    });
    expect(afterMs).toBeLessThan(5000);
    expect(budget.usedBytes).toBe(0);
    // The server goes on answering.
    const health = await fetch(`${viewer.url}/api/health`);
    expect(health.status).toBe(200);
  });
});
