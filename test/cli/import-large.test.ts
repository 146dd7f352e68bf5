import { spawnSync } from 'node:child_process';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, cliBin, tempDir } from './cli-runner.js';

let work: string;

beforeAll(() => {
  buildWorkspace();
  work = tempDir('import-large');
}, 300_000);

/** How the spans of a generated document are laid out. */
type Shape = 'a resource per trace' | 'one resource' | 'one Jaeger trace';

/** Ten spans of one trace (a request and nine queries), as OTLP JSON spans. */
function otlpTrace(t: number): Record<string, unknown>[] {
  const base = 1_700_000_000_000_000_000n;
  const traceId = (t + 1).toString(16).padStart(32, '0');
  const start = base + BigInt(t) * 1_000_000_000n;
  return Array.from({ length: 10 }, (_, i) => ({
    traceId,
    spanId: (t * 16 + i + 1).toString(16).padStart(16, '0'),
    ...(i === 0 ? {} : { parentSpanId: (t * 16 + 1).toString(16).padStart(16, '0') }),
    name: i === 0 ? 'GET /articles/:id' : 'SELECT articles',
    kind: i === 0 ? 2 : 3,
    startTimeUnixNano: String(start + BigInt(i) * 3_000_000n),
    endTimeUnixNano: String(start + BigInt(i) * 3_000_000n + 2_000_000n),
    attributes: [{ key: 'db.statement', value: { stringValue: 'SELECT id, title, body FROM articles WHERE id = $1' } }],
  }));
}

/** The same ten spans as Jaeger writes them (microseconds, tags, a process id). */
function jaegerSpans(t: number): Record<string, unknown>[] {
  return otlpTrace(t).map((span, i) => ({
    traceID: span.traceId,
    spanID: span.spanId,
    operationName: span.name,
    references:
      span.parentSpanId === undefined
        ? []
        : [{ refType: 'CHILD_OF', traceID: span.traceId, spanID: span.parentSpanId }],
    startTime: Number(BigInt(span.startTimeUnixNano as string) / 1000n),
    duration: 2000,
    tags: [
      { key: 'span.kind', type: 'string', value: i === 0 ? 'server' : 'client' },
      { key: 'db.statement', type: 'string', value: 'SELECT id, title, body FROM articles WHERE id = $1' },
    ],
    processID: i === 0 ? 'p1' : 'p2',
  }));
}

const resourceOf = (service: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: service } }] });

/**
 * Writes one trace document of about `mib` MiB and returns its span count:
 * OTLP JSON with a resource of 10 spans (one trace) per item of
 * `resourceSpans`, OTLP JSON whose one resource holds every span, or one
 * Jaeger trace of every span with its `processes` after them, as Jaeger writes it.
 */
function writeDocument(path: string, mib: number, shape: Shape): number {
  const fd = openSync(path, 'w');
  let size = 0;
  let spans = 0;
  const [head, tail] =
    shape === 'a resource per trace'
      ? ['{"resourceSpans":[', ']}']
      : shape === 'one resource'
        ? [
            `{"resourceSpans":[{"resource":${JSON.stringify(resourceOf('blog-api'))},"scopeSpans":[{"scope":{"name":"gen"},"spans":[`,
            ']}]}]}',
          ]
        : [
            '{"data":[{"traceID":"00000000000000000000000000000001","spans":[',
            `],"processes":${JSON.stringify({ p1: { serviceName: 'blog-api', tags: [] }, p2: { serviceName: 'blog-worker', tags: [] } })},"warnings":null}],"total":0}`,
          ];
  try {
    writeSync(fd, head);
    for (let t = 0; size < mib * 1024 * 1024; t++) {
      const items =
        shape === 'a resource per trace'
          ? [{ resource: resourceOf('blog-api'), scopeSpans: [{ scope: { name: 'gen' }, spans: otlpTrace(t) }] }]
          : shape === 'one resource'
            ? otlpTrace(t)
            : jaegerSpans(t);
      const chunk = (t === 0 ? '' : ',') + items.map((item) => JSON.stringify(item)).join(',');
      writeSync(fd, chunk);
      size += chunk.length;
      spans += 10;
    }
    writeSync(fd, tail);
  } finally {
    closeSync(fd);
  }
  return spans;
}

/** The import's V8 old-space limit (MiB), below the 100 MiB document's size once parsed. */
const HEAP_MIB = 192;

/** Node's own figure for the child's peak resident memory, printed on stderr as it exits. */
const PEAK_RSS_HOOK =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("peak-rss-kib "+process.resourceUsage().maxRSS+"\\n"))';

function importMeasured(db: string, file: string): { code: number | null; stdout: string; peakRssBytes: number } {
  // A heap far smaller than the document read whole would need: V8 collects
  // before it grows (its heuristics differ between Node releases), so what is
  // measured is what the import keeps, and holding the document fails outright.
  const heap = `--max-old-space-size=${HEAP_MIB}`;
  const result = spawnSync(process.execPath, [heap, `--import=${PEAK_RSS_HOOK}`, cliBin, 'import', '--db', db, file], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const kib = Number(/peak-rss-kib (\d+)/.exec(result.stderr)?.[1]);
  expect(Number.isFinite(kib), result.stderr).toBe(true);
  return { code: result.status, stdout: result.stdout, peakRssBytes: kib * 1024 };
}

describe('lifeline import of one large JSON document', () => {
  let small: { file: string; spans: number; peakRssBytes: number };

  beforeAll(() => {
    const file = join(work, 'small.json');
    const spans = writeDocument(file, 20, 'a resource per trace');
    const imported = importMeasured(join(work, 'small.db'), file);
    expect(imported.code, imported.stdout).toBe(0);
    expect(imported.stdout).toContain(`Imported ${spans} new spans`);
    small = { file, spans, peakRssBytes: imported.peakRssBytes };
  }, 300_000);

  /**
   * Read whole, a document costs several times its size (the text, then the
   * parsed objects); streamed, memory is bounded by a batch: the larger
   * file's extra megabytes cost less than their own size in memory. (Streamed,
   * 20, 48 and 120 MiB files peak within 15 MiB of each other; the margin is
   * for the garbage collector, whose timing differs between Node releases.)
   */
  function expectFlat(file: string, peakRssBytes: number): void {
    const moreFile = statSync(file).size - statSync(small.file).size;
    const moreMemory = peakRssBytes - small.peakRssBytes;
    expect(moreMemory / moreFile, `${small.peakRssBytes} → ${peakRssBytes} bytes`).toBeLessThan(1);
  }

  it('streams many resources: peak memory grows far less than the file, and a second import says what was there', () => {
    const large = join(work, 'large.json');
    const largeSpans = writeDocument(large, 100, 'a resource per trace');
    const second = importMeasured(join(work, 'large.db'), large);
    expect(second.code, second.stdout).toBe(0);
    expect(second.stdout).toContain(`Imported ${largeSpans} new spans in ${largeSpans / 10} traces`);
    expectFlat(large, second.peakRssBytes);

    const again = importMeasured(join(work, 'small.db'), small.file);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Imported 0 new spans');
    expect(again.stdout).toContain(`${small.spans} spans were already there`);
  }, 400_000);

  it('streams one resource of many spans a batch at a time, each with the resource', () => {
    const large = join(work, 'one-resource.json');
    const spans = writeDocument(large, 64, 'one resource');
    const imported = importMeasured(join(work, 'one-resource.db'), large);
    expect(imported.code, imported.stdout).toBe(0);
    expect(imported.stdout).toContain(`otlp-json, ${spans} spans in ${spans / 10} traces from 1 service`);
    expect(imported.stdout).toContain(`Imported ${spans} new spans`);
    expectFlat(large, imported.peakRssBytes);
  }, 400_000);

  it('streams one Jaeger trace whose processes come after its spans, reading its spans again once they are known', () => {
    const large = join(work, 'one-jaeger-trace.json');
    const spans = writeDocument(large, 48, 'one Jaeger trace');
    const imported = importMeasured(join(work, 'one-jaeger-trace.db'), large);
    expect(imported.code, imported.stdout).toBe(0);
    // Both services: each span was read with the process it names.
    expect(imported.stdout).toContain(`jaeger, ${spans} spans in ${spans / 10} traces from 2 services`);
    expect(imported.stdout).toContain(`Imported ${spans} new spans`);
    expectFlat(large, imported.peakRssBytes);
  }, 400_000);
});

describe('lifeline import of large JSON lines', () => {
  /** One line of the Collector's file exporter: an export request of the traces `from` until `to`, a resource each. */
  const line = (from: number, to: number) =>
    `${JSON.stringify({
      resourceSpans: Array.from({ length: to - from }, (_, i) => ({
        resource: resourceOf('blog-api'),
        scopeSpans: [{ scope: { name: 'gen' }, spans: otlpTrace(from + i) }],
      })),
    })}\n`;

  it('streams a file of 16 MiB or more whose lines are longer than the bytes peeked, the first one longest', () => {
    // A first line of about 17 MiB, then twenty export batches of 100 traces (about 340 KiB) each.
    const file = join(work, 'long-lines.jsonl');
    const fd = openSync(file, 'w');
    const first = 5_200;
    const traces = first + 20 * 100;
    try {
      writeSync(fd, line(0, first));
      for (let t = first; t < traces; t += 100) writeSync(fd, line(t, t + 100));
    } finally {
      closeSync(fd);
    }
    expect(statSync(file).size).toBeGreaterThan(16 * 1024 * 1024);
    const imported = importMeasured(join(work, 'long-lines.db'), file);
    expect(imported.code, imported.stdout).toBe(0);
    expect(imported.stdout).toContain(`Imported ${traces * 10} new spans in ${traces} traces`);
  }, 300_000);
});
