/**
 * Names no table or summary line can show whole: a route of 100,000
 * characters, line breaks, terminal escapes and bidirectional overrides in
 * span, route and service names. The text outputs cut and clean them; the
 * JSON export keeps them whole.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, runCli, tempDir } from './cli-runner.js';

const LONG_ROUTE = `/reports/${'r'.repeat(100_000)}\n# injected heading\r\n\u001b[2J\u202eevil`;
const SERVICE = `reports\u0007\nservice${'s'.repeat(1_000)}`;
const HOSTILE_TRACE = '10a90000000000000000000000000001';
/** The width a table gives a route and a service name: packages/cli/src/table.ts. */
const REQUEST_WIDTH = 80;
const SERVICE_WIDTH = 32;

function writeTraces(path: string): void {
  const t0 = BigInt(Date.UTC(2026, 0, 5, 10, 0, 0)) * 1_000_000n;
  const text = (key: string, value: string) => ({ key, value: { stringValue: value } });
  const request = (traceId: string, route: string, service: string, at: number) => ({
    resource: { attributes: [text('service.name', service)] },
    scopeSpans: [
      {
        spans: [
          {
            traceId,
            spanId: '00000000000000a1',
            name: `GET ${route}`,
            kind: 'SPAN_KIND_SERVER',
            startTimeUnixNano: String(t0 + BigInt(at) * 1_000_000_000n),
            endTimeUnixNano: String(t0 + BigInt(at) * 1_000_000_000n + 5_000_000n),
            attributes: [text('http.request.method', 'GET'), text('http.route', route)],
          },
        ],
      },
    ],
  });
  writeFileSync(
    path,
    JSON.stringify({
      resourceSpans: [
        request(HOSTILE_TRACE, LONG_ROUTE, SERVICE, 10),
        ...[1, 2, 3].map((i) => request(`20b0000000000000000000000000000${i}`, `/plain/${i}`, 'plain', i)),
      ],
    }),
  );
}

let db: string;

beforeAll(() => {
  buildWorkspace();
  const dir = tempDir('long-names');
  db = join(dir, 'traces.db');
  const file = join(dir, 'traces.json');
  writeTraces(file);
  const imported = runCli(['import', file, '--db', db]);
  expect(imported.code, imported.stderr).toBe(0);
}, 300_000);

/** A row's cells: the table puts two or more spaces between columns. */
const cells = (row: string): string[] => row.split(/ {2,}/);

describe('hostile and huge names', () => {
  it('keep each `lifeline list` row on one line of sensible width, cut with an ellipsis', () => {
    const result = runCli(['list', '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    const row = lines.find((line) => line.includes(HOSTILE_TRACE)) ?? '';
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be absent.
    expect(row).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(row.length).toBeLessThan(250);
    const [, service, request] = cells(row);
    expect(service).toBe(`reports service${'s'.repeat(SERVICE_WIDTH - 16)}…`);
    expect(request).toBe(`GET /reports/${'r'.repeat(REQUEST_WIDTH - 14)}…`);
    // Every row's trace id still starts in the TRACE column.
    const column = (lines[0] ?? '').indexOf('TRACE');
    for (const line of lines.slice(1)) expect(line.slice(column)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('keep each `lifeline endpoints` row on one line of sensible width', () => {
    const result = runCli(['endpoints', '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    const row = lines.find((line) => line.startsWith('reports')) ?? '';
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be absent.
    expect(row).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(row.length).toBeLessThan(250);
    const [service, endpoint] = cells(row);
    expect(service).toBe(`reports service${'s'.repeat(SERVICE_WIDTH - 16)}…`);
    expect(endpoint).toMatch(/^GET \/reports\/r+…$/);
    expect(endpoint).toHaveLength(REQUEST_WIDTH);
  });

  it('keep the Markdown summary line one line, while the JSON export keeps the whole name', () => {
    const md = runCli(['export', HOSTILE_TRACE, '--db', db, '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    const [summary, blank, fence] = md.stdout.split('\n');
    expect(blank).toBe('');
    expect(fence).toBe('```mermaid');
    expect(summary).toMatch(/^\*\*`GET \/reports\/r+…`\*\* on `reports services+…` in 5 ms · 1 span · trace `10a9/);
    expect((summary ?? '').length).toBeLessThan(400);

    const out = join(tempDir('long-names-json'), 'trace.json');
    expect(runCli(['export', HOSTILE_TRACE, '--db', db, '--format', 'json', '--out', out]).code).toBe(0);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { summary: { route: string; rootService: string } };
    expect(json.summary.route).toBe(LONG_ROUTE);
    expect(json.summary.rootService).toBe(SERVICE);
  });
});

describe('lifeline list --limit', () => {
  it('says how to see more in words true for the limit given', () => {
    for (const limit of ['2', '3']) {
      const result = runCli(['list', '--db', db, '--limit', limit]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trimEnd().split('\n')).toHaveLength(Number(limit) + 1);
      expect(result.stderr).toBe(
        `(showing the first ${limit}; more match: pass a --limit larger than ${limit} to see them)\n`,
      );
    }
    expect(runCli(['list', '--db', db, '--limit', '4']).stderr).toBe('');
  });
});
