import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { closedPort, type FakeBackend, FIXTURE_TRACES, startFakeBackend } from '@lifeline/test-support/trace-backends';
import { type RunningViewer, startViewer } from '@lifeline/viewer';
import { ensureClientBundle } from '@lifeline/viewer/build-client';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const message = `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set LIFELINE_CHROMIUM).`;
  if (process.env.CI) throw new Error(message);
  console.warn(`Skipping the viewer's browser tests over tracing backends. ${message}`);
}

const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-output', 'screenshots');

describe.skipIf(!haveChromium)('the viewer in Chromium over Tempo and Jaeger', () => {
  let dir: string;
  let viewer: RunningViewer;
  let tempo: FakeBackend;
  let jaeger: FakeBackend;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    await ensureClientBundle();
    dir = mkdtempSync(join(tmpdir(), 'lifeline-e2e-sources-'));
    tempo = await startFakeBackend('tempo', { requireHeaders: { 'X-Scope-OrgID': 'team-a' } });
    jaeger = await startFakeBackend('jaeger');
    viewer = await startViewer({
      port: 0,
      db: join(dir, 'traces.db'),
      sources: [
        { name: 'tempo', kind: 'tempo', url: tempo.url, headers: { 'X-Scope-OrgID': 'team-a' }, timeoutMs: 5000 },
        { name: 'jaeger', kind: 'jaeger', url: jaeger.url, headers: {}, timeoutMs: 5000 },
        { name: 'gone', kind: 'tempo', url: `http://127.0.0.1:${await closedPort()}`, headers: {}, timeoutMs: 5000 },
      ],
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    await tempo?.close();
    await jaeger?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, id, errorId] of [
    ['tempo', FIXTURE_TRACES.tempo, FIXTURE_TRACES.tempoError],
    ['jaeger', FIXTURE_TRACES.jaeger, FIXTURE_TRACES.jaegerError],
  ] as const) {
    it(`lists the requests of the ${name} source, says it reads it, and draws one`, async () => {
      await page.goto(`${viewer.url}/?source=${name}`);
      const rows = page.locator('tbody tr.row');
      await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
      expect(await page.locator('#source-reading').textContent()).toMatch(
        new RegExp(`^Reading ${name} \\(${name} at http://127\\.0\\.0\\.1:\\d+, read only\\)$`),
      );
      expect(await page.locator('.source-choice.active').textContent()).toBe(name);
      const errorRow = page.locator(`tr[data-trace-id="${errorId}"]`);
      expect(await errorRow.getAttribute('class')).toContain('row-error');
      const row = page.locator(`tr[data-trace-id="${id}"]`);
      expect(await row.textContent()).toContain('/orders/:id');
      await page.screenshot({ path: join(SCREENSHOTS, `source-${name}-list.png`), fullPage: true });

      await row.focus();
      await page.keyboard.press('Enter');
      await page.waitForURL(`**/traces/${id}?source=${name}`);
      await page.locator('#diagram svg').waitFor({ timeout: 15_000 });
      const body = (await (await fetch(`${viewer.url}/api/traces/${id}?source=${name}`)).json()) as {
        sequence: { mermaid: string; model: { messageCount: number } };
      };
      await parseMermaid(body.sequence.mermaid);
      const svg = page.locator('#diagram svg');
      await expect.poll(() => svg.locator('text.messageText').count()).toBe(body.sequence.model.messageCount);
      expect(await svg.locator('text.labelText').allTextContents()).toContain('par');
      expect(await svg.textContent()).toContain('inventory');
      // The diagram options keep the source in the permalink.
      await page.locator('input[name="timings"]').uncheck();
      await expect.poll(() => new URL(page.url()).searchParams.get('source')).toBe(name);
      await page.screenshot({ path: join(SCREENSHOTS, `source-${name}-trace.png`), fullPage: true });
      await page.locator('a.back').first().click();
      await page.waitForURL(`**/?source=${name}`);
      expect(problems.splice(0)).toEqual([]);
    });
  }

  it('reads the local database at /, and says in one line why a source cannot be read', async () => {
    await page.goto(viewer.url);
    await expect.poll(() => page.locator('#source-reading').textContent()).toBe('Reading the local database');
    expect(await page.locator('.source-choice').allTextContents()).toEqual(['local', 'tempo', 'jaeger', 'gone']);
    await page.goto(`${viewer.url}/?source=gone`);
    await expect
      .poll(() => page.locator('.callout-error').textContent(), { timeout: 15_000 })
      .toMatch(
        /^Could not load requests: source gone \(tempo at http:\/\/127\.0\.0\.1:\d+\): cannot connect \(ECONNREFUSED\)/,
      );
  });

  it('is live over the local database only: a source page says it is not, and opens no stream', async () => {
    const streams: string[] = [];
    const onRequest = (request: { url(): string }): void => {
      if (new URL(request.url()).pathname === '/api/events') streams.push(request.url());
    };
    page.on('request', onRequest);
    try {
      await page.goto(viewer.url);
      const status = page.locator('#live-status');
      await expect.poll(() => status.getAttribute('data-state'), { timeout: 15_000 }).toBe('live');
      expect(streams).toHaveLength(1);

      streams.length = 0;
      await page.goto(`${viewer.url}/?source=tempo`);
      await expect.poll(() => page.locator('tbody tr.row').count(), { timeout: 15_000 }).toBe(2);
      expect(await status.getAttribute('data-state')).toBe('off');
      expect(await status.textContent()).toBe('not live');
      expect(await status.getAttribute('title')).toBe('not live: reading tempo');
      expect(streams).toEqual([]);
    } finally {
      page.off('request', onRequest);
    }
    expect(problems.splice(0)).toEqual([]);
  });
});
