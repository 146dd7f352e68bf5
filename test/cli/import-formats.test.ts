import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSequenceDiagram } from '@lifeline/test-support/mermaid';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, type CliResult, repoRoot, runCli, tempDir } from './cli-runner.js';

/** Trace files in the shapes real tools write, each a kind of input `lifeline import` must accept. */
const cases = join(repoRoot, 'test', 'fixtures', 'cases');

let work: string;

beforeAll(() => {
  buildWorkspace();
  work = tempDir('import-formats');
}, 300_000);

interface Imported {
  readonly import: CliResult;
  /** The timing-free Mermaid text of the last trace, checked by Mermaid's parser. */
  readonly diagram: string;
  /** Participants as Mermaid read them. */
  readonly participants: readonly string[];
}

let dbCount = 0;

/** Imports the files into a fresh database and exports its last trace as timing-free Mermaid. */
async function importAndDraw(...files: string[]): Promise<Imported> {
  const db = join(work, `case-${++dbCount}.db`);
  const imported = runCli(['import', '--db', db, ...files.map((file) => join(cases, file))]);
  const exported = runCli(['export', 'last', '--db', db, '--format', 'mmd', '--no-timings']);
  expect(exported.code, exported.stderr).toBe(0);
  const parsed = await parseSequenceDiagram(exported.stdout);
  return {
    import: imported,
    diagram: exported.stdout,
    participants: parsed.actors.map((actor) => actor.name),
  };
}

describe('lifeline import: Zipkin', () => {
  it('draws a SERVER span sharing its CLIENT span id without the shared flag as one lifeline, like the flagged control', async () => {
    const result = await importAndDraw('zipkin-shared-id-without-flag.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stderr).toBe('');
    expect(result.import.stdout).toContain('zipkin, 4 spans in 1 trace from 2 services');
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as frontend
      participant p3 as pricing
      participant p4 as mysql
      p1->>p2: get /checkout
      p2->>p3: get /price
      p3->>p4: select prices
      p4-->>p3: ok
      p3-->>p2: 200
      p2-->>p1: 200
      "
    `);
    expect(result.participants.filter((name) => name === 'pricing')).toHaveLength(1);
    const control = await importAndDraw('zipkin-shared-id-control.json');
    expect(result.diagram).toBe(control.diagram);
  });

  it('merges a span reported in pieces instead of dropping the later ones', async () => {
    const result = await importAndDraw('zipkin-reported-in-pieces.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stdout).toContain('zipkin, 4 spans in 1 trace from 2 services');
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as storefront
      participant p3 as inventory
      participant p4 as postgres
      p1->>p2: get /cart
      p2->>p3: get
      p3->>p4: select stock
      p4-->>p3: ok
      p3-->>p2: 200
      p2-->>p1: 200
      "
    `);
  });

  it('draws one trace from spans carrying both the 128-bit trace id and its lower 64 bits', async () => {
    const result = await importAndDraw('zipkin-mixed-width-trace-ids.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stdout).toContain('zipkin, 4 spans in 1 trace from 2 services');
    expect(result.import.stderr).toMatch(
      /^warning: .*trace id 48485a3953bb6124 \(64-bit\) read as 463ac35c9f6413ad48485a3953bb6124/m,
    );
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as gateway
      participant p3 as orders
      participant p4 as mysql
      p1->>p2: get /orders
      p2->>p3: get /orders
      p3->>p4: query
      p4-->>p3: ok
      p3-->>p2: 200
      p2-->>p1: 200
      "
    `);
  });
  it('imports Zipkin v1 JSON, joining the client and server halves of a span', async () => {
    const result = await importAndDraw('zipkin-v1.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stdout).toContain('zipkin, 5 spans in 1 trace from 2 services');
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as frontend
      participant p3 as backend
      participant p4 as mysql
      p1->>p2: get /api
      p2->>p3: get
      p3->>p4: query
      p4-->>p3: ok
      p3-->>p2: 200
      p2-->>p1: ok
      "
    `);
  });
});

describe('lifeline import: Grafana Tempo', () => {
  it('imports Tempo trace JSON ({"batches": …}) like the OTLP request it wraps', async () => {
    const result = await importAndDraw('tempo-batches.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stdout).toContain('tempo-batches.json: tempo, 2 spans in 1 trace from 1 service');
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as checkout
      participant p3 as postgresql (db)
      p1->>p2: GET /pay
      p2->>p3: SELECT wallets
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    expect(result.diagram).toBe((await importAndDraw('tempo-batches-control.json')).diagram);
  });

  it('imports older Tempo JSON (instrumentationLibrarySpans, number times, status names)', async () => {
    const result = await importAndDraw('tempo-instrumentation-library.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as shipping
      participant p3 as postgresql shipping (db)
      participant p4 as carrier.example
      p1->>p2: POST /shipments
      p2->>p3: SELECT rates
      p3-->>p2: ok
      p2->>p4: POST
      p4--xp2: 503
      p2--xp1: 502 · carrier unavailable
      "
    `);
  });

  it('imports the Tempo API v2 envelope ({"trace": …})', async () => {
    const result = await importAndDraw('tempo-api-v2.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stdout).toContain('tempo-api-v2.json: tempo, 2 spans in 1 trace');
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as search
      participant p3 as redis (cache)
      p1->>p2: GET /search
      p2->>p3: GET search:shoes
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
  });
});

describe('lifeline import: Collector file exports', () => {
  it('imports the trace lines of a file mixing traces, metrics and logs, and says what it skipped', async () => {
    const result = await importAndDraw('collector-mixed-signals.jsonl');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stdout).toContain(
      'collector-mixed-signals.jsonl: otlp-jsonl, 2 spans in 1 trace from 1 service; skipped lines of other signals: 2 metrics, 1 logs',
    );
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as billing
      participant p3 as postgresql billing (db)
      p1->>p2: POST /invoices
      p2->>p3: INSERT invoices
      p3-->>p2: ok
      p2-->>p1: 201
      "
    `);
  });
});

describe('lifeline import: ids that are not hex', () => {
  it('imports a Jaeger file with ids like "trace-1" and "span-a" and notes the replaced ids', async () => {
    const result = await importAndDraw('jaeger-non-hex-ids.json');
    expect(result.import.code, result.import.stderr).toBe(0);
    expect(result.import.stdout).toContain('jaeger, 4 spans in 1 trace from 2 services');
    expect(result.import.stderr).toMatch(/^warning: .*3 span ids were not valid ids \(e\.g\. "span-a"\)/m);
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as profile
      participant p3 as avatars
      participant p4 as redis (cache)
      p1->>p2: GET /profile
      p2->>p3: GET /avatars/:id
      p3->>p4: GET avatar:*
      p4-->>p3: ok
      p3-->>p2: 200
      p2-->>p1: 200
      "
    `);
  });
});

describe('lifeline import: partial imports', () => {
  it('imports the valid spans, lists each skipped one with its place, and exits 3', async () => {
    const result = await importAndDraw('otlp-bad-values.json');
    expect(result.import.code).toBe(3);
    expect(result.import.stdout).toContain(
      'otlp-bad-values.json: otlp-json, 4 spans in 1 trace from 1 service; skipped 3 spans (2 problems)',
    );
    // A span of an unknown kind is kept, as SPAN_KIND_UNSPECIFIED, with a warning.
    expect(result.import.stderr.split('\n').filter((line) => line !== '')).toEqual([
      `warning: ${join(cases, 'otlp-bad-values.json')}: 1 span has an unknown span kind ("SPAN_KIND_SIDEWAYS"): imported as SPAN_KIND_UNSPECIFIED, drawn as internal`,
      `problem: ${join(cases, 'otlp-bad-values.json')}: at resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano: expected a number, found string "soon"`,
      `problem: ${join(cases, 'otlp-bad-values.json')}: at resourceSpans[1].resource.attributes: expected an array, found string "oops"`,
      'lifeline: skipped 3 spans (2 problems in 1 file, listed above); the rest was imported',
    ]);
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as catalog
      participant p3 as postgresql (db)
      participant p4 as reviews
      participant p5 as redis (cache)
      p1->>p2: GET /products/:id
      p2->>p3: SELECT prices
      p3-->>p2: ok
      p2->>p4: GET
      p4-->>p2: 200
      p2->>p5: HGET
      p5-->>p2: ok
      p2-->>p1: 200
      "
    `);
  });

  it('names the line of each bad line of a JSON-lines file and imports the others', async () => {
    const result = await importAndDraw('collector-truncated.jsonl');
    expect(result.import.code).toBe(3);
    expect(result.import.stderr).toMatch(
      /^problem: .*collector-truncated\.jsonl: at line 2: expected an OTLP export request/m,
    );
    expect(result.import.stderr).toMatch(
      /^problem: .*collector-truncated\.jsonl: at line 4: not complete JSON \(the file may have been cut off\); its spans were not imported$/m,
    );
    expect(result.diagram).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as billing
      participant p3 as postgresql billing (db)
      p1->>p2: POST /invoices
      p2->>p3: INSERT invoices
      p3-->>p2: ok
      p2-->>p1: 201
      "
    `);
  });

  it('prints the first ten problems and counts the rest', () => {
    const spans = Array.from({ length: 14 }, (_, i) => ({
      traceId: '9a1b2c3d4e5f6071',
      id: (i + 1).toString(16).padStart(16, '0'),
      name: 'get',
      timestamp: i < 12 ? 'soon' : 1767225607000000 + i,
      localEndpoint: { serviceName: 'feed' },
    }));
    const file = join(work, 'many-problems.json');
    writeFileSync(file, JSON.stringify(spans));
    const result = runCli(['import', '--db', join(work, 'many.db'), file]);
    expect(result.code).toBe(3);
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('problem: '));
    expect(problems).toHaveLength(11);
    expect(problems[10]).toBe('problem: … and 2 more problems');
    expect(result.stdout).toContain('2 spans in 1 trace from 1 service; skipped 12 spans (12 problems)');
  });

  it('imports nothing from a file in which no span can be read, and exits 1', () => {
    const file = join(work, 'all-bad.json');
    writeFileSync(file, JSON.stringify([{ traceId: 'aa', id: 'bb', timestamp: 'soon' }]));
    const result = runCli(['import', '--db', join(work, 'all-bad.db'), file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^lifeline: .*all-bad\.json no span could be read \(1 problem; the first: at \[0\]\.timestamp: expected a number, found string "soon"\)\. Nothing was imported\n$/,
    );
  });

  it('refuses a file that is no trace file with the formats it reads and a hint', () => {
    const file = join(work, 'metrics.json');
    writeFileSync(file, readFileSync(join(cases, 'collector-mixed-signals.jsonl'), 'utf8').split('\n')[1] ?? '');
    const result = runCli(['import', '--db', join(work, 'metrics.db'), file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^lifeline: cannot import .*metrics\.json: metrics\.json: unrecognised trace format: expected OTLP JSON .*Grafana Tempo JSON .* Hint: this is OpenTelemetry metrics \(resourceMetrics\), not traces\. Nothing was imported\n$/,
    );
  });

  it('documents the exit statuses in its help', () => {
    const help = runCli(['import', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /Exit status: 0 all imported \(spans already there included\), 3 imported with\s+some spans or lines skipped or lost to an id already taken \(counted on stderr\),\s+1 nothing imported/,
    );
  });
});

describe('lifeline import counts what it stored and says what was odd', () => {
  const line = (spans: Record<string, unknown>[]): string =>
    JSON.stringify({
      resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans }] }],
    });
  const base = BigInt(Date.UTC(2025, 4, 1)) * 1_000_000n;
  const otlpSpan = (n: number, fields: Record<string, unknown> = {}): Record<string, unknown> => ({
    traceId: `ab${'0'.repeat(29)}${n}`,
    spanId: `cd${'0'.repeat(13)}${n}`,
    name: `work ${n}`,
    kind: 1,
    startTimeUnixNano: String(base + BigInt(n) * 1_000_000n),
    endTimeUnixNano: String(base + BigInt(n) * 1_000_000n + 500_000n),
    ...fields,
  });

  it('counts a repeated line once, and a second import of the file as already there', () => {
    const file = join(work, 'repeated.jsonl');
    const first = line([otlpSpan(1), otlpSpan(2)]);
    writeFileSync(file, `${first}\n${first}\n${line([otlpSpan(3)])}\n`);
    const db = join(work, 'repeated.db');
    const once = runCli(['import', '--db', db, file]);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout).toContain('Imported 3 new spans in 3 traces');
    expect(once.stdout).toContain('2 spans were already there');
    const again = runCli(['import', '--db', db, file]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Imported 0 new spans');
    expect(again.stdout).toContain('5 spans were already there');
  });

  it.each([
    ['JSON lines', 'conflict.jsonl', (a: string, b: string) => `${a}\n${b}\n`],
    [
      'OTLP JSON',
      'conflict.json',
      (a: string, b: string) =>
        JSON.stringify({ resourceSpans: [...JSON.parse(a).resourceSpans, ...JSON.parse(b).resourceSpans] }),
    ],
  ])('keeps the first of spans that share an id with different content and says so (%s)', (_, name, join2) => {
    const file = join(work, name);
    const first = line([otlpSpan(7), otlpSpan(8)]);
    // The same ids again: one copy as it was, one moved by a clock correction.
    const second = line([otlpSpan(7), otlpSpan(8, { startTimeUnixNano: String(base + 8_100_000n) })]);
    writeFileSync(file, join2(first, second));
    const db = join(work, `${name}.db`);
    const result = runCli(['import', '--db', db, file]);
    // A span was lost: not a success, though everything else was written.
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toContain('Imported 2 new spans');
    expect(result.stdout).toContain('; 1 already there; 1 sharing an id with a different span');
    expect(result.stderr).toBe(
      `lifeline: did not import 1 span that shared an id with a different span (kept the first, see span cd${'0'.repeat(13)}8 of trace ab${'0'.repeat(29)}8); the rest was imported\n`,
    );
    const list = runCli(['list', '--db', db, '--all', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(2);
  });

  it('adds up the spans lost to ids already taken across files, with examples from each', () => {
    const a = join(work, 'conflict-a.jsonl');
    const b = join(work, 'conflict-b.jsonl');
    writeFileSync(a, `${line([otlpSpan(1)])}\n${line([otlpSpan(1, { name: 'moved' })])}\n`);
    writeFileSync(b, `${line([otlpSpan(2)])}\n${line([otlpSpan(2, { name: 'moved' })])}\n`);
    const result = runCli(['import', '--db', join(work, 'conflicts-two-files.db'), a, b]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toContain('Imported 2 new spans in 2 traces');
    expect(result.stderr).toBe(
      `lifeline: did not import 2 spans that shared an id with a different span (kept the first, see span cd${'0'.repeat(13)}1 of trace ab${'0'.repeat(29)}1, span cd${'0'.repeat(13)}2 of trace ab${'0'.repeat(29)}2); the rest was imported\n`,
    );
  });

  it('says plainly that a last line cut short lost its spans', () => {
    const file = join(work, 'cut-off.jsonl');
    const whole = line([otlpSpan(3)]);
    writeFileSync(file, `${line([otlpSpan(1)])}\n${line([otlpSpan(2)])}\n${whole.slice(0, whole.length / 2)}`);
    const result = runCli(['import', '--db', join(work, 'cut-off.db'), file]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toContain(
      'cut-off.jsonl: otlp-jsonl, 2 spans in 2 traces from 1 service; skipped 1 unreadable line (1 problem)',
    );
    expect(result.stderr.split('\n').filter((l) => l !== '')).toEqual([
      `problem: ${file}: at line 3: not complete JSON (the file may have been cut off); its spans were not imported`,
      'lifeline: skipped 1 unreadable line (1 problem in 1 file, listed above); the rest was imported',
    ]);
  });

  it('skips a span without a start time (0 or absent) and names the field, as for a time out of range', () => {
    const file = join(work, 'no-start.json');
    const missing = Object.fromEntries(Object.entries(otlpSpan(3)).filter(([key]) => key !== 'startTimeUnixNano'));
    writeFileSync(file, line([otlpSpan(1), otlpSpan(2, { startTimeUnixNano: '0' }), missing]));
    const result = runCli(['import', '--db', join(work, 'no-start.db'), file]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toContain('1 span in 1 trace from 1 service; skipped 2 spans (2 problems)');
    expect(result.stderr).toContain(
      'at resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano: a start time of 0 means none was recorded: the span cannot be placed in time',
    );
    expect(result.stderr).toContain(
      'at resourceSpans[0].scopeSpans[0].spans[2].startTimeUnixNano: the span has no start time',
    );
  });

  it('imports a span of an unknown kind as unspecified, and warns about it, an end of 0 and an end before the start', () => {
    const file = join(work, 'odd-spans.json');
    const spans = [
      otlpSpan(1, { kind: 'SPAN_KIND_SIDEWAYS' }),
      otlpSpan(2, { kind: 9 }),
      otlpSpan(3, { endTimeUnixNano: '0' }),
      otlpSpan(4, { endTimeUnixNano: String(base) }),
      otlpSpan(5, { spanId: '0'.repeat(16) }),
    ];
    writeFileSync(file, line(spans));
    const result = runCli(['import', '--db', join(work, 'odd-spans.db'), file]);
    // The all-zero span id is skipped and named: exit 3, the rest imported.
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toContain('Imported 4 new spans');
    expect(result.stderr).toContain(
      '2 spans have an unknown span kind ("SPAN_KIND_SIDEWAYS", "9"): imported as SPAN_KIND_UNSPECIFIED, drawn as internal',
    );
    expect(result.stderr).toContain('1 span has no end time (absent or 0)');
    expect(result.stderr).toContain(
      `1 span ends before it starts (e.g. span cd${'0'.repeat(13)}4): end set to the start`,
    );
    expect(result.stderr).toMatch(/problem: .*spans\[4\]\.spanId: an all-zero span id is invalid/);
  });
});

describe('lifeline import: broken parent links, in every format', () => {
  // A request with three queries: one whose parent is missing, one naming itself, and a normal one.
  const zipkin = [
    {
      traceId: 'ab01',
      id: 'a1',
      name: 'get /order',
      kind: 'SERVER',
      timestamp: 1_000_000,
      duration: 100_000,
      localEndpoint: { serviceName: 'shop' },
      tags: { 'http.method': 'GET', 'http.route': '/order', 'http.status_code': '200' },
    },
    {
      traceId: 'ab01',
      id: 'a2',
      parentId: 'ff',
      name: 'select items',
      kind: 'CLIENT',
      timestamp: 1_020_000,
      duration: 10_000,
      localEndpoint: { serviceName: 'shop' },
      remoteEndpoint: { serviceName: 'postgres' },
    },
    {
      traceId: 'ab01',
      id: 'a3',
      parentId: 'a3',
      name: 'select users',
      kind: 'CLIENT',
      timestamp: 1_040_000,
      duration: 10_000,
      localEndpoint: { serviceName: 'shop' },
      remoteEndpoint: { serviceName: 'postgres' },
    },
  ];
  const jaegerSpan = (
    spanID: string,
    name: string,
    kind: string,
    start: number,
    duration: number,
    parent?: string,
  ) => ({
    traceID: 'ab02',
    spanID,
    operationName: name,
    references: parent === undefined ? [] : [{ refType: 'CHILD_OF', traceID: 'ab02', spanID: parent }],
    startTime: start,
    duration,
    tags: [{ key: 'span.kind', type: 'string', value: kind }],
    processID: 'p1',
  });
  const jaeger = {
    data: [
      {
        traceID: 'ab02',
        spans: [
          jaegerSpan('b1', 'GET /order', 'server', 1_000_000, 100_000),
          jaegerSpan('b2', 'select items', 'client', 1_020_000, 10_000, 'ff'),
          jaegerSpan('b3', 'select users', 'client', 1_040_000, 10_000, 'b3'),
        ],
        processes: { p1: { serviceName: 'shop' } },
      },
    ],
  };

  it.each([
    ['Zipkin', 'broken-links-zipkin.json', JSON.stringify(zipkin)],
    ['Jaeger', 'broken-links-jaeger.json', JSON.stringify(jaeger)],
  ])('%s: draws the spans inside the request by their start time and notes the broken links', async (_, name, text) => {
    const file = join(work, name);
    writeFileSync(file, text);
    const db = join(work, `${name}.db`);
    const imported = runCli(['import', '--db', db, file]);
    expect(imported.code, imported.stderr).toBe(0);
    const mmd = runCli(['export', 'last', '--db', db, '--format', 'mmd', '--no-timings']);
    expect(mmd.code, mmd.stderr).toBe(0);
    await parseSequenceDiagram(mmd.stdout);
    const lines = mmd.stdout.trimEnd().split('\n');
    expect(lines).toContain(
      'Note over p1,p2: incomplete trace: parent of 1 span missing (select items), drawn by start time',
    );
    expect(lines).toContain('Note over p1,p2: parent link broken: 1 span naming itself as parent (select users)');
    // Both queries are drawn before the response, in their order.
    const response = lines.findIndex((line) => line.startsWith('p2-->>p1') || line.startsWith('p2--xp1'));
    expect(response).toBe(lines.length - 1);
    expect(lines.findIndex((line) => line.endsWith(': select items'))).toBeLessThan(
      lines.findIndex((line) => line.endsWith(': select users')),
    );
  });
});
