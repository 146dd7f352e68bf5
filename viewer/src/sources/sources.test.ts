import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import {
  closedPort,
  type FakeBackend,
  type FakeBackendOptions,
  FIXTURE_TRACES,
  startFakeBackend,
} from '@lifeline/test-support/trace-backends';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningViewer, startViewer } from '../server.js';
import { parseSourceSpec, resolveSources, type SourceConfig, SourceConfigError } from './config.js';
import { SourceError } from './http.js';
import { SourceReader } from './reader.js';

const MS = 1e6;
const backends: FakeBackend[] = [];
const readers: SourceReader[] = [];

async function backend(kind: 'tempo' | 'jaeger', options: FakeBackendOptions = {}): Promise<FakeBackend> {
  const started = await startFakeBackend(kind, options);
  backends.push(started);
  return started;
}

function reader(kind: 'tempo' | 'jaeger', url: string, extra: Partial<SourceConfig> = {}): SourceReader {
  const made = new SourceReader({ name: kind, kind, url, headers: {}, timeoutMs: 2000, ...extra });
  readers.push(made);
  return made;
}

afterEach(async () => {
  for (const made of readers.splice(0)) made.close();
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

async function failure(work: Promise<unknown>): Promise<SourceError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof SourceError) return error;
    throw error;
  }
  throw new Error('expected a SourceError');
}

describe('source options', () => {
  it('reads NAME=URL, the kind from the name or from KIND+URL', () => {
    expect(parseSourceSpec('tempo=http://tempo:3200/')).toMatchObject({
      name: 'tempo',
      kind: 'tempo',
      url: 'http://tempo:3200',
    });
    expect(parseSourceSpec('jaeger-eu=http://j:16686')).toMatchObject({ kind: 'jaeger' });
    expect(parseSourceSpec('prod=tempo+https://tempo.example')).toMatchObject({
      name: 'prod',
      kind: 'tempo',
      url: 'https://tempo.example',
    });
    expect(() => parseSourceSpec('prod=http://x')).toThrow(/cannot tell the backend.*prod=tempo\+URL/);
    expect(() => parseSourceSpec('tempo')).toThrow(SourceConfigError);
    expect(() => parseSourceSpec('zipkin=zipkin+http://x')).toThrow(/unknown backend "zipkin"/);
    expect(() => parseSourceSpec('tempo=ftp://x')).toThrow(/only http and https/);
  });

  it('takes headers from --source-header and LIFELINE_SOURCE_<NAME>_HEADERS, bare names from LIFELINE_SOURCES', () => {
    const sources = resolveSources({
      specs: ['tempo', 'jaeger-eu=http://j:16686'],
      headers: ['tempo=X-Scope-OrgID:team-a'],
      timeoutMs: 1500,
      env: {
        LIFELINE_SOURCES: 'tempo=http://tempo:3200,other=jaeger+http://o',
        LIFELINE_SOURCE_TEMPO_HEADERS: 'Authorization=Bearer%20abc',
        LIFELINE_SOURCE_JAEGER_EU_HEADERS: 'Authorization=Basic x',
      },
    });
    expect(sources).toEqual([
      {
        name: 'tempo',
        kind: 'tempo',
        url: 'http://tempo:3200',
        timeoutMs: 1500,
        headers: { Authorization: 'Bearer abc', 'X-Scope-OrgID': 'team-a' },
      },
      {
        name: 'jaeger-eu',
        kind: 'jaeger',
        url: 'http://j:16686',
        timeoutMs: 1500,
        headers: { Authorization: 'Basic x' },
      },
    ]);
    expect(() => resolveSources({ specs: ['nope'], env: {} })).toThrow(/LIFELINE_SOURCES does not define it/);
    expect(() => resolveSources({ specs: ['tempo=http://a', 'tempo=http://b'], env: {} })).toThrow(/twice/);
    expect(() => resolveSources({ specs: [], headers: ['tempo=A:b'], env: {} })).toThrow(/no source named "tempo"/);
  });
});

describe('Tempo', () => {
  it('searches with TraceQL, duration and time range, fetches each trace by id and caches it', async () => {
    const tempo = await backend('tempo');
    const source = reader('tempo', tempo.url);
    const since = Date.UTC(2026, 0, 1) * MS;
    const ids = await source.search(
      { service: 'frontend', route: '/orders/:id', error: true, minMs: 20, since, until: since + 3_600_000 * MS },
      20,
    );
    expect(ids.sort()).toEqual([FIXTURE_TRACES.tempoError, FIXTURE_TRACES.tempo].sort());
    const search = tempo.requests.find((r) => r.pathname === '/api/search');
    expect(search?.searchParams.get('q')).toBe(
      '{ resource.service.name = "frontend" && span.http.route = "/orders/:id" && status = error }',
    );
    expect(search?.searchParams.get('minDuration')).toBe('20000us');
    expect(search?.searchParams.get('start')).toBe(String(Date.UTC(2026, 0, 1) / 1000));
    expect(search?.searchParams.get('end')).toBe(String(Date.UTC(2026, 0, 1) / 1000 + 3600));
    expect(search?.searchParams.get('limit')).toBe('20');
    // The search drops the leading zero byte of one id: the full id is fetched.
    expect(tempo.requests.map((r) => r.pathname)).toContain(`/api/traces/${FIXTURE_TRACES.tempoError}`);
    const listed = source.cache.listTraces({ work: 'requests' }).items;
    expect(listed.map((item) => [item.traceId, item.rootService, item.route, item.spanCount, item.error])).toEqual([
      [FIXTURE_TRACES.tempoError, 'frontend', '/orders/:id', 5, true],
      [FIXTURE_TRACES.tempo, 'frontend', '/orders/:id', 5, false],
    ]);
    expect(listed[1]?.parGroups).toBe(1);
    // A second search fetches no trace again.
    const before = tempo.requests.length;
    await source.search({}, 20);
    expect(tempo.requests.slice(before).map((r) => r.pathname)).toEqual(['/api/search']);
    expect(await source.services()).toEqual(['frontend', 'inventory']);
  });

  it('sends the tenant header; without it, a one-line 401 naming the source', async () => {
    const tempo = await backend('tempo', { requireHeaders: { 'X-Scope-OrgID': 'team-a' } });
    const error = await failure(reader('tempo', tempo.url).search({}, 5));
    expect(error.failure).toBe('unauthorized');
    expect(error.message).toMatch(
      /^source tempo \(tempo at http:\/\/127\.0\.0\.1:\d+\): 401 .* --source-header tempo=Authorization/,
    );
    expect(error.message).not.toContain('\n');
    const ok = reader('tempo', tempo.url, { headers: { 'X-Scope-OrgID': 'team-a' } });
    expect(await ok.ensureTrace(FIXTURE_TRACES.tempo)).toBe(true);
  });

  it('says so for an unreachable, a slow and an incompatible backend, and a trace it does not have', async () => {
    const port = await closedPort();
    const down = await failure(reader('tempo', `http://127.0.0.1:${port}`).search({}, 5));
    expect(down.failure).toBe('unreachable');
    expect(down.message).toMatch(/cannot connect \(ECONNREFUSED\)/);

    const slow = await backend('tempo', { delayMs: 1500 });
    const late = await failure(reader('tempo', slow.url, { timeoutMs: 200 }).search({}, 5));
    expect(late.failure).toBe('slow');
    expect(late.message).toMatch(/no answer to \/api\/search within 200 ms/);

    const html = await backend('tempo', { malformedBody: '<html><body>Sign in</body></html>' });
    const page = await failure(reader('tempo', html.url).search({}, 5));
    expect(page.failure).toBe('incompatible');
    expect(page.message).toMatch(/\/api\/search: the answer is not JSON: is this the Tempo HTTP API/);

    const wrong = await backend('tempo', { malformedBody: '{"resourceSpanz": []}' });
    const body = await failure(reader('tempo', wrong.url).ensureTrace(FIXTURE_TRACES.tempo));
    expect(body.failure).toBe('incompatible');
    expect(body.message).toMatch(/not a trace \(unrecognised trace format/);

    const tempo = await backend('tempo');
    expect(await reader('tempo', tempo.url).ensureTrace('1234')).toBe(false);
  });
});

describe('Jaeger', () => {
  it('searches every service when none is named, with tags, durations and µs times; whole traces, no refetch', async () => {
    const jaeger = await backend('jaeger');
    const source = reader('jaeger', jaeger.url);
    const since = Date.UTC(2026, 0, 1) * MS;
    const ids = await source.search({ error: true, route: '/orders/:id', minMs: 1.5, maxMs: 900, since }, 10);
    expect(ids.sort()).toEqual([FIXTURE_TRACES.jaegerError, FIXTURE_TRACES.jaeger].sort());
    const searches = jaeger.requests.filter((r) => r.pathname === '/api/traces');
    expect(searches.map((r) => r.searchParams.get('service'))).toEqual(['frontend', 'inventory']);
    expect(JSON.parse(searches[0]?.searchParams.get('tags') ?? '')).toEqual({
      error: 'true',
      'http.route': '/orders/:id',
    });
    expect(searches[0]?.searchParams.get('minDuration')).toBe('1500us');
    expect(searches[0]?.searchParams.get('maxDuration')).toBe('900000us');
    expect(searches[0]?.searchParams.get('start')).toBe(String(Date.UTC(2026, 0, 1) * 1000));
    expect(searches[0]?.searchParams.get('limit')).toBe('10');
    expect(jaeger.requests.some((r) => r.pathname.startsWith('/api/traces/'))).toBe(false);
    expect(await source.ensureTrace(FIXTURE_TRACES.jaeger)).toBe(true);
    expect(source.cache.getTrace(FIXTURE_TRACES.jaegerError)?.spans).toHaveLength(5);
  });

  it('reads a trace from the API v3 where it is present, else from /api/traces/<id>', async () => {
    const withV3 = await backend('jaeger');
    const v3 = reader('jaeger', withV3.url);
    expect(await v3.ensureTrace(FIXTURE_TRACES.jaeger)).toBe(true);
    expect(withV3.requests.map((r) => r.pathname)).toEqual([
      '/api/v3/services',
      `/api/v3/traces/${FIXTURE_TRACES.jaeger}`,
    ]);
    expect(await v3.ensureTrace('0123')).toBe(false);

    const withoutV3 = await backend('jaeger', { v3: false });
    const v1 = reader('jaeger', withoutV3.url);
    expect(await v1.ensureTrace(FIXTURE_TRACES.jaeger)).toBe(true);
    expect(withoutV3.requests.map((r) => r.pathname)).toEqual([
      '/api/v3/services',
      `/api/traces/${FIXTURE_TRACES.jaeger}`,
    ]);
    expect(await v1.ensureTrace('0123')).toBe(false);

    // Both draw the same request: the v3 body is OTLP, the other Jaeger JSON.
    const names = (r: SourceReader) =>
      r.cache
        .getTrace(FIXTURE_TRACES.jaeger)
        ?.spans.map(
          (s) =>
            `${s.serviceName} ${s.name} ${s.kind} ${s.parentSpanId ?? '-'} ${String((s.endTimeNs ?? 0n) - s.startTimeNs)}`,
        )
        .sort();
    expect(names(v3)).toEqual(names(v1));
  });

  it("says which answer was not Jaeger's", async () => {
    const wrong = await backend('jaeger', { malformedBody: '{"data": {"oops": 1}}' });
    const error = await failure(reader('jaeger', wrong.url).search({ service: 'frontend' }, 5));
    expect(error.message).toMatch(/\/api\/traces: expected \{"data": \[traces\]\}: is this the Jaeger query service/);
  });
});

describe('the viewer over sources', () => {
  let dir: string;
  let viewer: RunningViewer;
  let tempo: FakeBackend;
  let jaeger: FakeBackend;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-sources-'));
    tempo = await startFakeBackend('tempo', { requireHeaders: { 'X-Scope-OrgID': 'team-a' } });
    jaeger = await startFakeBackend('jaeger');
    viewer = await startViewer({
      port: 0,
      db: join(dir, 'traces.db'),
      sources: [
        { name: 'tempo', kind: 'tempo', url: tempo.url, headers: { 'X-Scope-OrgID': 'team-a' }, timeoutMs: 2000 },
        { name: 'jaeger', kind: 'jaeger', url: jaeger.url, headers: {}, timeoutMs: 2000 },
        { name: 'down', kind: 'jaeger', url: 'http://127.0.0.1:9', headers: {}, timeoutMs: 2000 },
      ],
    });
  });

  afterAll(async () => {
    await viewer?.close();
    await tempo?.close();
    await jaeger?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (path: string) => {
    const response = await fetch(`${viewer.url}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('names its sources without their headers', async () => {
    const { body } = await get('/api/sources');
    expect(body).toEqual({
      sources: [
        { name: 'tempo', kind: 'tempo', url: tempo.url },
        { name: 'jaeger', kind: 'jaeger', url: jaeger.url },
        { name: 'down', kind: 'jaeger', url: 'http://127.0.0.1:9' },
      ],
    });
  });

  it('lists and draws the traces of each source, and leaves the database empty', async () => {
    for (const [name, id, errorId] of [
      ['tempo', FIXTURE_TRACES.tempo, FIXTURE_TRACES.tempoError],
      ['jaeger', FIXTURE_TRACES.jaeger, FIXTURE_TRACES.jaegerError],
    ] as const) {
      const list = await get(`/api/traces?source=${name}&service=frontend`);
      expect(list.status).toBe(200);
      expect((list.body.items as { traceId: string }[]).map((i) => i.traceId).sort()).toEqual([id, errorId].sort());
      const errors = await get(`/api/traces?source=${name}&error=1`);
      expect((errors.body.items as { traceId: string }[]).map((i) => i.traceId)).toEqual([errorId]);
      const trace = await get(`/api/traces/${id}?source=${name}`);
      expect(trace.status).toBe(200);
      expect(trace.body.spans).toHaveLength(5);
      const mermaid = (trace.body.sequence as { mermaid: string }).mermaid;
      await parseMermaid(mermaid);
      expect(mermaid).toContain('par ');
      expect(mermaid).toContain('inventory');
    }
    expect((await get('/api/traces?work=all')).body.items).toEqual([]);
    expect((await get('/api/health')).body.traces).toBe(0);
  });

  it('compares two requests of a source, fetching the ones not read yet', async () => {
    const fresh = await startFakeBackend('tempo');
    const other = await startViewer({
      port: 0,
      db: join(dir, 'compare.db'),
      sources: [{ name: 'tempo', kind: 'tempo', url: fresh.url, headers: {}, timeoutMs: 2000 }],
    });
    try {
      const response = await fetch(
        `${other.url}/api/compare?source=tempo&before=${FIXTURE_TRACES.tempo}&after=${FIXTURE_TRACES.tempoError}`,
      );
      expect(response.status).toBe(200);
      const body = (await response.json()) as { before: { traceId: string }; after: { traceId: string } };
      expect(JSON.stringify(body)).toContain(FIXTURE_TRACES.tempoError);
      expect(fresh.requests.map((r) => r.pathname).sort()).toEqual(
        [`/api/traces/${FIXTURE_TRACES.tempo}`, `/api/traces/${FIXTURE_TRACES.tempoError}`].sort(),
      );
      const local = await fetch(`${other.url}/api/compare?before=${FIXTURE_TRACES.tempo}&after=latest`);
      expect(local.status).toBe(404);
    } finally {
      await other.close();
      await fresh.close();
    }
  });

  it('answers a failing source with one line naming it, an unknown one with 400', async () => {
    const down = await get('/api/traces?source=down');
    expect(down.status).toBe(502);
    expect(down.body.error).toMatch(/^source down \(jaeger at http:\/\/127\.0\.0\.1:9\): cannot connect/);
    const unknown = await get('/api/traces?source=zipkin');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('no source named "zipkin" (sources: tempo, jaeger, down)');
    const missing = await get(`/api/traces/${'ab'.repeat(16)}?source=jaeger`);
    expect(missing.status).toBe(404);
  });
});
