/**
 * Figure 7: how long headless Chromium takes to turn a trace's Mermaid text
 * into an SVG in the page, for diagrams of 50, 200 and 500 messages.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
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

/** Options of {@link browserRenderFigure}. */
export interface BrowserRenderOptions {
  rounds: number;
  /** Builds the Mermaid text of a diagram with about this many messages. */
  diagram: (messages: number) => Promise<DiagramCase>;
  executablePath?: string;
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
      'are interleaved over the rounds. The check that every message label is in the SVG guards the figure.',
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
      name: `${mid.messages} messages`,
      value: median(samples['200']),
      unit: 'ms',
      baseline,
      goal: { on: 'value', op: '<', target: 1000, text: '< 1 s' },
    });
    const big = cases.get('500') as DiagramCase;
    figure.rows.push({
      key: 'browser.render500.ms',
      name: `${big.messages} messages`,
      value: median(samples['500']),
      unit: 'ms',
      baseline,
    });
  } finally {
    await browser.close();
  }
  return figure;
}
