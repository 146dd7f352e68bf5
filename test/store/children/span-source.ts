import type { Span } from '@lifeline/core';

/**
 * Deterministic request-shaped spans for writer `writer` (a server span and
 * nine database calls per trace), so the parent can tell exactly which spans
 * a batch contained.
 */
export function batchOfSpans(writer: number, batch: number, size: number): Span[] {
  const spans: Span[] = [];
  const t0 = 1_767_225_600_000_000_000 + writer * 1e12 + batch * 1e9;
  for (let i = 0; i < size; i++) {
    const n = batch * size + i;
    const trace = Math.floor(n / 10);
    const traceId = `${(writer + 1).toString(16).padStart(8, '0')}${trace.toString(16).padStart(24, '0')}`;
    const isRoot = n % 10 === 0;
    const rootId = `${(writer + 1).toString(16).padStart(4, '0')}${(trace * 10).toString(16).padStart(12, '0')}`;
    const spanId = `${(writer + 1).toString(16).padStart(4, '0')}${n.toString(16).padStart(12, '0')}`;
    const start = BigInt(t0) + BigInt(i) * 1_000_000n;
    spans.push({
      traceId,
      spanId,
      ...(isRoot ? {} : { parentSpanId: rootId }),
      name: isRoot ? 'GET /articles/:id' : 'SELECT articles',
      kind: isRoot ? 'server' : 'client',
      serviceName: `writer-${writer}`,
      startTimeNs: start,
      endTimeNs: start + 500_000n,
      status: { code: 'unset' },
      attributes: isRoot
        ? { 'http.request.method': 'GET', 'http.route': '/articles/:id', 'http.response.status_code': 200 }
        : { 'db.system.name': 'postgresql', 'db.query.text': `SELECT * FROM articles WHERE id = ${n}` },
      events: [],
      links: [],
      resource: { 'service.name': `writer-${writer}` },
    });
  }
  return spans;
}
