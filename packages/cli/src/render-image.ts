import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { chromiumFlags, requireChromium } from './chromium.js';

/** Options for {@link renderMermaidImage}. */
export interface RenderImageOptions {
  /** `svg` returns the markup Mermaid produced; `png` a screenshot of it. */
  readonly format: 'svg' | 'png';
  /** Browser to use; found with `findChromium()` when absent. */
  readonly executablePath?: string;
  /** Pixel density of a PNG (2 reads sharply on high-DPI screens and in docs). */
  readonly scale?: number;
}

const require = createRequire(import.meta.url);

/** Mermaid's self-contained browser bundle, shipped inside the mermaid package: no CDN, works offline. */
function mermaidBundlePath(): string {
  return require.resolve('mermaid/dist/mermaid.min.js');
}

/**
 * Renders Mermaid text with the real Mermaid running in headless Chromium,
 * so the picture is exactly what GitHub or the viewer would draw.
 *
 * @throws {ChromiumNotFoundError} without `executablePath` when no Chromium is found.
 *
 * @example
 * ```ts
 * const svg = await renderMermaidImage('sequenceDiagram\n  A->>B: hi', { format: 'svg' });
 * ```
 */
export async function renderMermaidImage(
  text: string,
  options: RenderImageOptions & { format: 'svg' },
): Promise<string>;
export async function renderMermaidImage(
  text: string,
  options: RenderImageOptions & { format: 'png' },
): Promise<Buffer>;
export async function renderMermaidImage(text: string, options: RenderImageOptions): Promise<string | Buffer> {
  const executablePath = options.executablePath ?? requireChromium(`--format ${options.format}`);
  const browser = await chromium.launch({ executablePath, headless: true, args: [...chromiumFlags] });
  try {
    const context = await browser.newContext({
      deviceScaleFactor: options.scale ?? 2,
      viewport: { width: 1600, height: 1000 },
    });
    const page = await context.newPage();
    await page.setContent(
      '<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;background:#fff"><div id="diagram"></div></body></html>',
    );
    await page.addScriptTag({ path: mermaidBundlePath() });
    const svg = await page.evaluate(async (source: string) => {
      const mermaid = (globalThis as unknown as { mermaid: MermaidGlobal }).mermaid;
      mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
      const { svg: markup } = await mermaid.render('lifeline-diagram', source);
      return markup;
    }, text);
    if (options.format === 'svg') return svg;
    // A screenshot needs the diagram at its natural size: Mermaid emits
    // width="100%" with a max-width, which would shrink it to the viewport.
    await page.evaluate((markup: string) => {
      const page = globalThis as unknown as { document: DiagramDocument };
      const host = page.document.getElementById('diagram');
      if (!host) return;
      host.innerHTML = markup;
      const element = host.querySelector('svg');
      const box = element?.viewBox.baseVal;
      if (element && box && box.width > 0) {
        element.setAttribute('width', String(Math.ceil(box.width)));
        element.setAttribute('height', String(Math.ceil(box.height)));
        element.style.maxWidth = 'none';
      }
    }, svg);
    return await page.locator('#diagram svg').screenshot({ type: 'png' });
  } finally {
    await browser.close();
  }
}

/** The little of the DOM the sizing step touches (the CLI compiles without DOM types). */
interface DiagramDocument {
  getElementById(id: string): {
    innerHTML: string;
    querySelector(selector: string): {
      viewBox: { baseVal: { width: number; height: number } | null };
      setAttribute(name: string, value: string): void;
      style: { maxWidth: string };
    } | null;
  } | null;
}

interface MermaidGlobal {
  initialize(config: Record<string, unknown>): void;
  render(id: string, text: string): Promise<{ svg: string }>;
}
