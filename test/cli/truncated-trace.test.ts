/**
 * A trace larger than the span cap, read by the viewer's API and by
 * `lifeline export`: both read, draw and analyse its earliest spans, the same
 * Mermaid bytes, and say so; `export --all-spans` reads every span.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, runCli, startCli, tempDir } from './cli-runner.js';

/** The viewer's MAX_TRACE_SPANS. */
const CAP = 10_000;
const SPANS = CAP + 50;
const TRACE_ID = '5e1a1c0ffee0000000000000000c0de1';

/** One request that made SPANS − 1 database calls, one after another, as an OTLP/JSON file. */
function writeTrace(path: string): void {
  const t0 = BigInt(Date.UTC(2026, 0, 5, 10, 0, 0)) * 1_000_000n;
  const idOf = (i: number): string => (i + 1).toString(16).padStart(16, '0');
  const text = (key: string, value: string) => ({ key, value: { stringValue: value } });
  const spans = Array.from({ length: SPANS }, (_, i) => ({
    traceId: TRACE_ID,
    spanId: idOf(i),
    parentSpanId: i === 0 ? '' : idOf(0),
    name: i === 0 ? 'GET /report' : 'SELECT rows',
    kind: i === 0 ? 'SPAN_KIND_SERVER' : 'SPAN_KIND_CLIENT',
    startTimeUnixNano: String(t0 + BigInt(i) * 10_000n),
    endTimeUnixNano: String(i === 0 ? t0 + BigInt(SPANS + 1) * 10_000n : t0 + BigInt(i) * 10_000n + 5_000n),
    attributes:
      i === 0
        ? [text('http.request.method', 'GET'), text('http.route', '/report')]
        : [text('db.system.name', 'postgresql'), text('db.query.text', `SELECT * FROM rows WHERE id = ${i}`)],
  }));
  const resource = { attributes: [text('service.name', 'reports')] };
  writeFileSync(path, JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ spans }] }] }));
}

interface Analyzed {
  spanCount: number;
  analyzedSpans: number;
  truncated?: boolean;
  mermaid?: string;
  sequence?: { mermaid: string };
  analysis: { serialRuns: { spanIds: string[] }[]; criticalPath: unknown[]; omitted?: Record<string, number> };
  trace?: { spans: unknown[] };
}

const serialCalls = (body: Analyzed): number =>
  body.analysis.serialRuns.reduce((sum, run) => sum + (run.spanIds.length > 1 ? run.spanIds.length : 0), 0);

describe(`a trace of ${SPANS} spans, over the viewer's cap of ${CAP}`, () => {
  let db: string;
  let serve: ReturnType<typeof startCli> | undefined;
  let url: string;

  beforeAll(async () => {
    buildWorkspace();
    const dir = tempDir('truncated');
    db = join(dir, 'traces.db');
    const file = join(dir, 'trace.json');
    writeTrace(file);
    const imported = runCli(['import', file, '--db', db]);
    expect(imported.code, imported.stderr).toBe(0);
    const child = startCli(['serve', '--port', '0', '--db', db]);
    serve = child;
    let output = '';
    child.stdout.setEncoding('utf8');
    url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        const match = /Lifeline viewer on (\S+)/.exec(output);
        if (match?.[1]) resolve(match[1].replace(/\/$/, ''));
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
  }, 300_000);

  afterAll(async () => {
    if (serve !== undefined && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await once(serve, 'exit');
    }
  });

  it('is read, drawn and analysed from its earliest spans by the export as by the viewer, and each says so', async () => {
    // Megabytes of JSON: through a file rather than a pipe buffer.
    const out = join(tempDir('truncated-export'), 'trace.json');
    const exported = runCli(['export', TRACE_ID, '--db', db, '--format', 'json', '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain(
      `Trace ${TRACE_ID} has 10,050 spans: exporting the earliest 10,000 by start time, as the viewer draws it; pass --all-spans for every span`,
    );
    const exportBody = JSON.parse(readFileSync(out, 'utf8')) as Analyzed;
    const viewerBody = (await (await fetch(`${url}/api/traces/${TRACE_ID}`)).json()) as Analyzed;

    expect(exportBody.spanCount).toBe(SPANS);
    expect(exportBody.analyzedSpans).toBe(CAP);
    expect(exportBody.truncated).toBe(true);
    expect(exportBody.trace?.spans).toHaveLength(CAP);
    expect(exportBody.mermaid).toBe(viewerBody.sequence?.mermaid);

    expect(viewerBody.spanCount).toBe(SPANS);
    expect(viewerBody.analyzedSpans).toBe(CAP);
    // The serial calls among the spans each one analyzed: all but the root's.
    expect(serialCalls(viewerBody)).toBe(viewerBody.analyzedSpans - 1);
  }, 120_000);

  it('draws the same Mermaid bytes as the viewer, the first note saying how many spans there are', async () => {
    const exported = runCli(['export', TRACE_ID, '--db', db, '--format', 'mmd']);
    expect(exported.code, exported.stderr).toBe(0);
    const viewerText = await (await fetch(`${url}/api/traces/${TRACE_ID}/mermaid`)).text();
    expect(exported.stdout).toBe(viewerText);
    expect(exported.stdout.split('\n').find((line) => line.startsWith('Note over '))).toMatch(
      /: This trace has 10,050 spans: the earliest 10,000 by start time are drawn$/,
    );
    expect(exported.stdout).toContain('loop 9999×');
    await parseMermaid(exported.stdout);

    const markdown = runCli(['export', TRACE_ID, '--db', db, '--format', 'md', '--no-timings']);
    expect(markdown.code, markdown.stderr).toBe(0);
    expect(markdown.stdout).toContain('This trace has 10,050 spans: the earliest 10,000 by start time are drawn');
  }, 120_000);

  it('with --all-spans reads and analyses every span, its analysis lists cut with counts of the rest', () => {
    const out = join(tempDir('truncated-export-all'), 'trace.json');
    const exported = runCli(['export', TRACE_ID, '--db', db, '--format', 'json', '--all-spans', '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).not.toContain('exporting the earliest');
    const body = JSON.parse(readFileSync(out, 'utf8')) as Analyzed;
    expect(body.spanCount).toBe(SPANS);
    expect(body.analyzedSpans).toBe(SPANS);
    expect(body.truncated).toBeUndefined();
    expect(body.trace?.spans).toHaveLength(SPANS);
    expect(body.mermaid).toContain(`loop ${SPANS - 1}×`);
    // One serial run of every database call: its span ids cut at 1,000, the rest counted.
    expect(serialCalls(body)).toBe(1000);
    expect(body.analysis.omitted?.spanIds).toBeGreaterThanOrEqual(SPANS - 1 - 1000);
    expect(body.analysis.criticalPath.length).toBeLessThanOrEqual(1000);
    expect(body.analysis.criticalPath.length + (body.analysis.omitted?.criticalPath ?? 0)).toBeGreaterThan(SPANS);
  }, 120_000);
});
