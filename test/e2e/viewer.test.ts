import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceSummary } from '@lifeline/core';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { type RunningViewer, startViewer } from '@lifeline/viewer';
import { ensureClientBundle } from '@lifeline/viewer/build-client';
import { chromiumFlags } from 'lifeline';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  articleTrace,
  createArticleTrace,
  HOSTILE,
  healthTrace,
  hostileTrace,
  housekeepingTrace,
  largeTrace,
  startUpTrace,
} from './traces.js';

const CHROMIUM = process.env.LIFELINE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const message = `Chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium" (or set LIFELINE_CHROMIUM).`;
  if (process.env.CI) throw new Error(message);
  console.warn(`Skipping the viewer's browser tests. ${message}`);
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');
const DOC_IMAGES = join(ROOT, 'docs', 'images');
const MS = 1e6;

interface TraceBody {
  summary: TraceSummary;
  spans: { spanId: string; name: string; attributes: Record<string, unknown> }[];
  sequence: {
    mermaid: string;
    folded: boolean;
    model: { messageCount: number; arrows: { number: number; spanId: string; kind: string }[] };
  };
}

describe.skipIf(!haveChromium)('the viewer in Chromium', () => {
  let dir: string;
  let db: string;
  let viewer: RunningViewer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  const now = Date.now() * MS;
  const article = articleTrace({ startNs: now - 60_000 * MS, comments: 4 });
  const failing = articleTrace({ startNs: now - 50_000 * MS, articleId: 7, fail: true });
  const health = healthTrace({ startNs: now - 40_000 * MS });
  const create = createArticleTrace({ startNs: now - 30_000 * MS });
  const hostile = hostileTrace({ startNs: now - 20_000 * MS });
  // More ordinary traffic, so the list looks like a working app's.
  const background = [
    articleTrace({ startNs: now - 120_000 * MS, articleId: 3, comments: 2 }),
    healthTrace({ startNs: now - 110_000 * MS }),
    articleTrace({ startNs: now - 100_000 * MS, articleId: 11, comments: 8 }),
    createArticleTrace({ startNs: now - 90_000 * MS }),
    healthTrace({ startNs: now - 80_000 * MS }),
  ];
  const seededCount = 4 + background.length;
  const idOf = (spans: { traceId: string }[]): string => spans[0]?.traceId ?? '';

  const traceBody = async (traceId: string, query = ''): Promise<TraceBody> =>
    (await (await fetch(`${viewer.url}/api/traces/${traceId}${query}`)).json()) as TraceBody;

  const watch = (target: Page): void => {
    target.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    target.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    target.on('dialog', (dialog) => {
      problems.push(`dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });
  };

  const openTrace = async (traceId: string, query = ''): Promise<void> => {
    await page.goto(`${viewer.url}/traces/${traceId}${query}`);
    await page.locator('#diagram svg').waitFor();
    await page.waitForFunction(() => document.querySelector('#diagram')?.getAttribute('aria-busy') === null);
  };

  beforeAll(async () => {
    // Never test a stale bundle: rebuild when it is missing or older than the client sources.
    await ensureClientBundle();
    dir = mkdtempSync(join(tmpdir(), 'lifeline-e2e-'));
    db = join(dir, 'traces.db');
    const store = openStore({ path: db });
    // The hostile trace is stored by its own test, after the list pictures are taken.
    store.writeSpans([...background.flat(), ...article, ...failing, ...health, ...create]);
    store.close();
    viewer = await startViewer({ port: 0, db });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // The flags `lifeline export --format svg` launches Chromium with.
      args: [...chromiumFlags],
    });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: viewer.url });
    page = await context.newPage();
    watch(page);
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    // The documentation's pictures are refreshed on request, not by every run.
    if (process.env.LIFELINE_UPDATE_DOC_IMAGES === '1') {
      mkdirSync(DOC_IMAGES, { recursive: true });
      for (const [from, to] of [
        ['list.png', 'viewer-list.png'],
        ['trace.png', 'viewer-trace.png'],
      ] as const) {
        const source = join(SCREENSHOTS, from);
        if (existsSync(source)) writeFileSync(join(DOC_IMAGES, to), readFileSync(source));
      }
    }
    await browser?.close();
    await viewer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    // Every test must leave the console clean: no errors, no dialogs, no exceptions.
    const seen = problems.splice(0);
    expect(seen).toEqual([]);
  });

  it('lists the recorded requests with their flags', async () => {
    await page.goto(viewer.url);
    const rows = page.locator('tbody tr.row');
    await expect.poll(() => rows.count()).toBe(seededCount);
    const articleRow = page.locator(`tr[data-trace-id="${idOf(article)}"]`);
    await expect.poll(() => articleRow.textContent()).toContain('/articles/:id');
    const text = (await articleRow.textContent()) ?? '';
    expect(text).toContain('GET');
    expect(text).toContain('200');
    expect(text).toContain('N+1');
    expect(text).toMatch(/db \d+/);
    expect(text).toMatch(/\d+ par/);
    const failingRow = page.locator(`tr[data-trace-id="${idOf(failing)}"]`);
    expect(await failingRow.textContent()).toContain('error');
    expect(await failingRow.getAttribute('class')).toContain('row-error');

    await page.screenshot({ path: join(SCREENSHOTS, 'list.png'), fullPage: true });
  });

  it('filters the list and keeps the filters in the URL', async () => {
    await page.goto(viewer.url);
    await expect.poll(() => page.locator('tbody tr.row').count()).toBe(seededCount);
    await page.locator('input[name="error"]').check();
    await expect.poll(() => page.locator('tbody tr.row').count()).toBe(1);
    expect(new URL(page.url()).searchParams.get('error')).toBe('1');
    await page.locator('input[name="service"]').fill('editor-api');
    await page.locator('input[name="error"]').uncheck();
    await expect.poll(() => page.locator('tbody tr.row').count()).toBe(2);
    expect(await page.locator('tbody tr.row').first().textContent()).toContain('POST');
    await page.reload();
    await expect.poll(() => page.locator('tbody tr.row').count()).toBe(2);
    expect(await page.locator('input[name="service"]').inputValue()).toBe('editor-api');
  });

  it('opens a trace from the keyboard', async () => {
    await page.goto(`${viewer.url}/?order=slowest`);
    const first = page.locator('tbody tr.row').first();
    await first.waitFor();
    const id = await first.getAttribute('data-trace-id');
    await first.focus();
    await page.keyboard.press('ArrowDown');
    const second = await page.evaluate(() => document.activeElement?.getAttribute('data-trace-id'));
    expect(second).not.toBe(id);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/traces/${id}`);
    await page.locator('#diagram svg').waitFor();
  });

  it('draws as many numbered messages as the model has, with a par block for the overlap', async () => {
    const body = await traceBody(idOf(article));
    await openTrace(idOf(article));
    const svg = page.locator('#diagram svg');
    expect(await svg.locator('text.messageText').count()).toBe(body.sequence.model.messageCount);
    expect(await svg.locator('text.sequenceNumber').count()).toBe(body.sequence.model.messageCount);
    const numbers = await svg.locator('text.sequenceNumber').allTextContents();
    expect(numbers.map(Number)).toEqual(body.sequence.model.arrows.map((arrow) => arrow.number));
    expect(body.sequence.mermaid).toMatch(/^\s*par /m);
    // Mermaid labels the block it drew from the par statement.
    const blockLabels = await svg.locator('text.labelText').allTextContents();
    expect(blockLabels).toContain('par');
    expect(blockLabels).toContain('loop');
    expect(await page.locator('#diagram').getAttribute('data-rendered-messages')).toBe(
      String(body.sequence.model.messageCount),
    );
  });

  it('shows the span behind a clicked message or autonumber', async () => {
    const body = await traceBody(idOf(article));
    await openTrace(idOf(article));
    const details = page.locator('#span-details');
    for (const arrow of body.sequence.model.arrows.filter((candidate) => candidate.kind === 'request').slice(0, 3)) {
      const span = body.spans.find((candidate) => candidate.spanId === arrow.spanId);
      await page.locator(`#diagram text.messageText[data-arrow="${arrow.number}"]`).click();
      await expect.poll(() => details.textContent()).toContain(arrow.spanId);
      const query = span?.attributes['db.query.text'];
      if (typeof query === 'string') expect(await details.locator('pre.query').textContent()).toBe(query);
      expect(await details.locator('.arrow-number').textContent()).toBe(String(arrow.number));
    }
    const last = body.sequence.model.arrows.at(-1);
    await page.locator(`#diagram text.sequenceNumber[data-arrow="${last?.number}"]`).click({ force: true });
    await expect.poll(() => details.textContent()).toContain(last?.spanId ?? '-');
    // The timeline row of the same span is marked.
    expect(await page.locator(`.timeline-row.is-selected`).getAttribute('data-span-id')).toBe(last?.spanId);

    // The picture for the docs: a query selected, its details beside the diagram.
    const query = body.sequence.model.arrows.find((arrow) =>
      body.spans.some((span) => span.spanId === arrow.spanId && span.name.startsWith('SELECT id, title')),
    );
    await page.locator(`#diagram text.messageText[data-arrow="${query?.number}"]`).click();
    await expect.poll(() => details.textContent()).toContain(query?.spanId ?? '-');
    await page.mouse.move(0, 0);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, 'trace.png'), fullPage: true });
  });

  it('copies Markdown whose Mermaid block the Mermaid parser accepts', async () => {
    await openTrace(idOf(article));
    await page.locator('button[data-action="copy-markdown"]').click();
    await expect.poll(() => page.locator('.toast').textContent()).toContain('Markdown copied');
    const markdown = await page.evaluate(() => navigator.clipboard.readText());
    // The core's Markdown export, the same bytes `lifeline export --format md` writes.
    const match = /^(.+)\n\n(?:> .+\n\n)?(`{3,})mermaid\n([\s\S]*?)\n\2\n$/.exec(markdown);
    expect(match).not.toBeNull();
    await parseMermaid(match?.[3] ?? '');
    expect(match?.[1]).toMatch(
      /^\*\*`GET \/articles\/:id`\*\* on `[^`]+` → 200 in [^·]+ · \d+ spans · .*trace `[0-9a-f]{32}`$/,
    );
    expect(match?.[3]).toBe((await traceBody(idOf(article))).sequence.mermaid.trimEnd());
    // What GitHub, GitLab and wikis run: no participant shapes, the kind after the name.
    expect(match?.[3]).not.toContain('@{');
    expect(match?.[3]).toMatch(/^participant p\d+ as postgresql blog \(db\)$/m);
  });

  it('copies Mermaid with participant shapes only after the shapes toggle, and draws them', async () => {
    await openTrace(idOf(article));
    await page.locator('button[data-action="copy-mermaid"]').click();
    await expect.poll(() => page.locator('.toast').textContent()).toContain('Mermaid text copied');
    const portable = await page.evaluate(() => navigator.clipboard.readText());
    expect(portable).not.toContain('@{');
    await parseMermaid(portable);
    await page.locator('input[name="shapes"]').check();
    await page.waitForURL(/shapes=1/);
    await page.waitForFunction(() => document.querySelector('#diagram')?.getAttribute('aria-busy') === null);
    await page.locator('button[data-action="copy-mermaid"]').click();
    await expect
      .poll(() => page.evaluate(() => navigator.clipboard.readText()))
      .toMatch(/^participant p\d+@\{ "type" : "database" \} as postgresql blog$/m);
    const shaped = await page.evaluate(() => navigator.clipboard.readText());
    expect(shaped).toBe((await traceBody(idOf(article), '?shapes=1')).sequence.mermaid);
    await parseMermaid(shaped, { versions: 'current' });
    // The bundled Mermaid draws the shapes: the same number of arrows as the model.
    await expect
      .poll(() => page.locator('#diagram svg text.messageText').count())
      .toBe((await traceBody(idOf(article), '?shapes=1')).sequence.model.messageCount);
  });

  it('re-renders with the diagram options and keeps them in the permalink', async () => {
    await openTrace(idOf(article));
    await page.locator('input[name="timings"]').uncheck();
    await page.waitForURL(/timings=0/);
    await page.waitForFunction(() => !/\d ms/.test(document.querySelector('#diagram svg')?.textContent ?? ''));
    await page.locator('input[name="loops"]').uncheck();
    await page.waitForURL(/loops=0/);
    const unfolded = await traceBody(idOf(article), '?timings=0&loops=0');
    await expect
      .poll(() => page.locator('#diagram svg text.messageText').count())
      .toBe(unfolded.sequence.model.messageCount);
    await page.locator('button[data-action="permalink"]').click();
    const permalink = await page.evaluate(() => navigator.clipboard.readText());
    expect(permalink).toBe(`${viewer.url}/traces/${idOf(article)}?timings=0&internal=0&loops=0&shapes=0`);
    await page.goto(permalink);
    await page.locator('#diagram svg').waitFor();
    expect(await page.locator('input[name="timings"]').isChecked()).toBe(false);
  });

  it('downloads the diagram as SVG and PNG', async () => {
    await openTrace(idOf(failing));
    const [svgDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('button[data-action="download-svg"]').click(),
    ]);
    expect(svgDownload.suggestedFilename()).toMatch(/^lifeline-get-articles-id-[0-9a-f]{8}\.svg$/);
    const svg = readFileSync((await svgDownload.path()) ?? '', 'utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('http://www.w3.org/2000/svg');
    expect(svg).not.toContain('data-arrow');

    const [pngDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('button[data-action="download-png"]').click(),
    ]);
    const png = readFileSync((await pngDownload.path()) ?? '');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // Width from the IHDR chunk: the PNG is drawn at twice the diagram's size.
    expect(png.readUInt32BE(16)).toBeGreaterThan(400);

    const [mmdDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('button[data-action="download-mmd"]').click(),
    ]);
    const mmd = readFileSync((await mmdDownload.path()) ?? '', 'utf8');
    expect(mmd).toBe((await traceBody(idOf(failing))).sequence.mermaid);
  });

  it('shows errors and the analysis of a failing request', async () => {
    await openTrace(idOf(failing));
    const analysis = page.locator('.analysis');
    expect(await analysis.textContent()).toContain('connection pool exhausted');
    await analysis.locator('.analysis-item.is-error').first().click();
    await expect.poll(() => page.locator('#span-details').textContent()).toMatch(/error/);
    expect(await page.locator('.trace-meta .status').textContent()).toBe('500');
  });

  it('neither breaks nor runs anything for hostile names and attributes', async () => {
    const writer = openStore({ path: db });
    writer.writeSpans(hostile);
    writer.close();
    await page.goto(viewer.url);
    const hostileRow = page.locator(`tr[data-trace-id="${idOf(hostile)}"]`);
    await hostileRow.waitFor();
    expect(await hostileRow.textContent()).toContain(HOSTILE.image);
    expect(await page.locator('tbody img, tbody script').count()).toBe(0);

    const body = await traceBody(idOf(hostile));
    await parseMermaid(body.sequence.mermaid);
    await openTrace(idOf(hostile));
    const svg = page.locator('#diagram svg');
    expect(await svg.locator('text.messageText').count()).toBe(body.sequence.model.messageCount);
    expect(await page.locator('#diagram script, #diagram img, #diagram foreignObject script').count()).toBe(0);
    // The init directive did not switch Mermaid to another theme or security level.
    expect(body.sequence.mermaid).not.toContain('%%{init');
    for (const arrow of body.sequence.model.arrows.filter((candidate) => candidate.kind === 'request')) {
      await page.locator(`#diagram text.messageText[data-arrow="${arrow.number}"]`).click();
      await expect.poll(() => page.locator('#span-details').textContent()).toContain(arrow.spanId);
    }
    // The details show the hostile text literally.
    const scriptSpan = body.spans.find((span) => span.name === HOSTILE.script);
    const arrow = body.sequence.model.arrows.find((candidate) => candidate.spanId === scriptSpan?.spanId);
    await page.locator(`#diagram text.messageText[data-arrow="${arrow?.number}"]`).click();
    expect(await page.locator('#span-details pre.query').textContent()).toContain(HOSTILE.script);
    expect(await page.locator('#span-details').textContent()).toContain(HOSTILE.image);
    expect(await page.locator('.trace-title').textContent()).toContain(HOSTILE.image);
    expect(await page.locator('main script, main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __lifelinePwned?: number }).__lifelinePwned)).toBeUndefined();
    // The page still works: the timeline lists every span.
    expect(await page.locator('.timeline-row').count()).toBe(body.spans.length);
    await page.screenshot({ path: join(SCREENSHOTS, 'trace-hostile.png'), fullPage: true });
  });

  it('adds requests stored by another process to the open list', async () => {
    await page.goto(viewer.url);
    const rows = page.locator('tbody tr.row');
    await expect.poll(() => rows.count()).toBe(seededCount + 1);
    await expect.poll(() => page.locator('#live-status').getAttribute('data-state')).toBe('live');
    const fresh = articleTrace({ articleId: 1234 });
    const writer = openStore({ path: db });
    writer.writeSpans(fresh);
    writer.close();
    const row = page.locator(`tr[data-trace-id="${idOf(fresh)}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await rows.count()).toBe(seededCount + 2);
    expect(await page.locator('tbody tr.row').first().getAttribute('data-trace-id')).toBe(idOf(fresh));
  });

  it('draws a very large trace within the Mermaid size limit', async () => {
    const large = largeTrace({ startNs: now - 200_000 * MS });
    const writer = openStore({ path: db });
    writer.writeSpans(large);
    writer.close();
    const body = await traceBody(idOf(large));
    expect(body.sequence.mermaid.length).toBeLessThanOrEqual(50_000);
    await openTrace(idOf(large));
    const drawn = await page.locator('#diagram svg text.messageText').count();
    expect(drawn).toBe(body.sequence.model.messageCount);
    // 1,200 queries cannot all fit: the core folds them and the page says so.
    expect(body.sequence.folded).toBe(true);
    expect(await page.locator('.diagram-notes').textContent()).toContain('folded');
    expect(await page.locator('.timeline-row').count()).toBe(large.length);
    // Mermaid lays out a 50,000-character diagram in several seconds on a
    // quiet machine: the budget is a shared CI machine's, not a speed goal.
  }, 90_000);

  it('keeps background work out of the list, live too, and shows it under Show', async () => {
    await page.goto(viewer.url);
    const rows = page.locator('tbody tr.row');
    await expect.poll(() => page.locator('#live-status').getAttribute('data-state')).toBe('live');
    const requestsBefore = await rows.count();
    expect(requestsBefore).toBeGreaterThan(0);
    // Stored while the page is open: a start-up query, a queue's stalled-jobs
    // check, then a request, which shows that the live updates were read.
    const startUp = startUpTrace({ startNs: (Date.now() - 2000) * MS });
    const housekeeping = housekeepingTrace({ startNs: (Date.now() - 1000) * MS, queue: 'invoices' });
    const request = articleTrace({ articleId: 4321 });
    const writer = openStore({ path: db });
    writer.writeSpans([...startUp, ...housekeeping]);
    writer.writeSpans(request);
    writer.close();
    await page.locator(`tr[data-trace-id="${idOf(request)}"]`).waitFor({ timeout: 10_000 });
    expect(await rows.count()).toBe(requestsBefore + 1);
    expect(await page.locator('.badge-background').count()).toBe(0);
    await page.reload();
    await expect.poll(() => rows.count()).toBe(requestsBefore + 1);

    await page.locator('select[name="work"]').selectOption('background');
    await expect.poll(() => rows.count()).toBe(2);
    expect(new URL(page.url()).searchParams.get('work')).toBe('background');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.traceId))).toEqual([
      idOf(housekeeping),
      idOf(startUp),
    ]);
    expect(await page.locator('.badge-background').count()).toBe(2);
    expect(await rows.first().textContent()).toContain('moveStalledJobsToWait invoices');

    await page.locator('select[name="work"]').selectOption('all');
    await expect.poll(() => rows.count()).toBe(requestsBefore + 3);
    await page.reload();
    await expect.poll(() => rows.count()).toBe(requestsBefore + 3);
    expect(await page.locator('select[name="work"]').inputValue()).toBe('all');

    await page.locator('select[name="work"]').selectOption('requests');
    await expect.poll(() => rows.count()).toBe(requestsBefore + 1);
    expect(new URL(page.url()).searchParams.has('work')).toBe(false);
  });

  it('renders the trace page in the dark scheme too', async () => {
    const dark = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
    watch(dark);
    try {
      await dark.goto(`${viewer.url}/traces/${idOf(article)}`);
      await dark.locator('#diagram svg').waitFor();
      const background = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(background).toBe('rgb(15, 18, 23)');
      await dark.screenshot({ path: join(SCREENSHOTS, 'trace-dark.png'), fullPage: true });
    } finally {
      await dark.close();
    }
  });
});
