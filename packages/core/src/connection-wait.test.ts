import { expectValidMermaid, httpServer, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { layoutTrace } from './layout.js';
import { traceToMermaid } from './mermaid.js';
import { summarizeLayout, summarizeTrace } from './summary.js';
import { buildSpanTree } from './tree.js';

/** Two requests' worth of one route on a pool of one connection: the second query waited 58 ms. */
function busyPool() {
  const query = sql({ id: 'q', parent: 'root', start: 2, end: 110, query: 'SELECT * FROM reports WHERE id = $1' });
  const waited = { ...query, attributes: { ...query.attributes, 'db.client.connection.wait_time': 0.058 } };
  return trace(
    httpServer({ id: 'root', start: 0, end: 112, method: 'GET', route: '/report/:id', status: 200 }),
    waited,
  );
}

describe('the time a query waited for a pooled connection', () => {
  it('is a note before the query in the timed diagram', async () => {
    const { text } = traceToMermaid(busyPool());
    await expectValidMermaid(text);
    expect(text).toContain('Note over p2: waited 58 ms for a connection\np2->>p3: SELECT reports\n');
  });

  it('is not own work: no own-work note for it, and the analysis counts it as database time', async () => {
    // The request asked at 2 ms; the query started once a connection was free, 58 ms later.
    const query = sql({ id: 'q', parent: 'root', start: 60, end: 70, query: 'SELECT * FROM reports WHERE id = $1' });
    const waited = { ...query, attributes: { ...query.attributes, 'db.client.connection.wait_time': 0.058 } };
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 72, method: 'GET', route: '/report/:id', status: 200 }),
      waited,
    );
    const { text } = traceToMermaid(t);
    await expectValidMermaid(text);
    expect(text).toContain('waited 58 ms for a connection');
    expect(text).not.toContain('own work');
    const analysis = analyzeTrace(t);
    expect(analysis.byCategory.db).toBe(68);
    expect(analysis.byCategory.own).toBe(4);
  });

  it('is not own work before queries issued together that all waited', async () => {
    // Three queries asked for at 1 ms while another request held the only
    // connection; they ran together once it was free, 200 ms later.
    const queries = [0, 1, 2].map((i) => {
      const query = sql({ id: `w${i}`, parent: 'root', start: 201 + i, end: 220 + i, query: 'SELECT n' });
      return { ...query, attributes: { ...query.attributes, 'db.client.connection.wait_time': 0.2 + i / 1000 } };
    });
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 225, method: 'GET', route: '/misc', status: 200 }),
      ...queries,
    );
    const { text } = traceToMermaid(t);
    await expectValidMermaid(text);
    expect(text).toContain('par 3 concurrent calls');
    expect(text).not.toContain('own work');
  });

  it('is left out of the timing-free diagram, which stays byte-stable', async () => {
    const { text } = traceToMermaid(busyPool(), { timings: false });
    await expectValidMermaid(text);
    expect(text).not.toContain('connection');
  });

  it('makes queries issued together that waited in turn one concurrent group, not a serial loop', async () => {
    // Three queries asked for at 1 ms on a pool of one: each ran once the previous had answered.
    const waits = [0, 0.03, 0.06];
    const queries = waits.map((wait, i) => {
      const query = sql({ id: `q${i}`, parent: 'root', start: 1 + 30 * i, end: 31 + 30 * i, query: 'SELECT n' });
      return wait === 0
        ? query
        : { ...query, attributes: { ...query.attributes, 'db.client.connection.wait_time': wait } };
    });
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 95, method: 'GET', route: '/all', status: 200 }),
      ...queries,
    );
    const { text } = traceToMermaid(t, { timings: false });
    await expectValidMermaid(text);
    expect(text).not.toContain('loop');
    expect(text).toContain('par 3 concurrent calls');
    const quick = summarizeLayout(layoutTrace(buildSpanTree(t)));
    expect(quick?.parGroups).toBe(1);
    expect(quick).toEqual(summarizeTrace(t));
    expect(analyzeTrace(t).nPlusOne).toHaveLength(0);
  });
});
