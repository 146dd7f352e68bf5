/**
 * Figure 7: how long headless Chromium takes to turn a trace's Mermaid text
 * into an SVG in the page, for diagrams of 50, 200 and 500 messages.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromiumFlags } from 'lifeline';
import { type Browser, chromium } from 'playwright-core';
import { runInterleaved } from '../lib/interleave.ts';
import type { FigureReport } from '../lib/report.ts';
import { median } from '../lib/stats.ts';

/** A diagram to render and the number of messages (arrows) it draws. */
export interface DiagramCase {
  messages: number;
  text: string;
}

/** A viewer serving one stored trace, for the page-against-bare-Mermaid rows. */
export interface ViewerPageSetup {
  /** The trace page's URL (`…/traces/:id`). */
  readonly traceUrl: string;
  /** The Mermaid text the viewer draws on that page (the bare page draws the same). */
  readonly text: string;
  readonly messages: number;
  /** Folder of the bare Mermaid page's bundle (`app.js` and its chunks, built like the viewer's). */
  readonly bareBundleDir: string;
  close(): Promise<void>;
}

/** Options of {@link browserRenderFigure}. */
export interface BrowserRenderOptions {
  rounds: number;
  /** Builds the Mermaid text of a diagram with about this many messages. */
  diagram: (messages: number) => Promise<DiagramCase>;
  executablePath?: string;
  /**
   * Stores a trace of about this many messages, starts the viewer on it and
   * bundles the bare Mermaid page; when given, the trace page is timed
   * against the bare page (see {@link pageVersusBare}).
   */
  viewerPage?: (messages: number) => Promise<ViewerPageSetup>;
}

const mermaidScript = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');

async function renderOnce(browser: Browser, diagram: DiagramCase): Promise<number> {
  const page = await browser.newPage();
  try {
    await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
    await page.addScriptTag({ path: mermaidScript });
    const result = await page.evaluate(async (text: string) => {
      const mermaid = (globalThis as unknown as { mermaid: typeof import('mermaid').default }).mermaid;
      mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', maxTextSize: 200_000 });
      const out = document.getElementById('out') as HTMLElement;
      const t0 = performance.now();
      const { svg } = await mermaid.render('diagram', text);
      out.innerHTML = svg;
      // Reading a layout property forces style and layout, so the time covers
      // an SVG the page can actually show, not just a string.
      const height = out.querySelector('svg')?.getBoundingClientRect().height ?? 0;
      const ms = performance.now() - t0;
      return { ms, height, messages: out.querySelectorAll('.messageText').length };
    }, diagram.text);
    if (result.height <= 0) throw new Error(`the ${diagram.messages}-message diagram rendered no visible SVG`);
    if (result.messages !== diagram.messages) {
      throw new Error(`the SVG shows ${result.messages} message labels, the diagram has ${diagram.messages}`);
    }
    return result.ms;
  } finally {
    await page.close();
  }
}

/** The mark both pages set once the diagram's SVG is in the page and laid out. */
const DRAWN_MARK = 'lifeline:diagram-drawn';

/**
 * Opens `url` in a fresh page and returns the time (ms from navigation
 * start) of the {@link DRAWN_MARK} mark, with the message labels the page's
 * SVG shows. `bare` serves the bare Mermaid page and its bundle at that URL.
 */
async function timeToDrawn(
  browser: Browser,
  url: string,
  bare?: { text: string; bundleDir: string },
): Promise<{ ms: number; messages: number }> {
  const page = await browser.newPage();
  try {
    if (bare !== undefined) {
      const base = new URL(url);
      await page.route(`${base.origin}/bare/**`, async (route) => {
        const path = new URL(route.request().url()).pathname.slice('/bare/'.length);
        if (path === '' || path === 'index.html') {
          // The text goes in as a JSON string literal: nothing in it can end the script.
          const literal = JSON.stringify(bare.text).replace(/</g, '\\u003c');
          await route.fulfill({
            contentType: 'text/html',
            body:
              '<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/styles.css">' +
              `<script>globalThis.diagramText = ${literal};</script>` +
              '<script type="module" src="/bare/app.js"></script></head><body><div id="out"></div></body></html>',
          });
          return;
        }
        await route.fulfill({ path: join(bare.bundleDir, path), contentType: 'text/javascript' });
      });
    }
    await page.goto(url);
    await page.waitForFunction((mark) => performance.getEntriesByName(mark).length > 0, DRAWN_MARK, {
      timeout: 120_000,
    });
    return await page.evaluate((mark) => {
      const entry = performance.getEntriesByName(mark)[0] as PerformanceEntry;
      const svg = document.querySelector('[data-rendered-messages]') as HTMLElement | null;
      return { ms: entry.startTime, messages: Number(svg?.dataset.renderedMessages ?? -1) };
    }, DRAWN_MARK);
  } finally {
    await page.close();
  }
}

/**
 * The viewer's trace page against a bare page that loads the same Mermaid
 * (bundled by the same build, with the viewer's settings) and draws the same
 * text: each timed from navigation start to the SVG laid out, each sample in
 * a fresh page, the two interleaved over the rounds. Returns the medians.
 */
export async function pageVersusBare(
  browser: Browser,
  setup: ViewerPageSetup,
  rounds: number,
): Promise<{ pageMs: number; bareMs: number }> {
  const bareUrl = `${new URL(setup.traceUrl).origin}/bare/`;
  const bare = { text: setup.text, bundleDir: setup.bareBundleDir };
  const measure = async (config: 'page' | 'bare'): Promise<number> => {
    const result =
      config === 'page' ? await timeToDrawn(browser, setup.traceUrl) : await timeToDrawn(browser, bareUrl, bare);
    if (result.messages !== setup.messages) {
      throw new Error(`the ${config} shows ${result.messages} messages, the diagram has ${setup.messages}`);
    }
    return result.ms;
  };
  // One unmeasured load of each warms the browser and the server.
  await measure('page');
  await measure('bare');
  const samples = await runInterleaved({ configs: ['page', 'bare'] as const, rounds, measure });
  return { pageMs: median(samples.page), bareMs: median(samples.bare) };
}

/**
 * Renders each size in a fresh page (as opening a trace in the viewer does),
 * sizes interleaved across rounds, and reports median times.
 */
export async function browserRenderFigure(options: BrowserRenderOptions): Promise<FigureReport> {
  const executablePath = options.executablePath ?? '/usr/bin/chromium';
  const figure: FigureReport = {
    id: 7,
    title: 'Diagram rendering in the browser',
    method:
      "Headless Chromium loads mermaid's `dist/mermaid.min.js` into a local page; the time from `mermaid.render` " +
      'to an SVG laid out in the page is measured for diagrams of about 50, 200 and 500 messages, built by the ' +
      "core's `traceToMermaid` from generated traces (loops not folded). Each sample uses a fresh page; sizes " +
      'are interleaved over the rounds. The check that every message label is in the SVG guards the figure. ' +
      'The viewer rows store a trace of about 200 messages, open its trace page (`/traces/:id`) and a bare page ' +
      "that loads Mermaid bundled by the viewer's own build with the viewer's settings and draws the same text; " +
      'each is timed from navigation start to the SVG laid out (a `lifeline:diagram-drawn` performance mark), a ' +
      'fresh page per sample, the two interleaved; the goal is on their ratio, measured in the same run and the same Chromium.',
    rows: [],
    notes: [],
  };
  if (!existsSync(executablePath)) {
    figure.failure = `no Chromium at ${executablePath} (apt-get install -y chromium)`;
    return figure;
  }
  const sizes = ['50', '200', '500'] as const;
  const cases = new Map<string, DiagramCase>();
  for (const size of sizes) cases.set(size, await options.diagram(Number(size)));
  const browser = await chromium.launch({ executablePath, args: [...chromiumFlags] });
  try {
    // One unmeasured render warms the browser process itself.
    await renderOnce(browser, cases.get('50') as DiagramCase);
    const samples = await runInterleaved({
      configs: sizes,
      rounds: options.rounds,
      measure: (size) => renderOnce(browser, cases.get(size) as DiagramCase),
    });
    const base = median(samples['50']);
    const baseCase = cases.get('50') as DiagramCase;
    const baseline = { name: `${baseCase.messages} messages`, value: base, unit: 'ms' };
    figure.rows.push({ key: 'browser.render50.ms', name: `${baseCase.messages} messages`, value: base, unit: 'ms' });
    const mid = cases.get('200') as DiagramCase;
    figure.rows.push({
      key: 'browser.render200.ms',
      name: `${mid.messages} messages, mermaid.render alone`,
      value: median(samples['200']),
      unit: 'ms',
      baseline,
    });
    const big = cases.get('500') as DiagramCase;
    figure.rows.push({
      key: 'browser.render500.ms',
      name: `${big.messages} messages`,
      value: median(samples['500']),
      unit: 'ms',
      baseline,
    });
    if (options.viewerPage !== undefined) {
      const setup = await options.viewerPage(200);
      try {
        const { pageMs, bareMs } = await pageVersusBare(browser, setup, options.rounds);
        const bareName = `${setup.messages} messages: bare Mermaid page, same text`;
        figure.rows.push(
          { key: 'browser.barePage200.ms', name: bareName, value: bareMs, unit: 'ms' },
          {
            key: 'browser.viewerPage200.ms',
            name: `${setup.messages} messages: viewer trace page`,
            value: pageMs,
            unit: 'ms',
            baseline: { name: 'bare Mermaid page', value: bareMs, unit: 'ms' },
            goal: { on: 'ratio', op: '<=', target: 1.3, text: '≤ 1.3× bare Mermaid' },
          },
        );
      } finally {
        await setup.close();
      }
    }
  } finally {
    await browser.close();
  }
  return figure;
}
