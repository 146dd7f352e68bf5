import { generateTrace, seededRandom } from '@lifeline/test-support/generate';
import {
  consume,
  expectValidMermaid,
  httpClient,
  httpServer,
  publish,
  redis,
  span,
  sql,
  TRACE_ID,
  trace,
} from '@lifeline/test-support/spans';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { DEFAULT_MAX_TEXT_LENGTH, escapeMermaidText, renderMermaid, traceToMermaid } from './mermaid.js';
import { type Message, type Participant, type SequenceItem, toSequence } from './sequence.js';
import { summarizeTrace } from './summary.js';
import type { Attributes, Span, SpanKind, Trace } from './trace.js';

const HOSTILE = [
  ';',
  '#',
  '%%',
  '%%{init: {"theme":"dark"}}%%',
  '\n',
  '\r\n',
  '\t',
  '->>',
  '-->>',
  '--x',
  '-)',
  '+',
  '-',
  'end',
  'par',
  'and',
  'loop',
  'else',
  'Note over p1: hi',
  'participant p9',
  'autonumber',
  '<script>alert(1)</script>',
  '<br/>',
  '&amp;',
  '"',
  "'",
  ':',
  ',',
  '{',
  '}',
  '@{ "type": "queue" }',
  '`',
  'wrap:',
  'nowrap:',
  '#59;',
  '\\',
  '\u2028',
  '\u0000',
  '\u007f',
  '🦄',
  'مرحبا',
  '\ud800',
  'x'.repeat(150),
  ' ',
  'as',
  'title',
  'ok',
  '(',
  ')',
  '()',
  '[',
  ']',
  '|',
  '-x',
  'x--',
  '<<->>',
  '//',
  '\\|-',
  'box',
  'rect',
  'critical',
  'opt',
  'alt',
  'destroy',
  'create',
  'activate',
  'link',
  'properties',
  'accTitle:',
];

const hostileText = fc.oneof(
  fc.array(fc.constantFrom(...HOSTILE), { minLength: 0, maxLength: 6 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** Mermaid reads text after trimming and our escaper collapses whitespace: compare like with like. */
function normalise(text: string, max: number, name = false): string {
  const s = escapeMermaidText(text, { maxLength: max, name });
  return s
    .replace(/#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/#(lt|gt|amp|quot);/g, (_, n: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"' })[n] ?? n);
}

const KIND_WORDS: Partial<Record<Participant['kind'], string>> = { database: 'db', cache: 'cache', queue: 'queue' };

/** A participant's name as Mermaid reads it back: escaped, cut, and with its kind word unless drawn as a shape. */
function shownName(p: Participant, shapes = false): string {
  const word = KIND_WORDS[p.kind];
  return `${normalise(p.name, 60, true)}${word !== undefined && !shapes ? ` (${word})` : ''}`;
}

/** Messages in text order, through par branches and loops. */
function messages(items: readonly SequenceItem[]): Message[] {
  return items.flatMap((item) =>
    item.type === 'message'
      ? [item]
      : item.type === 'loop'
        ? messages(item.items)
        : item.type === 'par'
          ? item.branches.flatMap((b) => messages(b))
          : [],
  );
}

describe('escapeMermaidText', () => {
  it('replaces every character Mermaid reads as syntax with an entity code', () => {
    expect(escapeMermaidText('a; b # c %% d <b>&"x"` {y} \\')).toBe(
      'a#59; b #35; c #37;#37; d #lt;b#gt;#amp;#quot;x#quot;#96; #123;y#125; #92;',
    );
    expect(escapeMermaidText('db: a, b', { name: true })).toBe('db#58; a#44; b');
  });

  it('indents nested blocks with the given indentation only when it is whitespace', async () => {
    const model = toSequence(
      trace(
        httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
        sql({ id: 'a', parent: 'root', start: 10, end: 30, query: 'SELECT 1' }),
        sql({ id: 'b', parent: 'root', start: 20, end: 40, query: 'SELECT 2' }),
      ),
      { timings: false },
    );
    const tabbed = renderMermaid(model, { indent: '\t' });
    expect(tabbed).toContain('\n\tp2->>p3: SELECT');
    await expectValidMermaid(tabbed);
    const fallback = renderMermaid(model, { indent: 'x;' });
    expect(fallback).toContain('\n  p2->>p3: SELECT');
    await expectValidMermaid(fallback);
  });

  it('keeps text on one line and cuts long text with an ellipsis', () => {
    expect(escapeMermaidText('a\nb\r\nc\u2028d\te')).toBe('a b c d e');
    const long = escapeMermaidText('y'.repeat(500), { maxLength: 80 });
    expect(Array.from(long)).toHaveLength(80);
    expect(long.endsWith('…')).toBe(true);
  });

  it('defuses a leading wrap directive and empty text', () => {
    expect(escapeMermaidText('wrap:x')).toBe('wrap#58;x');
    expect(escapeMermaidText('  ')).toBe('…');
    expect(escapeMermaidText('', { name: true })).toBe('(unnamed)');
  });
});

describe('renderMermaid', () => {
  /** An order request that reads PostgreSQL, looks up Redis and publishes to a queue a worker consumes. */
  const ordersTrace = (): Trace =>
    trace(
      httpServer({ id: 'root', start: 0, end: 100, method: 'POST', route: '/orders', status: 201 }),
      sql({ id: 'q', parent: 'root', start: 10, end: 20, query: 'SELECT * FROM stock WHERE sku = $1', db: 'shop' }),
      redis({ id: 'r', parent: 'root', start: 25, end: 30, statement: 'GET stock:42' }),
      publish({ id: 'p', parent: 'root', start: 35, end: 40, queue: 'orders' }),
      consume({ id: 'c', parent: 'p', service: 'worker', start: 60, end: 90, queue: 'orders' }),
    );

  it('names databases, caches and queues by kind in syntax Mermaid 10.9 parses, and draws shapes only when asked', async () => {
    const model = toSequence(ordersTrace(), { timings: false });
    const portable = renderMermaid(model);
    expect(portable).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql shop (db)
      participant p4 as redis (cache)
      participant p5 as orders (queue)
      participant p6 as worker
      p1->>p2: POST /orders
      p2->>p3: SELECT stock
      p3-->>p2: ok
      p2->>p4: GET stock:*
      p4-->>p2: ok
      p2-)p5: publish orders
      p5-)p6: process orders
      p2-->>p1: 201
      "
    `);
    expect(portable).not.toContain('@{');
    const parsed = await expectValidMermaid(portable);
    expect(parsed.actors.map((a) => [a.name, a.type])).toEqual([
      ['Client', 'actor'],
      ['api', 'participant'],
      ['postgresql shop (db)', 'participant'],
      ['redis (cache)', 'participant'],
      ['orders (queue)', 'participant'],
      ['worker', 'participant'],
    ]);

    const shaped = renderMermaid(model, { participantShapes: true });
    expect(shaped).toContain('participant p3@{ "type" : "database" } as postgresql shop\n');
    expect(shaped).toContain('participant p4@{ "type" : "database" } as redis\n');
    expect(shaped).toContain('participant p5@{ "type" : "queue" } as orders\n');
    // The shape syntax is exactly what older Mermaid cannot read: the default must stay without it.
    await expect(expectValidMermaid(shaped)).rejects.toThrow(/Mermaid 10\.9/);
    const read = await expectValidMermaid(shaped, { versions: 'current' });
    expect(read.actors.map((a) => [a.name, a.type])).toEqual([
      ['Client', 'actor'],
      ['api', 'participant'],
      ['postgresql shop', 'database'],
      ['redis', 'database'],
      ['orders', 'queue'],
      ['worker', 'participant'],
    ]);
    expect(traceToMermaid(ordersTrace(), { timings: false }).text).toBe(portable);
    expect(traceToMermaid(ordersTrace(), { timings: false, participantShapes: true }).text).toBe(shaped);
  });

  it('keeps hostile names, attributes and errors inside their labels', async () => {
    const evil = 'x;\nend\n%%{init:{}}%% <img src=x onerror=alert(1)> -->> p1: #35; loop';
    const t = trace(
      httpServer({ id: 'root', service: `svc: a, b ${evil}`, start: 0, end: 100, route: `/r/${evil}`, status: 200 }),
      sql({
        id: 'q',
        parent: 'root',
        service: `svc: a, b ${evil}`,
        start: 10,
        end: 20,
        query: `SELECT * FROM t -- ${evil}`,
        db: evil,
        error: evil,
      }),
    );
    const model = toSequence(t, { timings: false });
    const text = renderMermaid(model);
    expect(text.split('\n')).toHaveLength(10);
    expect(text).not.toMatch(/<img|%%|\n(end|loop)\b/);
    const parsed = await expectValidMermaid(text);
    expect(parsed.signals).toHaveLength(4);
    expect(parsed.actors.map((a) => a.name)).toEqual(model.participants.map((p) => shownName(p)));
    expect(parsed.signals.map((s) => s.text)).toEqual(
      model.items.flatMap((i) => (i.type === 'message' ? [normalise(i.text, 120)] : [])),
    );
  });

  it('always produces text Mermaid parses, with one parsed arrow per model arrow', async () => {
    const kinds: SpanKind[] = ['internal', 'server', 'client', 'producer', 'consumer'];
    const flavours = ['http', 'db', 'redis', 'queue', 'rpc', 'plain'] as const;
    const spanArb = fc.record({
      parent: fc.nat(40),
      orphan: fc.boolean(),
      kind: fc.constantFrom(...kinds),
      flavour: fc.constantFrom(...flavours),
      start: fc.integer({ min: 0, max: 400 }),
      duration: fc.integer({ min: 0, max: 200 }),
      noEnd: fc.boolean(),
      error: fc.boolean(),
      service: fc.oneof(fc.constantFrom('api', 'users', 'worker'), hostileText),
      name: hostileText,
      value: hostileText,
      message: hostileText,
    });
    const options = fc.record({
      timings: fc.boolean(),
      internal: fc.boolean(),
      foldLoops: fc.boolean(),
      participantShapes: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(spanArb, { minLength: 0, maxLength: 30 }), options, async (specs, opts) => {
        const spans: Span[] = specs.map((s, i) => {
          const attributes: Attributes =
            s.flavour === 'http'
              ? {
                  'http.request.method': 'GET',
                  'http.route': s.value,
                  'url.full': `http://${s.value}/x`,
                  'server.address': s.value,
                  'http.response.status_code': s.error ? 500 : 200,
                }
              : s.flavour === 'db'
                ? {
                    'db.system.name': 'postgresql',
                    'db.namespace': s.value,
                    'db.query.text': `SELECT * FROM ${s.value}`,
                  }
                : s.flavour === 'redis'
                  ? { 'db.system': 'redis', 'db.statement': `GET ${s.value}` }
                  : s.flavour === 'queue'
                    ? { 'messaging.system': 'rabbitmq', 'messaging.destination.name': s.value }
                    : s.flavour === 'rpc'
                      ? { 'rpc.system': 'grpc', 'rpc.service': s.value, 'rpc.method': s.name }
                      : {};
          return span({
            id: `s${i}`,
            parent: i === 0 ? undefined : s.orphan ? `missing${i}` : `s${s.parent % specs.length}`, // may point forward, to itself or round a cycle
            name: s.name,
            kind: s.kind,
            service: s.service,
            start: s.start,
            end: s.noEnd ? null : s.start + s.duration,
            attributes,
            status: s.error ? { code: 'error', message: s.message } : { code: 'unset' },
            events: s.error ? [{ name: 'exception', timeNs: 0n, attributes: { 'exception.message': s.message } }] : [],
          });
        });
        const model = toSequence({ traceId: TRACE_ID, spans }, opts);
        const text = renderMermaid(model, opts);
        const shaped = model.participants.some((p) => KIND_WORDS[p.kind] !== undefined);
        // Shapes are newer syntax than Mermaid 10.9 reads: only the current Mermaid checks that text.
        expect(text.includes('@{')).toBe(opts.participantShapes && shaped);
        const parsed = await expectValidMermaid(text, { versions: opts.participantShapes ? 'current' : 'all' });
        expect(parsed.signals).toHaveLength(model.messageCount);
        expect(model.arrows).toHaveLength(model.messageCount);
        expect(parsed.signals.map((s) => [s.from, s.to])).toEqual(model.arrows.map((a) => [a.from, a.to]));
        expect(parsed.actors.map((a) => a.name)).toEqual(
          model.participants.map((p) => shownName(p, opts.participantShapes)),
        );
        expect(parsed.signals.map((s) => s.text)).toEqual(messages(model.items).map((m) => normalise(m.text, 120)));
        if (!opts.timings) expect(renderMermaid(toSequence({ traceId: TRACE_ID, spans }, opts), opts)).toBe(text);
        // The analysis of the same bad trace holds together too: the critical path covers the root exactly.
        const analysis = analyzeTrace({ traceId: TRACE_ID, spans });
        const onPath = analysis.criticalPath.reduce((n, step) => n + step.durationMs, 0);
        expect(onPath).toBeCloseTo(analysis.wallTimeMs, 1);
        expect(summarizeTrace({ traceId: TRACE_ID, spans }).spanCount).toBe(spans.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('traceToMermaid', () => {
  /** A root that calls `fanout` services, each making `perService` distinct queries. */
  function wideTrace(fanout: number, perService: number): Trace {
    const spans: Span[] = [httpServer({ id: 'root', start: 0, end: 10_000, route: '/big', status: 200 })];
    for (let s = 0; s < fanout; s++) {
      const start = s * 100;
      spans.push(
        span({
          id: `c${s}`,
          parent: 'root',
          kind: 'client',
          start,
          end: start + 90,
          attributes: { 'http.request.method': 'GET', 'url.full': `http://svc${s}/work/${s}` },
        }),
        httpServer({
          id: `s${s}`,
          parent: `c${s}`,
          service: `svc${s}`,
          start: start + 1,
          end: start + 89,
          route: `/work/:id`,
          status: 200,
        }),
      );
      for (let q = 0; q < perService; q++) {
        const qs = start + 2 + q * (80 / perService);
        spans.push(
          sql({
            id: `q${s}-${q}`,
            parent: `s${s}`,
            service: `svc${s}`,
            start: qs,
            end: qs + 80 / perService,
            query: `SELECT * FROM table_${q}`,
          }),
        );
      }
    }
    return trace(...spans);
  }

  it('returns the text unfolded when it fits', async () => {
    const result = traceToMermaid(wideTrace(2, 2), { timings: false });
    expect(result.folded).toBe(false);
    expect(result.model.notes).toEqual([]);
    await expectValidMermaid(result.text);
  });

  /** The size guard's note at the top of a folded diagram, as Mermaid reads it. */
  const FOLD_NOTE = /^diagram folded to stay under (\d+) characters: (\d+) calls? under (\d+) arrows? \((.+)\)$/;

  it('folds the fewest, largest groups, keeps at least 80 % of the limit, and names what it folded', async () => {
    const t = wideTrace(40, 30);
    const full = traceToMermaid(t, { timings: false, maxTextLength: 10_000_000 });
    expect(full.text.length).toBeGreaterThan(40_000);
    expect((await expectValidMermaid(full.text)).signals).toHaveLength(full.model.messageCount);
    const result = traceToMermaid(t, { timings: false, maxTextLength: 20_000 });
    expect(result.folded).toBe(true);
    expect(result.text.length).toBeLessThanOrEqual(20_000);
    expect(result.text.length).toBeGreaterThanOrEqual(16_000);
    const parsed = await expectValidMermaid(result.text);
    expect(parsed.signals).toHaveLength(result.model.arrows.length);
    expect(result.model.arrows.every((a, i) => a.number === i + 1)).toBe(true);
    // Every service call is still drawn; the queries of some of them are folded into one note each.
    expect(parsed.signals.filter((s) => s.text === 'GET /work/:id')).toHaveLength(40);
    const groups = result.text.match(/^\s*Note over p\d+: 30 calls folded$/gm) ?? [];
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.length).toBeLessThan(40);
    const [summary] = parsed.notes;
    const match = FOLD_NOTE.exec(summary ?? '');
    expect(match, summary).not.toBeNull();
    expect(match?.slice(1, 4)).toEqual(['20000', String(30 * groups.length), String(groups.length)]);
    // The note names the arrows the folded calls hang under, largest first.
    const [firstGroup] = (match?.[4] ?? '').split(', ');
    const arrow = Number(/^30 under (\d+) GET \/work\/:id$/.exec(firstGroup ?? '')?.[1]);
    expect(parsed.signals[arrow - 1]?.text).toBe('GET /work/:id');
    expect(result.model.notes).toContain(summary);
    expect(traceToMermaid(t, { timings: false, maxTextLength: 20_000 }).text).toBe(result.text);
  });

  it('folds only as much as needed: a drawing slightly too long loses one group', async () => {
    const t = wideTrace(10, 30);
    const full = traceToMermaid(t, { timings: false, maxTextLength: 1_000_000 });
    const result = traceToMermaid(t, { timings: false, maxTextLength: full.text.length - 100 });
    expect(result.folded).toBe(true);
    expect(result.text.length).toBeLessThanOrEqual(full.text.length - 100);
    expect(result.text.match(/calls folded/g)).toHaveLength(1);
    const parsed = await expectValidMermaid(result.text);
    expect(parsed.notes[0]).toMatch(/: 30 calls under 1 arrow \(30 under \d+ GET \/work\/:id\)$/);
  });

  it.each([
    [1_000, 53_000],
    [10_000, 500_000],
  ])('fills at least 80 percent of the limit when it folds a generated %i-span trace', async (spans, fullAtLeast) => {
    const generated = generateTrace({
      random: seededRandom(7),
      startTimeNs: 1_700_000_000_000 * 1e6,
      targetSpans: spans,
    });
    const t: Trace = { traceId: generated[0]?.traceId ?? '', spans: generated };
    expect(traceToMermaid(t, { maxTextLength: 10_000_000 }).text.length).toBeGreaterThan(fullAtLeast);
    const result = traceToMermaid(t);
    expect(result.folded).toBe(true);
    expect(result.text.length).toBeLessThanOrEqual(DEFAULT_MAX_TEXT_LENGTH);
    expect(result.text.length).toBeGreaterThanOrEqual(0.8 * DEFAULT_MAX_TEXT_LENGTH);
    const parsed = await expectValidMermaid(result.text);
    expect(parsed.signals).toHaveLength(result.model.messageCount);
    expect(parsed.notes[0]).toMatch(FOLD_NOTE);
    expect(traceToMermaid(t).text).toBe(result.text);
  });

  it('keeps any trace under the limit, parsed by both Mermaids, saying when it folded', async () => {
    // A random tree: each call hangs under an earlier service call (or the root), in start order.
    const callArb = fc.record({
      label: fc.string({ minLength: 1, maxLength: 60 }),
      target: fc.constantFrom('db', 'redis', 'svc-a', 'svc-b', 'svc-c'),
      parent: fc.nat(),
      gapMs: fc.integer({ min: 0, max: 3 }),
    });
    type Spec = { label: string; target: string; parent: number; gapMs: number };
    let foldedRuns = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(callArb, { minLength: 10, maxLength: 80 }),
        fc.integer({ min: 200, max: 2_500 }),
        fc.boolean(),
        async (specs: Spec[], max, timings) => {
          const children = new Map<number, number[]>();
          specs.forEach((spec, i) => {
            let parent = i === 0 ? -1 : spec.parent % (i + 1) === i ? -1 : spec.parent % (i + 1);
            // Only service calls have a server that can make calls of its own.
            if (parent >= 0 && (specs[parent]?.target === 'db' || specs[parent]?.target === 'redis')) parent = -1;
            children.set(parent, [...(children.get(parent) ?? []), i]);
          });
          const spans: Span[] = [httpServer({ id: 'root', start: 0, end: 1_000_000, route: '/r', status: 200 })];
          let clock = 1;
          // Calls one after another, each parent spanning its children.
          const add = (i: number, parent: string, service: string): void => {
            const spec = specs[i] as Spec;
            const id = `s${i}`;
            const start = clock;
            clock += 1 + spec.gapMs;
            if (spec.target === 'db' || spec.target === 'redis') {
              const timed = { id, parent, service, start, end: clock };
              spans.push(
                spec.target === 'db'
                  ? sql({ ...timed, query: `SELECT ${spec.label}` })
                  : redis({ ...timed, statement: `GET ${spec.label}` }),
              );
              return;
            }
            const server = `${id}-server`;
            for (const child of children.get(i) ?? []) add(child, server, spec.target);
            const end = ++clock;
            clock++;
            spans.push(
              span({
                id,
                parent,
                service,
                kind: 'client',
                start,
                end,
                attributes: {
                  'http.request.method': 'GET',
                  'url.full': `http://${spec.target}/${encodeURIComponent(spec.label)}`,
                },
              }),
              httpServer({ id: server, parent: id, service: spec.target, start, end, path: `/${spec.label}` }),
            );
          };
          for (const top of children.get(-1) ?? []) add(top, 'root', 'api');
          const t = trace(...spans);
          const result = traceToMermaid(t, { maxTextLength: max, timings });
          expect(result.text.length).toBeLessThanOrEqual(max);
          const parsed = await expectValidMermaid(result.text);
          expect(parsed.signals).toHaveLength(result.model.messageCount);
          if (result.folded) {
            foldedRuns++;
            expect(result.model.notes.some((n) => n.startsWith(`diagram folded to stay under ${max}`))).toBe(true);
          }
          if (!timings) expect(traceToMermaid(t, { maxTextLength: max, timings }).text).toBe(result.text);
        },
      ),
      { numRuns: 60 },
    );
    // The property says something about folding only if it folded.
    // About half the runs fold (27 of 60 on average); twelve is far below what chance gives.
    expect(foldedRuns).toBeGreaterThan(12);
  });

  it('cuts a level short when even the shallowest drawing is too long', async () => {
    const spans: Span[] = [httpServer({ id: 'root', start: 0, end: 100_000, route: '/wide', status: 200 })];
    for (let i = 0; i < 3000; i++)
      spans.push(sql({ id: `q${i}`, parent: 'root', start: i * 30, end: i * 30 + 20, query: `SELECT * FROM t${i}` }));
    const result = traceToMermaid(trace(...spans));
    expect(result.folded).toBe(true);
    expect(result.text.length).toBeLessThanOrEqual(50_000);
    expect(result.text).toMatch(/Note over p2: \d+ more calls folded/);
    const parsed = await expectValidMermaid(result.text);
    expect(parsed.signals).toHaveLength(result.model.arrows.length);
  });

  /** Failed calls a diagram shows: drawn as failed replies, plus those its fold notes name. */
  function failuresShown(text: string): number {
    let shown = 0;
    for (const line of text.split('\n')) {
      if (line.includes('--x')) shown++;
      const named = /^\s*Note over [^:]+: \d+ (?:more )?calls? folded, (\d+) failed$/.exec(line);
      if (named) shown += Number(named[1]);
    }
    return shown;
  }

  it('names the failed calls a fold hides, whatever the fallback folds', async () => {
    // A level too wide to draw whole: the failure sits in the part cut short.
    const wide: Span[] = [httpServer({ id: 'root', start: 0, end: 100_000, route: '/wide', status: 200 })];
    for (let i = 0; i < 600; i++) {
      wide.push(
        sql({
          id: `q${i}`,
          parent: 'root',
          start: i * 30,
          end: i * 30 + 20,
          query: `SELECT * FROM t${i}`,
          ...(i === 590 ? { error: 'deadlock detected' } : {}),
        }),
      );
    }
    // Calls to a traced service, too many to keep what each did: one of their queries failed.
    const deep: Span[] = [httpServer({ id: 'root', start: 0, end: 100_000, route: '/deep', status: 200 })];
    for (let i = 0; i < 300; i++) {
      deep.push(
        httpClient({ id: `c${i}`, parent: 'root', start: i * 60, end: i * 60 + 50, url: `http://users/u/${i}` }),
        httpServer({ id: `s${i}`, parent: `c${i}`, service: 'users', start: i * 60 + 1, end: i * 60 + 49, path: '/u' }),
        {
          ...sql({
            id: `d${i}`,
            parent: `s${i}`,
            start: i * 60 + 2,
            end: i * 60 + 40,
            query: `SELECT * FROM users WHERE id = ${i}`,
            ...(i === 3 ? { error: 'permission denied' } : {}),
          }),
          serviceName: 'users',
        },
      );
    }
    // Requests of their own at the top level, too many for one diagram: the failed one is among the last.
    const roots: Span[] = [];
    for (let i = 0; i < 600; i++) {
      roots.push(
        httpServer({
          id: `r${i}`,
          start: i * 30,
          end: i * 30 + 20,
          route: `/r${i}`,
          status: i === 590 ? 500 : 200,
          ...(i === 590 ? { error: 'boom' } : {}),
        }),
      );
    }
    for (const spans of [wide, deep, roots]) {
      // Loops kept apart: each call is its own, as in a trace of different calls.
      const result = traceToMermaid(trace(...spans), { timings: false, foldLoops: false, maxTextLength: 8000 });
      expect(result.folded).toBe(true);
      expect(result.text.length).toBeLessThanOrEqual(8000);
      await expectValidMermaid(result.text);
      expect(failuresShown(result.text)).toBe(1);
    }
  });
});
