import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import {
  RedactingSpanExporter,
  type RedactionOptions,
  STATUS_MESSAGE_KEY,
  stripQueryValues,
  stripScriptArguments,
} from './redaction.js';

/** Records one span through a real tracer provider and returns the original and what the exporter received. */
async function recordOne(
  options: RedactionOptions,
  build: (span: import('@opentelemetry/api').Span) => void,
): Promise<{ original: ReadableSpan; exported: ReadableSpan }> {
  const inner = new InMemorySpanExporter();
  const originals: ReadableSpan[] = [];
  const provider = new TracerProvider({
    spanProcessors: [
      new SimpleSpanProcessor({ exporter: new RedactingSpanExporter(inner, options) }),
      {
        onStart: () => {},
        onEnd: (span) => originals.push(span),
        forceFlush: () => Promise.resolve(),
        shutdown: () => Promise.resolve(),
      },
    ],
  });
  const span = provider.getTracer('test').startSpan('query', { kind: SpanKind.CLIENT });
  build(span);
  span.end();
  await provider.forceFlush();
  const exported = inner.getFinishedSpans()[0];
  const original = originals[0];
  if (exported === undefined || original === undefined) throw new Error('no span was exported');
  await provider.shutdown();
  return { original, exported };
}

describe('RedactingSpanExporter', () => {
  it('replaces SQL literals and drops query parameters but leaves the original span untouched', async () => {
    const { original, exported } = await recordOne({}, (span) => {
      span.setAttributes({
        'db.system.name': 'postgresql',
        'db.query.text': "SELECT * FROM users WHERE email = 'ann@example.com'",
        'db.query.parameter.0': 'ann@example.com',
      });
    });
    expect(exported.attributes['db.query.text']).toBe('SELECT * FROM users WHERE email = ?');
    expect(exported.attributes).not.toHaveProperty('db.query.parameter.0');
    expect(original.attributes['db.query.text']).toBe("SELECT * FROM users WHERE email = 'ann@example.com'");
    expect(original.attributes['db.query.parameter.0']).toBe('ann@example.com');
    expect(exported.spanContext()).toEqual(original.spanContext());
  });

  it('strips query-string values from URLs and never keeps credential headers', async () => {
    const { exported } = await recordOne({ recordQueryParameters: true }, (span) => {
      span.setAttributes({
        'url.full': 'http://api.local/search?q=secret&page=2',
        'http.request.header.authorization': ['Bearer abc'],
        'http.request.header.cookie': ['sid=1'],
        'http.response.header.set-cookie': ['sid=2'],
        'http.request.header.accept': ['text/html'],
      });
    });
    // recordQueryParameters keeps values, but credentials are dropped regardless.
    expect(exported.attributes['url.full']).toBe('http://api.local/search?q=secret&page=2');
    expect(Object.keys(exported.attributes).sort()).toEqual(['http.request.header.accept', 'url.full']);

    const { exported: strict } = await recordOne({}, (span) => {
      span.setAttributes({ 'url.full': 'http://api.local/search?q=secret&page=2#frag', 'url.query': 'q=secret' });
    });
    expect(strict.attributes['url.full']).toBe('http://api.local/search?q=?&page=?');
    expect(strict.attributes['url.query']).toBe('q=?');
  });

  it('does not rewrite statements of non-SQL systems such as Redis', async () => {
    const { exported } = await recordOne({}, (span) => {
      span.setAttributes({ 'db.system.name': 'redis', 'db.query.text': 'GET article:42' });
    });
    expect(exported.attributes['db.query.text']).toBe('GET article:42');
  });

  it('applies the redaction hook to span, event and link attributes', async () => {
    const seen: string[] = [];
    const { exported } = await recordOne(
      {
        redact: (key, value, span) => {
          seen.push(`${span.name}:${key}`);
          if (key === 'enduser.id') return undefined;
          return typeof value === 'string' ? value.toUpperCase() : value;
        },
      },
      (span) => {
        span.setAttributes({ 'enduser.id': 'u-7', note: 'hello', count: 3 });
        span.addEvent('exception', { 'exception.message': 'bad' });
        span.addLink({ context: span.spanContext(), attributes: { reason: 'retry' } });
      },
    );
    expect(exported.attributes).toEqual({ note: 'HELLO', count: 3 });
    expect(exported.events[0]?.attributes).toEqual({ 'exception.message': 'BAD' });
    expect(exported.links[0]?.attributes).toEqual({ reason: 'RETRY' });
    expect(seen).toContain('query:enduser.id');
  });

  it('passes a span with nothing to remove on as it is, and copies one it must change', async () => {
    const clean = await recordOne({}, (span) => {
      span.setAttributes({
        'db.system.name': 'postgresql',
        'db.query.text': 'SELECT id FROM users WHERE id = $1',
        'url.full': 'http://api.local/users/7',
        'http.request.header.accept': ['text/html'],
      });
      span.addEvent('retry', { attempt: 2 });
    });
    expect(clean.exported).toBe(clean.original);

    const eventWithSecret = await recordOne({}, (span) => {
      span.setAttributes({ 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1' });
      span.addEvent('exception', { 'db.statement': "SELECT * FROM t WHERE k = 'secret'" });
    });
    expect(eventWithSecret.exported).not.toBe(eventWithSecret.original);
    expect(eventWithSecret.exported.attributes['db.query.text']).toBe('SELECT ?');
    expect(eventWithSecret.exported.events[0]?.attributes?.['db.statement']).toBe('SELECT * FROM t WHERE k = ?');
    expect(eventWithSecret.original.events[0]?.attributes?.['db.statement']).toBe("SELECT * FROM t WHERE k = 'secret'");

    const hooked = await recordOne({ redact: (_key, value) => value }, (span) => {
      span.setAttributes({ note: 'unchanged' });
    });
    // A hook may keep state or return new values: its spans are always copies.
    expect(hooked.exported).not.toBe(hooked.original);
    expect(hooked.exported.attributes).toEqual({ note: 'unchanged' });
  });

  it('reports a failing hook as a failed export instead of storing raw data', async () => {
    const inner = new InMemorySpanExporter();
    const exporter = new RedactingSpanExporter(inner, {
      redact: () => {
        throw new Error('hook broke');
      },
    });
    const provider = new TracerProvider();
    const span = provider.getTracer('t').startSpan('s', { attributes: { a: 1 } });
    span.end();
    const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
      exporter.export([span as unknown as ReadableSpan], resolve),
    );
    expect(result.code).toBe(1);
    expect(result.error?.message).toBe('hook broke');
    expect(inner.getFinishedSpans()).toHaveLength(0);
  });
});

describe('stripQueryValues', () => {
  it('keeps parameter names, replaces values and leaves URLs without a query as they are', () => {
    expect(stripQueryValues('/a?x=1&flag&y=')).toBe('/a?x=?&flag&y=?');
    expect(stripQueryValues('/plain/path')).toBe('/plain/path');
  });
});

describe('secrets outside the statement', () => {
  it('removes literals from a database error in the status message and the exception event', async () => {
    const error = "Duplicate entry 'ann@example.com' for key 'users.email'";
    const { exported } = await recordOne({}, (span) => {
      span.setAttributes({ 'db.system.name': 'mysql', 'db.query.text': 'INSERT INTO users (email) VALUES (?)' });
      span.recordException({
        name: 'Error',
        message: error,
        stack: `Error: ${error}\n    at insert (/app/db.js:10:5)`,
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    });
    expect(exported.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Duplicate entry ? for key ?' });
    const event = exported.events[0]?.attributes ?? {};
    expect(event['exception.message']).toBe('Duplicate entry ? for key ?');
    expect(event['exception.stacktrace']).toBe('Error: Duplicate entry ? for key ?\n    at insert (/app/db.js:10:5)');
    expect(JSON.stringify(exported.events)).not.toContain('ann@example.com');
  });

  it('keeps a PostgreSQL error readable: identifiers stay, quoted values go', async () => {
    const { exported } = await recordOne({}, (span) => {
      span.setAttributes({ 'db.system.name': 'postgresql' });
      span.setStatus({ code: SpanStatusCode.ERROR, message: "invalid input syntax for type integer: '4a2'" });
    });
    expect(exported.status.message).toBe('invalid input syntax for type integer: ?');
  });

  it('reads an error text as prose: an apostrophe inside a word opens no literal', async () => {
    const { exported } = await recordOne({}, (span) => {
      span.setAttributes({ 'db.system.name': 'mysql' });
      span.setStatus({ code: SpanStatusCode.ERROR, message: "Table 'test.secret_plans' doesn't exist" });
    });
    expect(exported.status.message).toBe("Table ? doesn't exist");
  });

  it('leaves error texts of other spans, and all of them when parameters are recorded, as they are', async () => {
    const http = await recordOne({}, (span) => {
      span.setAttributes({ 'http.request.method': 'GET' });
      span.setStatus({ code: SpanStatusCode.ERROR, message: "can't reach 10.0.0.1" });
    });
    expect(http.exported.status.message).toBe("can't reach 10.0.0.1");
    const recorded = await recordOne({ recordQueryParameters: true }, (span) => {
      span.setAttributes({ 'db.system.name': 'mysql' });
      span.setStatus({ code: SpanStatusCode.ERROR, message: "Duplicate entry 'x' for key 'k'" });
    });
    expect(recorded.exported.status.message).toBe("Duplicate entry 'x' for key 'k'");
  });

  it('lets the redaction hook see and drop the status message', async () => {
    const seen: string[] = [];
    const { exported } = await recordOne(
      {
        redact: (key, value) => {
          seen.push(key);
          return key === STATUS_MESSAGE_KEY ? undefined : value;
        },
      },
      (span) => {
        span.setAttributes({ 'db.system.name': 'postgresql' });
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'value too long for type character varying(8)' });
      },
    );
    expect(seen).toContain('otel.status_description');
    expect(exported.status).toEqual({ code: SpanStatusCode.ERROR });
  });

  it('drops SQL comments from statements', async () => {
    const { exported } = await recordOne({}, (span) => {
      span.setAttributes({
        'db.system.name': 'postgresql',
        'db.query.text': 'SELECT * FROM users /* requested by ann@example.com */ WHERE id = $1 -- api key abc',
      });
    });
    expect(exported.attributes['db.query.text']).toBe('SELECT * FROM users   WHERE id = $1 ');
  });

  it("drops a Redis script's arguments but keeps its SHA and keys", async () => {
    const { exported } = await recordOne({}, (span) => {
      span.setAttributes({
        'db.system': 'redis',
        'db.statement': 'evalsha 6b1bf48 2 bull:q:wait bull:q:active secret-token 42',
      });
    });
    expect(exported.attributes['db.statement']).toBe('evalsha 6b1bf48 2 bull:q:wait bull:q:active [2 other arguments]');
  });
});

describe('stripScriptArguments', () => {
  it.each([
    ['EVALSHA abc 1 k v1 v2', 'EVALSHA abc 1 k [2 other arguments]'],
    ['EVALSHA abc 0 v1', 'EVALSHA abc 0 [1 other argument]'],
    ['FCALL myfn 1 k secret', 'FCALL myfn 1 k [1 other argument]'],
    ["EVAL return redis.call('get', KEYS[1]) 1 k", 'EVAL [script and arguments]'],
    ['EVALSHA abc x y', 'EVALSHA abc [2 other arguments]'],
    ['EVALSHA abc 2 k1 k2', 'EVALSHA abc 2 k1 k2'],
    ['GET user:1', 'GET user:1'],
  ])('%s → %s', (statement, expected) => {
    expect(stripScriptArguments(statement)).toBe(expected);
  });
});
