/**
 * The waterfall: every span as a bar on one time scale, indented under its
 * parent, so overlap (or its absence) is visible at a glance next to the
 * diagram's `par` blocks.
 */
import { h } from './dom.js';
import { formatDuration, nsToMs } from './format.js';
import type { SentSpanClass, Span } from './types.js';

/** More rows than this are cut: the diagram folds them too, and the DOM stays fast. */
const MAX_ROWS = 2000;

/** A rendered timeline. */
export interface Timeline {
  readonly element: HTMLElement;
  /** Marks the given spans (or none). */
  highlight(spanIds: readonly string[]): void;
}

/** Spans in tree order (each followed by its children, by start time), with their depth. */
export function treeOrder(spans: readonly Span[]): { span: Span; depth: number }[] {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const span of spans) {
    const parent = span.parentSpanId;
    if (parent !== undefined && parent !== '' && ids.has(parent) && parent !== span.spanId) {
      const list = children.get(parent) ?? [];
      list.push(span);
      children.set(parent, list);
    } else roots.push(span);
  }
  const byStart = (a: Span, b: Span): number => a.startTimeNs - b.startTimeNs;
  const out: { span: Span; depth: number }[] = [];
  const seen = new Set<string>();
  // An explicit stack, not recursion: a chain thousands of spans deep must not overflow the browser's stack.
  const stack: { span: Span; depth: number }[] = [];
  const walkFrom = (start: Span): void => {
    stack.push({ span: start, depth: 0 });
    while (stack.length > 0) {
      const entry = stack.pop() as { span: Span; depth: number };
      // Duplicate ids or cycles in a broken trace must not loop forever.
      if (seen.has(entry.span.spanId)) continue;
      seen.add(entry.span.spanId);
      out.push(entry);
      const kids = (children.get(entry.span.spanId) ?? []).sort(byStart);
      // Pushed last child first, so the first child is listed next, as a depth-first walk would.
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i] as Span, depth: entry.depth + 1 });
    }
  };
  for (const root of roots.sort(byStart)) walkFrom(root);
  // Spans only reachable through a cycle are still listed.
  for (const span of spans) if (!seen.has(span.spanId)) walkFrom(span);
  return out;
}

/** Builds the timeline; `onSelect` receives the span id of a clicked row. */
export function renderTimeline(
  spans: readonly Span[],
  classes: Readonly<Record<string, SentSpanClass>>,
  onSelect: (spanId: string) => void,
): Timeline {
  const ordered = treeOrder(spans);
  // Loops, not Math.min(...spans): a spread of 100,000 arguments overflows the stack.
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const span of spans) {
    start = Math.min(start, span.startTimeNs);
    end = Math.max(end, span.endTimeNs ?? span.startTimeNs);
  }
  const total = Math.max(end - start, 1);

  const axis = h(
    'div',
    { className: 'timeline-axis', attrs: { 'aria-hidden': 'true' } },
    h('span', { className: 'timeline-axis-label' }),
    h(
      'span',
      { className: 'timeline-axis-track' },
      ...[0, 0.25, 0.5, 0.75, 1].map((fraction) =>
        h(
          'span',
          { className: 'tick', style: { left: `${fraction * 100}%` } },
          formatDuration(nsToMs(total * fraction)),
        ),
      ),
    ),
  );

  const rows = new Map<string, HTMLElement>();
  const list = h('ol', { className: 'timeline-rows' });
  for (const { span, depth } of ordered.slice(0, MAX_ROWS)) {
    const cls = classes[span.spanId];
    const category = cls?.category ?? 'internal';
    const spanEnd = span.endTimeNs ?? end;
    const left = ((span.startTimeNs - start) / total) * 100;
    const width = Math.max(((spanEnd - span.startTimeNs) / total) * 100, 0.25);
    const duration =
      span.endTimeNs === undefined ? 'no end' : formatDuration(nsToMs(span.endTimeNs - span.startTimeNs));
    const label = cls?.label ?? span.name;
    const button = h(
      'button',
      {
        className: `timeline-row cat-${category}${span.status.code === 'error' ? ' is-error' : ''}`,
        attrs: { type: 'button', title: `${label} · ${span.serviceName} · ${duration}` },
        dataset: { spanId: span.spanId },
        on: { click: () => onSelect(span.spanId) },
      },
      h(
        'span',
        { className: 'timeline-label', style: { paddingLeft: `${Math.min(depth, 12) * 0.9 + 0.4}rem` } },
        h('span', { className: 'timeline-name' }, label),
        h('span', { className: 'timeline-service' }, span.serviceName),
      ),
      h(
        'span',
        { className: 'timeline-track' },
        h('span', {
          className: `timeline-bar${span.endTimeNs === undefined ? ' is-open' : ''}`,
          style: { left: `${left.toFixed(3)}%`, width: `${Math.min(width, 100 - left).toFixed(3)}%` },
        }),
        h(
          'span',
          { className: 'timeline-duration', style: { left: `${Math.min(left + width, 100).toFixed(3)}%` } },
          duration,
        ),
      ),
    );
    rows.set(span.spanId, button);
    list.append(h('li', null, button));
  }

  const element = h(
    'div',
    { className: 'timeline' },
    axis,
    list,
    ordered.length > MAX_ROWS
      ? h('p', { className: 'muted' }, `Showing the first ${MAX_ROWS} of ${ordered.length} spans.`)
      : null,
  );

  return {
    element,
    highlight(spanIds) {
      for (const row of rows.values()) row.classList.remove('is-selected');
      // No scrolling: a click in the diagram must not move the page under the reader.
      for (const id of spanIds) rows.get(id)?.classList.add('is-selected');
    },
  };
}
