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

/**
 * Writes one OTLP JSON document of about `mib` MiB, `{"resourceSpans": [...]}`,
 * a resource of 10 spans (one trace) per item, and returns its span count.
 */
function writeOtlpDocument(path: string, mib: number): number {
  const fd = openSync(path, 'w');
  const base = 1_700_000_000_000_000_000n;
  let size = 0;
  let spans = 0;
  try {
    writeSync(fd, '{"resourceSpans":[');
    for (let t = 0; size < mib * 1024 * 1024; t++) {
      const traceId = (t + 1).toString(16).padStart(32, '0');
      const start = base + BigInt(t) * 1_000_000_000n;
      const items = Array.from({ length: 10 }, (_, i) => ({
        traceId,
        spanId: (t * 16 + i + 1).toString(16).padStart(16, '0'),
        ...(i === 0 ? {} : { parentSpanId: (t * 16 + 1).toString(16).padStart(16, '0') }),
        name: i === 0 ? 'GET /articles/:id' : 'SELECT articles',
        kind: i === 0 ? 2 : 3,
        startTimeUnixNano: String(start + BigInt(i) * 3_000_000n),
        endTimeUnixNano: String(start + BigInt(i) * 3_000_000n + 2_000_000n),
        attributes: [
          { key: 'db.statement', value: { stringValue: 'SELECT id, title, body FROM articles WHERE id = $1' } },
        ],
      }));
      const resource = {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'blog-api' } }] },
        scopeSpans: [{ scope: { name: 'gen' }, spans: items }],
      };
      const chunk = (t === 0 ? '' : ',') + JSON.stringify(resource);
      writeSync(fd, chunk);
      size += chunk.length;
      spans += items.length;
    }
    writeSync(fd, ']}');
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
  it('streams it: peak memory grows far less than the file, and a second import says what was there', () => {
    const small = join(work, 'small.json');
    const large = join(work, 'large.json');
    const smallSpans = writeOtlpDocument(small, 20);
    const largeSpans = writeOtlpDocument(large, 100);

    const first = importMeasured(join(work, 'small.db'), small);
    expect(first.code, first.stdout).toBe(0);
    expect(first.stdout).toContain(`Imported ${smallSpans} new spans`);
    const second = importMeasured(join(work, 'large.db'), large);
    expect(second.code, second.stdout).toBe(0);
    expect(second.stdout).toContain(`Imported ${largeSpans} new spans in ${largeSpans / 10} traces`);

    // Read whole, the document cost several times its size; streamed, memory is
    // bounded by a batch: 80 MiB more of file costs a small part of that in memory.
    const moreFile = statSync(large).size - statSync(small).size;
    const moreMemory = second.peakRssBytes - first.peakRssBytes;
    expect(moreMemory / moreFile, `${first.peakRssBytes} → ${second.peakRssBytes} bytes`).toBeLessThan(0.5);

    const again = importMeasured(join(work, 'small.db'), small);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Imported 0 new spans');
    expect(again.stdout).toContain(`${smallSpans} spans were already there`);
  }, 400_000);
});
