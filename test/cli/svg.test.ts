import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSequenceDiagram } from '@lifeline/test-support/mermaid';
import { findChromium } from 'lifeline';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, publicFixtures, runCli, tempDir } from './cli-runner.js';

const chromium = findChromium();
if (!chromium) {
  if (process.env.CI) throw new Error('CI needs a Chromium for the svg/png export tests: apt-get install chromium');
  console.warn(
    'Skipping svg/png export tests: no Chromium found (apt-get install chromium, or set LIFELINE_CHROMIUM).',
  );
}

describe.skipIf(!chromium)('lifeline export --format svg|png (real Mermaid in headless Chromium)', () => {
  let db: string;
  let work: string;
  const traceFiles = [
    join(publicFixtures, 'otlp', 'jaeger-api-v3-hotrod-dispatch.json'),
    join(publicFixtures, 'zipkin', 'simple-db-p6.json'),
  ];

  beforeAll(() => {
    buildWorkspace();
    work = tempDir('svg');
    db = join(work, 'traces.db');
    const imported = runCli(['import', '--db', db, ...traceFiles]);
    if (imported.code !== 0) throw new Error(imported.stderr);
  }, 300_000);

  /** The trace id a public file holds, read from the file itself. */
  const traceIdOf = (file: string): string => {
    const json = JSON.parse(readFileSync(file, 'utf8')) as
      | { traceId: string }[]
      | { result: { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] } };
    const id = Array.isArray(json) ? json[0]?.traceId : json.result.resourceSpans[0]?.scopeSpans[0]?.spans[0]?.traceId;
    if (!id) throw new Error(`no trace id in ${file}`);
    return id.toLowerCase().padStart(32, '0');
  };

  it.each([
    ['the HotROD dispatch (OTLP)', 0],
    ['the Spring Boot book insert (Zipkin)', 1],
  ])('draws %s as an SVG with one message per arrow of the sequence model', async (_name, index) => {
    const traceId = traceIdOf(traceFiles[index] ?? '');
    const exported = JSON.parse(runCli(['export', traceId, '--db', db, '--format', 'json']).stdout) as {
      model: { messageCount: number };
      mermaid: string;
    };
    expect(exported.model.messageCount).toBeGreaterThan(1);
    expect((await parseSequenceDiagram(exported.mermaid)).signals).toHaveLength(exported.model.messageCount);

    const out = join(work, `${traceId}.svg`);
    const result = runCli(['export', traceId, '--db', db, '--format', 'svg', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    // Mermaid draws each message as one text element of class messageText,
    // and autonumber puts one sequence number on each.
    expect(svg.match(/class="messageText"/g) ?? []).toHaveLength(exported.model.messageCount);
    expect(svg.match(/class="sequenceNumber"/g) ?? []).toHaveLength(exported.model.messageCount);
  });

  it('renders a PNG of the diagram at twice its natural size', () => {
    const out = join(work, 'book.png');
    const result = runCli(['export', traceIdOf(traceFiles[1] ?? ''), '--db', db, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const png = readFileSync(out);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    expect(width).toBeGreaterThan(400);
    expect(height).toBeGreaterThan(400);
  });

  it('names what to install when no Chromium is there', () => {
    const result = runCli(['export', 'last', '--db', db, '--format', 'svg'], {
      env: { PATH: '/nonexistent', LIFELINE_CHROMIUM: '' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/needs a Chromium .*apt-get install chromium.*LIFELINE_CHROMIUM/);
  });
});
