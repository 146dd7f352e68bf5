import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { type RunningViewer, startViewer } from '@lifeline/viewer';
import { ensureClientBundle } from '@lifeline/viewer/build-client';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { articleTrace, createArticleTrace, healthTrace } from './traces.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const message = `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set LIFELINE_CHROMIUM).`;
  if (process.env.CI) throw new Error(message);
  console.warn(`Skipping the Endpoints page's browser tests. ${message}`);
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');
const DOC_IMAGES = join(ROOT, 'docs', 'images');
const MS = 1e6;

describe.skipIf(!haveChromium)('the Endpoints page in Chromium', () => {
  let dir: string;
  let db: string;
  let viewer: RunningViewer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const now = Date.now() * MS;

  /** Endpoint names in the order the table shows them. */
  const rowNames = (): Promise<string[]> => page.locator('tbody tr .endpoint-name').allTextContents();

  beforeAll(async () => {
    await ensureClientBundle();
    dir = mkdtempSync(join(tmpdir(), 'lifeline-e2e-endpoints-'));
    db = join(dir, 'traces.db');
    const store = openStore({ path: db });
    // Three requests of an article, one of which fails; health checks; an old slow create, two days ago.
    store.writeSpans([
      ...articleTrace({ startNs: now - 90_000 * MS, comments: 4 }),
      ...articleTrace({ startNs: now - 80_000 * MS, articleId: 3, comments: 4 }),
      ...articleTrace({ startNs: now - 70_000 * MS, articleId: 7, fail: true }),
      ...healthTrace({ startNs: now - 60_000 * MS }),
      ...healthTrace({ startNs: now - 50_000 * MS }),
      ...createArticleTrace({ startNs: now - 2 * 86_400_000 * MS }),
    ]);
    store.close();
    viewer = await startViewer({ port: 0, db });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists endpoints slowest p95 first, sorts by a clicked column and filters by time window', async () => {
    await page.goto(`${viewer.url}/endpoints`);
    await page.locator('tbody tr').first().waitFor();
    expect(await rowNames()).toEqual(['POST /articles', 'GET /articles/:id', 'GET /health']);
    expect(await page.locator('th[aria-sort="descending"]').textContent()).toContain('p95');
    const article = page.locator('tbody tr', { hasText: 'GET /articles/:id' });
    await expect.poll(() => article.locator('td').nth(1).textContent()).toBe('3');
    expect(await article.locator('td').nth(6).textContent()).toBe('33 %');
    expect(await article.locator('a', { hasText: 'slowest' }).getAttribute('href')).toMatch(/^\/traces\/[0-9a-f]{32}$/);

    await page.locator('button[data-sort="requests"]').click();
    await expect.poll(rowNames).toEqual(['GET /articles/:id', 'GET /health', 'POST /articles']);
    expect(page.url()).toContain('sort=requests');

    await page.locator('select[name="window"]').selectOption('1h');
    await expect.poll(rowNames).toEqual(['GET /articles/:id', 'GET /health']);
    expect(page.url()).toContain('window=1h');
  }, 60_000);

  it('draws the typical flow of an endpoint with its error path as a variant, and stays live', async () => {
    await page.goto(`${viewer.url}/endpoints`);
    await page.locator('tbody tr', { hasText: 'GET /articles/:id' }).click();
    await page.locator('#endpoint-diagram svg').waitFor();
    const shapes = await page.locator('.shape strong').allTextContents();
    expect(shapes).toHaveLength(2);
    const flow = (await (
      await fetch(
        `${viewer.url}/api/endpoints/flow?service=blog-api&kind=server&name=${encodeURIComponent('GET /articles/:id')}`,
      )
    ).json()) as { flow: { text: string; shapes: { label: string; requests: number }[] } };
    await parseMermaid(flow.flow.text);
    expect(flow.flow.text).toMatch(/^alt .* · 67 #37;$/m);
    expect(flow.flow.text).toMatch(/^else .* fails · 33 #37;$/m);
    expect(flow.flow.shapes.map((s) => s.requests)).toEqual([2, 1]);
    // The diagram on the page is the API's text, drawn by the bundled Mermaid.
    expect(await page.locator('#endpoint-diagram svg').textContent()).toContain('fails');

    const shot = join(SCREENSHOTS, 'viewer-endpoints.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.LIFELINE_UPDATE_DOC_IMAGES === '1') {
      mkdirSync(DOC_IMAGES, { recursive: true });
      await page.screenshot({ path: join(DOC_IMAGES, 'viewer-endpoints.png'), fullPage: true });
    }

    // A new request arrives: the list counts it without a reload.
    const store = openStore({ path: db });
    store.writeSpans(healthTrace({ startNs: Date.now() * MS }));
    store.close();
    const health = page.locator('tbody tr', { hasText: 'GET /health' });
    await expect.poll(() => health.locator('td').nth(1).textContent(), { timeout: 15_000 }).toBe('3');
    expect(problems).toEqual([]);
  }, 60_000);
});
