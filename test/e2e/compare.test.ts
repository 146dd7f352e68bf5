/**
 * The compare page in Chromium: two requests picked in the list, or a request
 * and the latest one of its endpoint, drawn as the new flow with its changes
 * highlighted.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@lifeline/store';
import { parseSequenceDiagram } from '@lifeline/test-support/mermaid';
import { type RunningViewer, startViewer } from '@lifeline/viewer';
import { ensureClientBundle } from '@lifeline/viewer/build-client';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { articleTrace } from './traces.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const message = `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set LIFELINE_CHROMIUM).`;
  if (process.env.CI) throw new Error(message);
  console.warn(`Skipping the compare page's browser tests. ${message}`);
}

const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-output', 'screenshots');
const MS = 1e6;

describe.skipIf(!haveChromium)('the compare page in Chromium', () => {
  let dir: string;
  let viewer: RunningViewer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const now = Date.now() * MS;
  // The same endpoint three times: an N+1 of six comments, the loop gone, then a failing call.
  const looped = articleTrace({ startNs: now - 60_000 * MS, comments: 6 });
  const fixed = articleTrace({ startNs: now - 50_000 * MS, comments: 1 });
  const failing = articleTrace({ startNs: now - 40_000 * MS, comments: 6, fail: true });
  const idOf = (spans: { traceId: string }[]): string => spans[0]?.traceId ?? '';

  beforeAll(async () => {
    await ensureClientBundle();
    dir = mkdtempSync(join(tmpdir(), 'lifeline-e2e-compare-'));
    const db = join(dir, 'traces.db');
    const store = openStore({ path: db });
    store.writeSpans([...looped, ...fixed, ...failing]);
    store.close();
    viewer = await startViewer({ port: 0, db });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  const waitForDiagram = async (): Promise<void> => {
    await page.locator('#diagram svg').waitFor();
    await page.waitForFunction(() => document.querySelector('#diagram')?.getAttribute('aria-busy') === null);
  };

  it('compares two requests picked in the list, drawing the changed loop highlighted', async () => {
    await page.goto(viewer.url);
    await page.locator(`tr[data-trace-id="${idOf(fixed)}"]`).waitFor();
    const button = page.locator('#compare-selected');
    expect(await button.getAttribute('aria-disabled')).toBe('true');
    // Picked newest first: the page still puts the earlier request before.
    await page.locator(`tr[data-trace-id="${idOf(fixed)}"] input.compare-pick`).check();
    expect(await button.textContent()).toBe('Select one more to compare');
    await page.locator(`tr[data-trace-id="${idOf(looped)}"] input.compare-pick`).check();
    expect(await button.getAttribute('aria-disabled')).toBe('false');
    await button.click();
    await page.waitForURL(/\/compare\?/);
    expect(new URL(page.url()).search).toBe(`?before=${idOf(looped)}&after=${idOf(fixed)}`);
    await waitForDiagram();

    const changes = await page.locator('#compare-changes li').allTextContents();
    expect(changes).toEqual(['loop 6× SELECT comments → 1× SELECT comments (postgresql blog)']);
    // Mermaid drew the highlight: a rect in the changed colour, the note saying how, every arrow.
    const fills = await page
      .locator('#diagram svg rect')
      .evaluateAll((rects) => rects.map((rect) => rect.getAttribute('fill') ?? ''));
    expect(fills).toContain('rgb(255, 236, 179)');
    expect(await page.locator('#diagram svg').textContent()).toContain('was 6×, now 1×');
    const api = (await (
      await fetch(`${viewer.url}/api/compare?before=${idOf(looped)}&after=${idOf(fixed)}`)
    ).json()) as { mermaid: string };
    const parsed = await parseSequenceDiagram(api.mermaid);
    expect(await page.locator('#diagram svg text.messageText').count()).toBe(parsed.signals.length);
    await page.screenshot({ path: join(SCREENSHOTS, 'compare.png'), fullPage: true });
  });

  it('compares a request with the latest of its endpoint from the trace page, naming the new error', async () => {
    await page.goto(`${viewer.url}/traces/${idOf(looped)}`);
    await page.locator('#diagram svg').waitFor();
    await page.locator('a.compare-latest').click();
    await page.waitForURL(/\/compare\?before=.*&after=latest$/);
    await waitForDiagram();
    const changes = await page.locator('#compare-changes li').allTextContents();
    expect(changes.some((text) => /now fails/.test(text))).toBe(true);
    expect(await page.locator('#compare-regressions').textContent()).toBe('Regressions: new-error');
    // The failing request is the newest: its id is on the "after" side.
    expect(await page.locator('.compare-side code').nth(1).textContent()).toBe(idOf(failing));
  });

  it('says why when there is nothing to compare with', async () => {
    const response = await fetch(`${viewer.url}/api/compare?before=${'0'.repeat(32)}`);
    expect(response.status).toBe(404);
    const bad = await fetch(`${viewer.url}/api/compare?before=xyz`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: 'before must be a trace id of 32 hexadecimal characters',
      parameter: 'before',
    });
  });
});
