import { context, type Span, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CACHE_HIT,
  DataDependencySpanProcessor,
  DEPENDS_ON,
  followedTraces,
  noteInputs,
  noteOutputs,
  noteRedisCommand,
  noteRequestPath,
} from './data-dependencies.js';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({
  spanProcessors: [new DataDependencySpanProcessor(), new SimpleSpanProcessor({ exporter })],
});
const tracer = provider.getTracer('data-dependencies-test');

/** Runs `body` inside a server span for `path`, which ends afterwards. */
function request(path: string, body: (child: (name: string) => Span) => void): void {
  const root = tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': path } });
  const parent = trace.setSpan(context.active(), root);
  body((name) => tracer.startSpan(name, { kind: SpanKind.CLIENT }, parent));
  root.end();
}

const dependsOn = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name)?.attributes[DEPENDS_ON];

afterEach(() => exporter.reset());

describe('data dependencies between calls of a request', () => {
  it('marks a call that sent a value an earlier call returned, and frees the trace when the request ends', () => {
    request('/articles/7001', (child) => {
      const article = child('article');
      noteOutputs(article, [7001, 4711, 'Hello']);
      article.end();
      const author = child('author');
      noteInputs(author, [4711]);
      author.end();
      expect(followedTraces()).toBe(1);
      const id = article.spanContext().spanId;
      expect(dependsOn('author')).toEqual([id]);
    });
    expect(followedTraces()).toBe(0);
  });

  it('makes no edge of small numbers, booleans, plain words, or values the request already had', () => {
    request('/articles/7001', (child) => {
      const first = child('first');
      noteOutputs(first, [1, 42, true, 'published', 7001, 3.25]);
      first.end();
      const second = child('second');
      noteInputs(second, [1, 42, true, 'published', 7001, 3.25]);
      second.end();
    });
    expect(dependsOn('second')).toBeUndefined();
  });

  it('finds ids inside Redis keys, JSON cache values and outgoing URLs, and says whether a read missed', () => {
    request('/home', (child) => {
      const miss = child('get-miss');
      noteRedisCommand(miss, 'GET', ['article:7001'], null);
      miss.end();
      const cached = child('get');
      noteRedisCommand(cached, 'GET', ['user:ann'], JSON.stringify({ id: 'u-12345', team: 9876 }));
      cached.end();
      const key = child('by-key');
      noteRedisCommand(key, 'HGET', ['team:9876', 'name'], 'Blue');
      key.end();
      const url = child('by-url');
      noteRequestPath(url, '/users/u-12345/orders?limit=10');
      url.end();
    });
    const spans = exporter.getFinishedSpans();
    const idOf = (name: string) => spans.find((s) => s.name === name)?.spanContext().spanId;
    expect(spans.find((s) => s.name === 'get-miss')?.attributes[CACHE_HIT]).toBe(false);
    expect(spans.find((s) => s.name === 'get')?.attributes[CACHE_HIT]).toBe(true);
    expect(dependsOn('get')).toBeUndefined();
    expect(dependsOn('by-key')).toEqual([idOf('get')]);
    expect(dependsOn('by-url')).toEqual([idOf('get')]);
  });

  it('keeps no values of calls outside a followed trace', () => {
    const lone = tracer.startSpan('lone', { kind: SpanKind.CLIENT });
    // A root of its own: followed while open, forgotten when it ends.
    expect(followedTraces()).toBe(1);
    noteOutputs(lone, [123456]);
    lone.end();
    expect(followedTraces()).toBe(0);
  });
});
