/**
 * Exports of the trace page: Mermaid text, Markdown for a pull request or a
 * wiki, SVG and PNG pictures, and the permalink. The Markdown is the core's
 * `markdownExport`, the same bytes `lifeline export --format md` writes.
 */

import { markdownExport } from '@lifeline/core';
import { displayName, formatDuration, nsToMs } from './format.js';
import type { TraceResponse, TraceSummary } from './types.js';

/**
 * One-line description used under exported diagrams. `calls` is the number of
 * outgoing calls (client and producer spans); without it the summary's
 * counts are used, less the request itself.
 */
export function summaryLine(summary: TraceSummary, options: { calls?: number } = {}): string {
  const request =
    summary.method !== undefined && summary.route !== undefined
      ? `${summary.method} ${summary.route}`
      : summary.method !== undefined
        ? `${summary.method} ${withoutMethod(summary.rootName, summary.method)}`
        : summary.rootName;
  const calls = options.calls ?? outgoingCalls(summary);
  // One line of sensible width whatever the route or span name holds.
  const parts = [displayName(request, MAX_SUMMARY_NAME)];
  if (summary.statusCode !== undefined) parts.push(String(summary.statusCode));
  parts.push(formatDuration(nsToMs(summary.durationNs)));
  parts.push(`${calls} ${calls === 1 ? 'call' : 'calls'}${summary.parGroups > 0 ? ` (${summary.parGroups} par)` : ''}`);
  // Backticks or pipes in a route would change the meaning of the Markdown line.
  return `${parts.join(' · ').replace(/[`|<>]/g, '')} — recorded by Lifeline`;
}

/** Longest request name the one-line summary shows. */
const MAX_SUMMARY_NAME = 120;

/** A root span name without the method it starts with (`GET /a` → `/a`); a plain prefix test, as a method may hold any text. */
function withoutMethod(name: string, method: string): string {
  return name.startsWith(method) && /^\s/.test(name.slice(method.length))
    ? name.slice(method.length).trimStart()
    : name;
}

/**
 * Calls estimated from a summary, whose HTTP count includes incoming requests:
 * the root request itself is not a call it made.
 */
export function outgoingCalls(summary: TraceSummary): number {
  const rootIsHttp = summary.method !== undefined ? 1 : 0;
  return (
    summary.counts.db + Math.max(0, summary.counts.http - rootIsHttp) + summary.counts.cache + summary.counts.queue
  );
}

/**
 * The Markdown export of the trace as the page drew it: `timings` is the
 * option the Mermaid text was drawn with.
 */
export function toMarkdown(data: TraceResponse, timings: boolean): string {
  return markdownExport({
    traceId: data.traceId,
    summary: data.summary,
    analysis: data.analysis,
    mermaid: data.sequence.mermaid,
    folded: data.sequence.folded,
    timings,
  });
}

/** A file name stem such as `lifeline-get-articles-id-4bf92f35`. */
export function fileStem(summary: TraceSummary): string {
  const words = `${summary.method ?? ''} ${summary.route ?? summary.rootName}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `lifeline-${words || 'trace'}-${summary.traceId.slice(0, 8)}`;
}

/** Writes text to the clipboard, falling back to a hidden textarea where the API is unavailable. */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText !== undefined) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Permission refused (e.g. an unfocused document): try the older way.
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('the browser refused to copy');
}

/** Offers `blob` as a download named `name`. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Serialises the rendered diagram as a standalone SVG file. */
export function svgText(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  // On screen the diagram may be scaled to its card; a file gets its natural size.
  const box = svg.viewBox.baseVal;
  if (box !== null && box.width > 0 && box.height > 0) {
    copy.setAttribute('width', String(Math.ceil(box.width)));
    copy.setAttribute('height', String(Math.ceil(box.height)));
    copy.style.removeProperty('max-width');
  }
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('xmlns:xlink', 'http://www.w3.org/1999/xlink');
  for (const node of copy.querySelectorAll('[tabindex], [data-arrow]')) {
    node.removeAttribute('tabindex');
    node.removeAttribute('role');
    node.removeAttribute('data-arrow');
    node.classList.remove('is-selected');
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}`;
}

/** Paints the SVG onto a canvas at `scale` and returns a PNG. */
export async function svgToPng(svg: SVGSVGElement, options: { scale: number; background: string }): Promise<Blob> {
  const box = svg.viewBox.baseVal;
  const width = Math.ceil(box && box.width > 0 ? box.width : svg.getBoundingClientRect().width);
  const height = Math.ceil(box && box.height > 0 ? box.height : svg.getBoundingClientRect().height);
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.setAttribute('width', String(width));
  copy.setAttribute('height', String(height));
  copy.style.maxWidth = 'none';
  const url = URL.createObjectURL(new Blob([svgText(copy)], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.decoding = 'async';
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(width * options.scale);
    canvas.height = Math.ceil(height * options.scale);
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('canvas 2D is not available');
    context.fillStyle = options.background;
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.scale(options.scale, options.scale);
    context.drawImage(image, 0, 0, width, height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((blob) => (blob === null ? reject(new Error('PNG encoding failed')) : resolve(blob)), 'image/png'),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}
