import { span } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { classifySpan, normalizeCacheKey, normalizePath, summarizeQuery } from './classify.js';
import type { Attributes, SpanKind } from './trace.js';

const classify = (kind: SpanKind, attributes: Attributes, name = 'span') =>
  classifySpan(span({ id: 's', kind, name, start: 0, end: 1, attributes }));

describe('classifySpan', () => {
  it('labels an incoming request with its route template over the raw path', () => {
    const cls = classify('server', {
      'http.request.method': 'GET',
      'http.route': '/articles/:id',
      'url.path': '/articles/42',
      'http.response.status_code': 200,
    });
    expect(cls).toMatchObject({
      category: 'http-server',
      label: 'GET /articles/:id',
      method: 'GET',
      route: '/articles/:id',
      statusCode: 200,
    });
  });

  it('normalises a raw path when no route is known, with the older attribute names', () => {
    const cls = classify('server', {
      'http.method': 'get',
      'http.target': '/orders/9f1c2e3d-1111-2222-3333-444455556666/items/17?x=1',
      'http.status_code': 404,
    });
    expect(cls).toMatchObject({ label: 'GET /orders/:id/items/:id', statusCode: 404 });
  });

  it('names the external host of an outgoing request by server.address and port', () => {
    const current = classify('client', {
      'http.request.method': 'POST',
      'url.full': 'http://pay.internal:9000/charges/abc123def4567890',
      'server.address': 'pay.internal',
      'server.port': 9000,
    });
    expect(current).toMatchObject({
      category: 'http-client',
      label: 'POST /charges/:id',
      target: { name: 'pay.internal:9000', kind: 'external' },
    });
    const older = classify('client', {
      'http.method': 'GET',
      'http.url': 'https://api.github.com/repos/x',
      'net.peer.name': 'api.github.com',
      'net.peer.port': 443,
    });
    expect(older).toMatchObject({ label: 'GET /repos/x', target: { name: 'api.github.com' } });
    const fromUrl = classify('client', { 'http.method': 'GET', 'http.url': 'http://localhost:4001/users/7' });
    expect(fromUrl.target?.name).toBe('localhost:4001');
  });

  it('summarises SQL as operation and main table, keeping the full text', () => {
    const query = 'SELECT c.* FROM "public"."comments" c JOIN authors a ON a.id = c.author_id WHERE c.article_id = $1';
    const cls = classify('client', { 'db.system.name': 'postgresql', 'db.namespace': 'blog', 'db.query.text': query });
    expect(cls).toMatchObject({
      category: 'db',
      label: 'SELECT comments',
      queryText: query,
      queryTextAttribute: 'db.query.text',
      dbSystem: 'postgresql',
      dbNamespace: 'blog',
      target: { key: 'db:postgresql:blog', name: 'postgresql blog', kind: 'database' },
    });
  });

  it('names the attribute the query text came from, the older db.statement included', () => {
    const old = classify('client', { 'db.system': 'mysql', 'db.statement': 'SELECT 1' });
    expect([old.queryText, old.queryTextAttribute]).toEqual(['SELECT 1', 'db.statement']);
    const cache = classify('client', { 'db.system': 'redis', 'db.statement': 'GET k' });
    expect([cache.queryText, cache.queryTextAttribute]).toEqual(['GET k', 'db.statement']);
    const none = classify('client', { 'db.system': 'mysql' });
    expect([none.queryText, none.queryTextAttribute]).toEqual([undefined, undefined]);
  });

  it('prefers db.query.summary, then operation and collection, over parsing the text', () => {
    expect(
      classify('client', {
        'db.system.name': 'mysql',
        'db.query.summary': 'SELECT orders customers',
        'db.query.text': 'SELECT 1',
      }).label,
    ).toBe('SELECT orders customers');
    expect(
      classify('client', {
        'db.system': 'mysql',
        'db.name': 'shop',
        'db.operation': 'select',
        'db.sql.table': 'orders',
      }),
    ).toMatchObject({
      label: 'SELECT orders',
      target: { name: 'mysql shop' },
    });
    expect(
      classify('client', { 'db.system': 'mongodb', 'db.operation.name': 'find', 'db.collection.name': 'articles' })
        .label,
    ).toBe('find articles');
    expect(
      classify('client', { 'db.system': 'postgresql', 'db.statement': 'INSERT INTO orders (id) VALUES ($1)' }).label,
    ).toBe('INSERT orders');
  });

  it('treats redis as a cache and stars the variable parts of the key', () => {
    const cls = classify('client', {
      'db.system': 'redis',
      'db.statement': 'GET article:42',
      'net.peer.name': 'localhost',
    });
    expect(cls).toMatchObject({
      category: 'cache',
      label: 'GET article:*',
      target: { key: 'cache:redis', name: 'redis', kind: 'cache' },
    });
    expect(
      classify('client', {
        'db.system.name': 'redis',
        'db.operation.name': 'HGETALL',
        'db.query.text': 'HGETALL session:6f1e2d3c4b5a69788796a5b4',
      }).label,
    ).toBe('HGETALL session:*');
    expect(classify('client', { 'db.system': 'redis', 'db.statement': 'set ? ?' }).label).toBe('SET');
  });

  it('labels queue spans publish and process with their destination', () => {
    const producer = classify('producer', {
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': 'orders',
      'messaging.operation.type': 'publish',
    });
    expect(producer).toMatchObject({
      category: 'queue-producer',
      label: 'publish orders',
      destination: 'orders',
      target: { kind: 'queue', name: 'orders' },
    });
    const consumer = classify('consumer', {
      'messaging.system': 'rabbitmq',
      'messaging.destination': 'orders',
      'messaging.operation': 'process',
    });
    expect(consumer).toMatchObject({ category: 'queue-consumer', label: 'process orders' });
    // RabbitMQ's default exchange has an empty name: the routing key names the queue.
    const defaultExchange = classify('producer', {
      'messaging.system': 'rabbitmq',
      'messaging.destination': '',
      'messaging.rabbitmq.routing_key': 'emails',
    });
    expect(defaultExchange.label).toBe('publish emails');
    const kafkaSend = classify('client', {
      'messaging.system': 'kafka',
      'messaging.destination.name': 'events',
      'messaging.operation.type': 'send',
    });
    expect(kafkaSend.category).toBe('queue-producer');
    // BullMQ's telemetry: its own attribute, and "<verb> <queue>" span names.
    expect(
      classify('producer', { 'bullmq.queue.name': 'emails', 'bullmq.queue.operation': 'add' }, 'add emails').label,
    ).toBe('publish emails');
    expect(classify('consumer', {}, 'process thumbnails')).toMatchObject({
      label: 'process thumbnails',
      target: { name: 'thumbnails' },
    });
  });

  it('labels RPC spans service/method', () => {
    expect(
      classify('client', {
        'rpc.system': 'grpc',
        'rpc.service': 'Greeter',
        'rpc.method': 'SayHello',
        'server.address': 'greeter',
      }),
    ).toMatchObject({
      category: 'rpc-client',
      label: 'Greeter/SayHello',
      target: { name: 'greeter' },
    });
    expect(
      classify('server', { 'rpc.system': 'grpc', 'rpc.service': 'Greeter', 'rpc.method': 'SayHello' }).category,
    ).toBe('rpc-server');
  });

  it('leaves other spans internal with their name as label', () => {
    expect(classify('internal', {}, 'render template')).toMatchObject({
      category: 'internal',
      label: 'render template',
    });
  });
});

describe('normalizePath', () => {
  it('replaces numeric, uuid and hex segments and drops the query', () => {
    expect(normalizePath('/a/42/b/550e8400-e29b-41d4-a716-446655440000/c/deadbeef12?q=1#x')).toBe('/a/:id/b/:id/c/:id');
    expect(normalizePath('/articles/hello-world')).toBe('/articles/hello-world');
  });
});

describe('normalizeCacheKey', () => {
  it('stars id-like parts of a key', () => {
    expect(normalizeCacheKey('user:42:profile')).toBe('user:*:profile');
    expect(normalizeCacheKey('feed')).toBe('feed');
  });
});

describe('summarizeQuery', () => {
  it('handles updates, deletes, CTEs, DDL and transactions', () => {
    expect(summarizeQuery('UPDATE articles SET views = views + 1 WHERE id = $1')).toBe('UPDATE articles');
    expect(summarizeQuery('delete from `shop`.`carts` where id = ?')).toBe('DELETE carts');
    expect(summarizeQuery('WITH recent AS (SELECT * FROM posts) SELECT * FROM recent JOIN users u ON true')).toBe(
      'SELECT recent',
    );
    expect(summarizeQuery('CREATE TABLE IF NOT EXISTS spans (id int)')).toBe('CREATE TABLE spans');
    expect(summarizeQuery('BEGIN')).toBe('BEGIN');
    expect(summarizeQuery('/* app */ select 1')).toBe('SELECT');
    expect(summarizeQuery('hello world')).toBeUndefined();
  });
});

describe('classifySpan remembering a span’s class', () => {
  const query = () =>
    span({
      id: 'q',
      kind: 'client',
      name: 'SELECT',
      start: 0,
      end: 1,
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM authors WHERE id = $1' },
    });

  it('leaves the span as it was to spreading, deep equality, cloning and JSON', () => {
    const classified = query();
    const cls = classifySpan(classified);
    expect(classifySpan(classified)).toBe(cls);
    expect(classified).toEqual(query());
    expect(Object.keys(classified)).toEqual(Object.keys(query()));
    expect(JSON.stringify(classified, (_key, value) => (typeof value === 'bigint' ? String(value) : value))).toBe(
      JSON.stringify(query(), (_key, value) => (typeof value === 'bigint' ? String(value) : value)),
    );
    // A copy with other attributes is classified afresh, not given the original's class.
    const copy = { ...classified, attributes: { 'db.system.name': 'mysql', 'db.query.text': 'DELETE FROM carts' } };
    expect(classifySpan(copy).label).toBe('DELETE carts');
    expect(classifySpan(structuredClone(classified)).label).toBe(cls.label);
  });

  it('classifies frozen spans and spans behind a refusing proxy, once each', () => {
    const frozen = Object.freeze(query());
    const cls = classifySpan(frozen);
    expect(cls.label).toBe('SELECT authors');
    expect(classifySpan(frozen)).toBe(cls);
    const refusing = new Proxy(query(), { defineProperty: () => false });
    expect(classifySpan(refusing)).toBe(classifySpan(refusing));
  });
});
