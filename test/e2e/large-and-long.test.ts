/**
 * The viewer in Chromium with what a page cannot show whole: a trace larger
 * than the server sends at once (the rest loaded a page at a time and drawn
 * again in a worker), and route and service names of 100,000 characters
 * with line breaks and control characters in the list and endpoints pages.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { newTraceId, spanAt } from '@lifeline/test-support/scenes';
import { type RunningViewer, startViewer } from '@lifeline/viewer';
import { ensureClientBundle } from '@lifeline/viewer/build-client';
import { chromiumFlags } from 'lifeline';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { largeTrace } from './traces.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const message = `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set LIFELINE_CHROMIUM).`;
  if (process.env.CI) throw new Error(message);
  console.warn(`Skipping the viewer's large-trace and long-name browser tests. ${message}`);
}

const MS = 1e6;
/** The server's MAX_TRACE_SPANS. */
const CAP = 10_000;
/** Spans of the large trace: two pages and a half beyond what the server sends at once. */
const SPANS = 25_000;
const LONG_ROUTE = `/reports/${'r'.repeat(100_000)}\n<b>bold</b>\r\n\u001b[2J\u202eevil`;
const LONG_SERVICE = `reports\u0007\nservice${'s'.repeat(5_000)}`;

describe.skipIf(!haveChromium)('large traces and long names in Chromium', () => {
  let dir: string;
  let viewer: RunningViewer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const now = Date.now() * MS;
  const large = largeTrace({ startNs: now - 60_000 * MS, count: SPANS - 1 });
  const largeId = large[0]?.traceId ?? '';
  const longRoot = spanAt(now - 30_000 * MS, {
    traceId: newTraceId(),
    name: `GET ${LONG_ROUTE}`,
    kind: 'server',
    service: LONG_SERVICE,
    startMs: 0,
    durationMs: 5,
    attributes: { 'http.request.method': 'GET', 'http.route': LONG_ROUTE, 'http.response.status_code': 200 },
  });

  beforeAll(async () => {
    await ensureClientBundle();
    dir = mkdtempSync(join(tmpdir(), 'lifeline-e2e-large-long-'));
    const db = join(dir, 'traces.db');
    const store = openStore({ path: db });
    store.writeSpans([...large, longRoot]);
    store.close();
    viewer = await startViewer({ port: 0, db });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...chromiumFlags] });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 400_000);

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  const drawn = async (): Promise<void> => {
    // Thousands of arrows: Mermaid lays them out in seconds, more on a busy machine.
    await page.locator('#diagram svg').waitFor({ timeout: 120_000 });
    await page.waitForFunction(() => document.querySelector('#diagram')?.getAttribute('aria-busy') === null, null, {
      timeout: 120_000,
    });
  };

  it('says how many spans a truncated trace has, loads the rest a page at a time and draws them all', async () => {
    await page.goto(`${viewer.url}/traces/${largeId}`);
    await drawn();
    const banner = page.locator('#trace-size');
    expect(await banner.textContent()).toContain(
      `Showing ${CAP.toLocaleString('en-US')} of ${SPANS.toLocaleString('en-US')} spans`,
    );
    expect(await page.locator('[data-span-count]').textContent()).toBe('25,000 spans');
    expect(await page.locator('[data-analyzed-spans]').getAttribute('data-analyzed-spans')).toBe(String(CAP));
    const firstText = await page.evaluate(() => document.querySelector('#diagram svg')?.textContent ?? '');

    // The next page: 20,000 spans drawn and analyzed, in a worker.
    await banner.locator('button[data-action="load-more"]').click();
    await expect.poll(() => banner.textContent(), { timeout: 120_000 }).toContain('Showing 20,000 of 25,000 spans');
    await drawn();
    expect(await page.locator('[data-analyzed-spans]').getAttribute('data-analyzed-spans')).toBe('20000');
    // A new picture: the server's was of the first page only.
    expect(await page.evaluate(() => document.querySelector('#diagram svg')?.textContent ?? '')).not.toBe(firstText);

    // And the rest: every span, so the analysis covers the whole trace, as the JSON export's does.
    await banner.locator('button[data-action="load-more"]').click();
    await expect.poll(() => banner.textContent(), { timeout: 120_000 }).toContain('Showing all 25,000 spans');
    await drawn();
    expect(await page.locator('[data-analyzed-spans]').count()).toBe(0);
    expect(await banner.locator('button').count()).toBe(0);

    // Every message of the redrawn model is on the page.
    const rendered = Number(await page.locator('#diagram').getAttribute('data-rendered-messages'));
    expect(rendered).toBe(Number(await page.locator('#diagram').getAttribute('data-model-messages')));
  }, 400_000);

  it('offers to load all of a truncated trace at once, and the page answers while it loads', async () => {
    await page.goto(`${viewer.url}/traces/${largeId}`);
    await drawn();
    const banner = page.locator('#trace-size');
    const all = banner.locator('button[data-action="load-all"]');
    expect(await all.textContent()).toBe('Load all 25,000');
    // The page's own thread stays free while the spans are read and drawn: count how late a
    // timer that should tick every 50 ms runs, from the click until the new diagram is in.
    await page.evaluate(() => {
      const state = window as unknown as { lateness: number[]; ticking: boolean };
      state.lateness = [];
      state.ticking = true;
      let last = performance.now();
      const tick = (): void => {
        const now = performance.now();
        state.lateness.push(now - last - 50);
        last = now;
        if (state.ticking) setTimeout(tick, 50);
      };
      setTimeout(tick, 50);
    });
    await all.click();
    await expect.poll(() => banner.textContent(), { timeout: 120_000 }).toContain('Drawing 25,000 spans');
    await expect.poll(() => banner.textContent(), { timeout: 120_000 }).toContain('Showing all 25,000 spans');
    await drawn();
    const lateness = await page.evaluate(() => {
      const state = window as unknown as { lateness: number[]; ticking: boolean };
      state.ticking = false;
      return state.lateness;
    });
    expect(lateness.length).toBeGreaterThan(3);
    // Only Mermaid laying out the new picture holds the thread for long; the median tick is on time.
    const sorted = [...lateness].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(100);
  }, 400_000);

  it('cuts huge and hostile names in the request list, with the whole name in the title', async () => {
    await page.goto(viewer.url);
    const row = page.locator(`tr[data-trace-id="${longRoot.traceId}"]`);
    await row.waitFor();
    const link = row.locator('.col-request a');
    const text = (await link.textContent()) ?? '';
    expect(text.length).toBeLessThanOrEqual(200);
    expect(text).toMatch(/^\/reports\/r+…$/);
    expect(await link.getAttribute('title')).toBe(LONG_ROUTE);
    const service = row.locator('.col-service');
    expect(await service.textContent()).toMatch(/^reports services+…$/);
    expect(await service.getAttribute('title')).toBe(LONG_SERVICE);
    // The row fits the page: no column pushed off to the right.
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      window: window.innerWidth,
    }));
    expect(widths.page).toBeLessThanOrEqual(widths.window);
    const box = await link.boundingBox();
    expect(box?.width ?? 0).toBeLessThan(600);
    expect(box?.height ?? 0).toBeLessThan(40);
  }, 60_000);

  it('cuts huge and hostile names in the endpoints table and on the trace page', async () => {
    await page.goto(`${viewer.url}/endpoints`);
    const name = page.locator('tbody tr .endpoint-name', { hasText: '/reports/r' });
    await name.waitFor();
    const text = (await name.textContent()) ?? '';
    expect(text.length).toBeLessThanOrEqual(200);
    expect(text).toMatch(/^GET \/reports\/r+…$/);
    expect(await name.locator('xpath=..').getAttribute('title')).toBe(`GET ${LONG_ROUTE} on ${LONG_SERVICE}`);
    const box = await name.boundingBox();
    expect(box?.width ?? 0).toBeLessThan(600);
    expect(box?.height ?? 0).toBeLessThan(40);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

    await page.goto(`${viewer.url}/traces/${longRoot.traceId}`);
    await drawn();
    const title = page.locator('.trace-title');
    expect(((await title.textContent()) ?? '').length).toBeLessThanOrEqual(300);
    expect(await title.getAttribute('title')).toBe(LONG_ROUTE);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be absent.
    expect(await page.locator('.trace-summary').textContent()).not.toMatch(/[\n\r\u001b\u202e]/);
    expect(await page.locator('#trace-size').isHidden()).toBe(true);
    await parseMermaid((await (await fetch(`${viewer.url}/api/traces/${longRoot.traceId}/mermaid`)).text()) ?? '');
  }, 60_000);
});
