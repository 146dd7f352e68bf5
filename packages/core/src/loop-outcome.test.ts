import { expectValidMermaid, httpClient, httpServer, span, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { traceToMermaid } from './mermaid.js';

describe('a loop never hides what differs', () => {
  it('breaks the loop at a failed call, which is drawn as a failure', async () => {
    const calls = [0, 1, 2, 3, 4].map((i) =>
      sql({
        id: `q${i}`,
        parent: 'root',
        start: 1 + i * 2,
        end: 2 + i * 2,
        query: 'SELECT * FROM users WHERE id = $1',
        ...(i === 3 ? { error: 'deadlock detected' } : {}),
      }),
    );
    const { text } = traceToMermaid(
      trace(httpServer({ id: 'root', start: 0, end: 12, method: 'GET', route: '/users', status: 200 }), ...calls),
      { timings: false },
    );
    await expectValidMermaid(text);
    expect(text).toContain('--x');
    expect(text).toContain('deadlock detected');
    expect(text).toMatch(/loop 3× SELECT users/);
  });

  it('does not fold calls to a service that made different calls in turn', async () => {
    const spans = [0, 1, 2].flatMap((i) => {
      const base = 1 + i * 10;
      const tables = ['users', 'orders', 'payments'];
      return [
        httpClient({ id: `c${i}`, parent: 'root', start: base, end: base + 8, url: 'http://svc-b/items', status: 200 }),
        span({
          id: `s${i}`,
          parent: `c${i}`,
          service: 'svc-b',
          kind: 'server',
          start: base + 1,
          end: base + 7,
          name: 'GET /items',
          attributes: { 'http.request.method': 'GET', 'http.route': '/items', 'http.response.status_code': 200 },
        }),
        {
          ...sql({ id: `q${i}`, parent: `s${i}`, start: base + 2, end: base + 3, query: `SELECT * FROM ${tables[i]}` }),
          serviceName: 'svc-b',
          resource: { 'service.name': 'svc-b' },
        },
      ];
    });
    const { text } = traceToMermaid(
      trace(httpServer({ id: 'root', start: 0, end: 40, method: 'GET', route: '/all', status: 200 }), ...spans),
      { timings: false },
    );
    await expectValidMermaid(text);
    expect(text).not.toContain('loop');
    for (const table of ['users', 'orders', 'payments']) expect(text).toContain(`SELECT ${table}`);
  });

  it('draws an HTTP status of 0 with its status unset as a call without a response status, never as a reply of 0', async () => {
    const zero = httpClient({ id: 'c', parent: 'root', start: 1, end: 2, url: 'http://svc-b/x', status: 200 });
    const call = { ...zero, attributes: { ...zero.attributes, 'http.response.status_code': 0 } };
    const { text } = traceToMermaid(
      trace(httpServer({ id: 'root', start: 0, end: 5, method: 'GET', route: '/', status: 502 }), call),
      { timings: false },
    );
    await expectValidMermaid(text);
    expect(text).toMatch(/p3-->>p2: no status code\nNote over p2,p3: no response status recorded/);
    expect(text).not.toMatch(/-->>p2: 0/);
  });
});
