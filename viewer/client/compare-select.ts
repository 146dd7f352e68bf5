/**
 * Picking two requests in the list to compare: a checkbox per row, and a
 * button that opens the compare page once two are picked (the earlier
 * request as "before"). Picking a third drops the first one picked.
 */
import { h } from './dom.js';
import { withSource } from './source.js';
import type { TraceSummary } from './types.js';

/** The list's selection of requests to compare. */
export interface CompareSelection {
  /** The button (a link) that opens the compare page. */
  readonly button: HTMLAnchorElement;
  /** The row's checkbox cell. */
  cell(item: TraceSummary): HTMLTableCellElement;
}

/** Creates an empty selection. */
export function compareSelection(): CompareSelection {
  const picked: { traceId: string; startTimeNs: number }[] = [];
  const boxes = new Map<string, HTMLInputElement>();
  const button = h(
    'a',
    {
      className: 'button compare-button',
      attrs: { id: 'compare-selected', 'aria-disabled': 'true', role: 'button' },
    },
    'Compare 2 selected',
  );
  const update = (): void => {
    for (const [traceId, box] of boxes) box.checked = picked.some((p) => p.traceId === traceId);
    if (picked.length === 2) {
      const [before, after] = [...picked].sort((a, b) => a.startTimeNs - b.startTimeNs) as [
        (typeof picked)[number],
        (typeof picked)[number],
      ];
      button.setAttribute('href', withSource(`/compare?before=${before.traceId}&after=${after.traceId}`));
      button.setAttribute('aria-disabled', 'false');
      button.textContent = 'Compare 2 selected';
    } else {
      button.removeAttribute('href');
      button.setAttribute('aria-disabled', 'true');
      button.textContent = picked.length === 1 ? 'Select one more to compare' : 'Compare 2 selected';
    }
  };
  update();
  return {
    button,
    cell(item) {
      const box = h('input', {
        className: 'compare-pick',
        attrs: { type: 'checkbox', 'aria-label': `Select ${item.route ?? item.rootName} for comparison` },
        on: {
          change: () => {
            const index = picked.findIndex((p) => p.traceId === item.traceId);
            if (index >= 0) picked.splice(index, 1);
            else {
              picked.push({ traceId: item.traceId, startTimeNs: item.startTimeNs });
              if (picked.length > 2) picked.shift();
            }
            update();
          },
          click: (event) => event.stopPropagation(),
          keydown: (event) => event.stopPropagation(),
        },
      });
      boxes.set(item.traceId, box);
      box.checked = picked.some((p) => p.traceId === item.traceId);
      return h('td', { className: 'col-pick' }, box);
    },
  };
}
