/**
 * The new flow of a change as a Mermaid diagram: the `after` request drawn
 * as always (timing-free by default), its added and changed calls wrapped in
 * coloured `rect` blocks with a legend, each change said in a note beside
 * the call, and the calls that are gone listed in a closing note. `rect` and
 * notes parse on Mermaid 10.9 and every later release.
 */
import type { FlowChange, FlowDiff } from './diff.js';
import { renderMermaid, type TraceToMermaidOptions, traceToMermaid } from './mermaid.js';
import type { Note, SequenceItem, SequenceModel } from './sequence.js';
import type { Trace } from './trace.js';

/** Background colours of the highlights, light enough for the arrows to stay readable in both themes. */
export const DIFF_COLORS = {
  added: 'rgb(214, 245, 214)',
  changed: 'rgb(255, 236, 179)',
} as const;

/** Options of {@link diffToMermaid}. */
export interface DiffMermaidOptions extends TraceToMermaidOptions {}

/** The highlighted diagram, with the model it was printed from. */
export interface DiffDiagram {
  readonly text: string;
  readonly model: SequenceModel;
}

/**
 * Draws the `after` request of a diff with its changes highlighted.
 *
 * @example
 * ```ts
 * const diff = diffTraces(before, after);
 * const { text } = diffToMermaid(after, diff);
 * // … rect rgb(255, 236, 179) / loop … / Note over p2,p3: was loop 6× / end …
 * ```
 */
export function diffToMermaid(after: Trace, diff: FlowDiff, options: DiffMermaidOptions = {}): DiffDiagram {
  const { model } = traceToMermaid(after, { timings: false, ...options });
  // Block boundaries travel through the renderer as notes with a token no
  // span text can guess, then become `rect` and `end` lines in place, with the
  // renderer's own indentation.
  const token = `lifeline-${Math.random().toString(36).slice(2, 10)}`;
  const first = model.participants[0]?.id;
  const last = model.participants[model.participants.length - 1]?.id;
  if (first === undefined || last === undefined) return { text: renderMermaid(model, options), model };
  const span: readonly string[] = first === last ? [first] : [first, last];
  const marker = (what: string): Note => ({
    type: 'note',
    over: [first],
    text: `${token}-${what}`,
    reason: 'folded',
    level: 0,
  });
  const note = (over: readonly string[], text: string): Note => ({
    type: 'note',
    over,
    text,
    reason: 'folded',
    level: 0,
  });

  const afterChanges = new Map<string, FlowChange[]>();
  for (const change of diff.changes) {
    if (change.after === undefined || change.kind === 'added' || change.kind === 'endpoint') continue;
    const list = afterChanges.get(change.after.spanId);
    if (list) list.push(change);
    else afterChanges.set(change.after.spanId, [change]);
  }
  const present = new Set(Object.values(diff.highlights));

  const wrap = (items: readonly SequenceItem[]): SequenceItem[] => {
    const out: SequenceItem[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as SequenceItem;
      if (item.type === 'loop') {
        const status = statusOf(item.spanIds, diff);
        if (status === undefined) out.push({ ...item, items: wrap(item.items) });
        else out.push(marker(status), item, ...changeNotes(item.spanIds[0], item), marker('end'));
        continue;
      }
      if (item.type === 'par') {
        const statuses = new Set(item.spanIds.map((id) => diff.highlights[id]));
        const whole = statuses.size === 1 ? [...statuses][0] : undefined;
        if (whole !== undefined) {
          const said = new Set<string>();
          for (const id of item.spanIds) for (const change of afterChanges.get(id) ?? []) said.add(shortChange(change));
          out.push(marker(whole), item, ...[...said].map((text) => note(span, text)), marker('end'));
        } else {
          out.push({ ...item, branches: item.branches.map((branch) => wrap(branch)) });
        }
        continue;
      }
      if (item.type !== 'message' || item.kind === 'response' || item.kind === 'error') {
        out.push(item);
        continue;
      }
      const status = diff.highlights[item.spanId];
      if (status === undefined) {
        out.push(item);
        continue;
      }
      // The call runs from its request to its reply, when the reply is drawn in the same list.
      let end = i;
      for (let k = i + 1; k < items.length; k++) {
        const next = items[k] as SequenceItem;
        if (
          next.type === 'message' &&
          next.spanId === item.spanId &&
          (next.kind === 'response' || next.kind === 'error')
        ) {
          end = k;
          break;
        }
      }
      const inner = items.slice(i + 1, end + 1);
      out.push(
        marker(status),
        item,
        ...(status === 'added' ? inner : wrap(inner)),
        ...changeNotes(item.spanId, item),
        marker('end'),
      );
      i = end;
    }
    return out;
  };

  function changeNotes(spanId: string | undefined, item: SequenceItem): Note[] {
    if (spanId === undefined) return [];
    const changes = afterChanges.get(spanId) ?? [];
    const over = item.type === 'message' ? [item.from, item.to].filter((id, n, all) => all.indexOf(id) === n) : span;
    return changes.map((change) => note(over, shortChange(change)));
  }

  // A note covers its rect's colour: the legend says the colour in words.
  const legend: SequenceItem[] = [];
  if (present.has('added'))
    legend.push(marker('added'), note(span, 'green blocks: added by this change'), marker('end'));
  if (present.has('changed'))
    legend.push(marker('changed'), note(span, 'yellow blocks: changed by this change'), marker('end'));
  const removed = diff.changes.filter((change) => change.kind === 'removed');
  const tail: SequenceItem[] =
    removed.length > 0
      ? [note(span, `removed by this change: ${removed.map((change) => removedLabel(change)).join(', ')}`)]
      : [];
  const highlighted: SequenceModel = { ...model, items: [...legend, ...wrap(model.items), ...tail] };
  const rendered = renderMermaid(highlighted, options);
  const lines = rendered.split('\n').map((line) => {
    const match = /^(\s*)Note over [^:]+: (\S+)$/.exec(line);
    if (match === null || !match[2]?.startsWith(`${token}-`)) return line;
    const what = match[2].slice(token.length + 1);
    const pad = match[1] ?? '';
    if (what === 'end') return `${pad}end`;
    return `${pad}rect ${DIFF_COLORS[what as keyof typeof DIFF_COLORS]}`;
  });
  return { text: lines.join('\n'), model: highlighted };
}

function statusOf(spanIds: readonly string[], diff: FlowDiff): 'added' | 'changed' | undefined {
  for (const id of spanIds) {
    const status = diff.highlights[id];
    if (status !== undefined) return status;
  }
  return undefined;
}

function removedLabel(change: FlowChange): string {
  const call = change.before;
  if (call === undefined) return '';
  return `${call.count >= 3 ? `${call.count}× ` : ''}${call.label} (${call.to})`;
}

/** The change as said beside the call in the diagram. */
function shortChange(change: FlowChange): string {
  const { before, after } = change;
  switch (change.kind) {
    case 'loop':
      return `was ${before?.count ?? 0}×, now ${after?.count ?? 0}×`;
    case 'overlap-gained':
      return 'now concurrent (was serial)';
    case 'overlap-lost':
      return 'now serial (was concurrent)';
    case 'now-dependent':
      return 'now serial: uses an earlier answer (was concurrent)';
    case 'new-error':
      return `new error: ${after?.error ?? 'error'}`;
    case 'fixed-error':
      return `error fixed (was: ${before?.error ?? 'error'})`;
    case 'moved':
      return change.text.slice(`${after?.label} (${after?.to}) `.length);
    case 'status':
      return `status ${before?.statusCode ?? '?'} → ${after?.statusCode ?? '?'}`;
    default:
      return change.text;
  }
}
