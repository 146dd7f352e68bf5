/**
 * The typical flow of an endpoint: its requests grouped into shapes (their
 * timing-free diagrams), and the shapes merged into one diagram where what
 * they share is drawn once and where they differ is an `alt` or `opt` block
 * labelled with the variant and its share.
 *
 * The merge rule (also in the README):
 * 1. Each shape's diagram is read as a sequence of units: a call (request
 *    arrow, the calls nested in it, its reply) or a single item (a note, an
 *    async arrow, a whole `par` or `loop` block).
 * 2. Shapes are taken in order of share (most requests first, ties by their
 *    text). The units all shapes have in common, in order, are a longest
 *    subsequence common to all of them, found by aligning all shapes at
 *    once (align.ts), so with three or more shapes a call every shape makes
 *    is drawn once even where two shapes order their other calls
 *    differently; calls match on their request arrow alone, so calls that
 *    all shapes make are drawn once and their nested calls and replies are
 *    merged by the same rule, one level down.
 * 3. Between two common units, each shape has a (possibly empty) stretch of
 *    its own. Shapes with the same stretch form one variant. One variant
 *    with calls beside shapes with none is an `opt`; anything else is an
 *    `alt` with one branch per variant, most requests first. Each label
 *    names the variant and its share of the endpoint's requests.
 * 4. A variant is named by what sets it apart: a failing call (`SELECT
 *    articles fails`), the reply of the request (`replies 400`), a cache read
 *    followed by nothing else (`cache hit`) or by further calls (`cache
 *    miss`), otherwise the first call it makes that the others do not
 *    (`calls SELECT users`), or `no further calls`.
 *
 * Same requests in, same text out: nothing depends on the order requests
 * are given in except example ids, which are taken in that order.
 */
import { commonSubsequence } from './align.js';
import { formatDuration } from './format.js';
import { layoutTrace, type TraceLayout } from './layout.js';
import { DEFAULT_MAX_TEXT_LENGTH, escapeMermaidText, renderMermaid } from './mermaid.js';
import type { LoopBlock, Message, Note, Participant, SequenceItem, SequenceModel } from './sequence.js';
import { fitDiagram } from './size-guard.js';
import type { Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/** One shape of an endpoint: the requests whose timing-free diagrams are the same text. */
export interface FlowShape {
  /** The timing-free Mermaid text all its requests share. */
  readonly text: string;
  readonly requests: number;
  /** Share (0..1) of the endpoint's requests. */
  readonly share: number;
  /** Up to three trace ids of requests with this shape, in the order the traces were given. */
  readonly exampleTraceIds: readonly string[];
  /** The name of the variant this shape takes in the merged flow, where it differs from the others. */
  readonly label: string;
}

/** An endpoint's typical flow: its shapes and their merged diagram. */
export interface EndpointFlow {
  readonly requests: number;
  /** Most requests first, ties by text. */
  readonly shapes: readonly FlowShape[];
  /** The merged diagram: portable Mermaid (parses on 10.9 and later). */
  readonly text: string;
  /** Number of `alt` and `opt` blocks in the merged diagram. */
  readonly variantBlocks: number;
  /**
   * True when the merged diagram was longer than `maxTextLength` and was
   * folded (each shape drawn within a smaller budget); a note at its top says so.
   */
  readonly folded: boolean;
}

/** Options of {@link endpointFlow}. */
export interface EndpointFlowOptions {
  /** Show per-call median durations on the replies. Default false: byte-stable text for docs. */
  readonly timings?: boolean;
  /**
   * Upper bound for the merged text's length (default 50,000 characters,
   * Mermaid's `maxTextSize`, at least 1,000). A longer flow is folded as a
   * single request's diagram is, and says so in a note at its top.
   */
  readonly maxTextLength?: number;
}

/** A unit of a shape's sequence: a call with what it nests, or one item. */
type Unit = CallUnit | ItemUnit;

interface CallUnit {
  readonly type: 'call';
  /** Matching key: the request arrow with participant keys. */
  readonly key: string;
  /** Key of the whole call, nested calls and reply included. */
  readonly full: string;
  readonly request: Message;
  /** Nested units, the reply last. */
  readonly body: readonly Unit[];
}

interface ItemUnit {
  readonly type: 'item';
  readonly key: string;
  readonly full: string;
  readonly item: SequenceItem;
  /** Position of the reply among its shape's replies (for timings), when the item is a reply. */
  readonly slot?: number;
  /**
   * Positions of the replies inside a `par` or `loop` block (for timings), in
   * the order {@link forEachReply} visits them: a block is one unit of the
   * merge, yet each of its replies gets its own median.
   */
  readonly nestedSlots?: readonly number[];
}

/** A shape while merging: its participants' keys and the durations of its replies per request. */
interface ShapeState {
  readonly index: number;
  readonly text: string;
  readonly requests: number;
  readonly exampleTraceIds: string[];
  readonly units: readonly Unit[];
  /** Participant id in the shape's model → participant key. */
  readonly keyOf: ReadonlyMap<string, string>;
  readonly kindOf: ReadonlyMap<string, Participant['kind']>;
  /** Reply slot → durations (ns) over the shape's requests (every repetition, for a reply folded into a loop). */
  readonly durations: number[][];
  label: string;
}

/** A stretch of one shape's units while merging one level. */
interface Lane {
  readonly shape: ShapeState;
  readonly units: readonly Unit[];
}

const ARROWS = { request: '->>', self: '->>', response: '-->>', error: '--x', async: '-)' } as const;
const CACHE_READ = /^(GET|MGET|GETEX|HGET|HGETALL|HMGET|EXISTS|SMEMBERS|SISMEMBER|ZRANGE|ZSCORE|LRANGE|JSON\.GET)\b/i;
const MAX_EXAMPLES = 3;

/**
 * Groups the requests of one endpoint into shapes and merges them into one
 * diagram (see the module comment for the rule).
 *
 * @throws {RangeError} when `traces` is empty: an endpoint has at least one request.
 * @example
 * ```ts
 * const flow = endpointFlow(traces);
 * flow.shapes.map((s) => `${s.label} · ${Math.round(s.share * 100)} %`); // ['cache hit · 80 %', 'cache miss · 20 %']
 * flow.text; // 'sequenceDiagram\nautonumber\n…alt cache hit · 80 %\n…'
 * ```
 */
export function endpointFlow(traces: readonly Trace[], options: EndpointFlowOptions = {}): EndpointFlow {
  if (traces.length === 0) throw new RangeError('an endpoint flow needs at least one request');
  const max = Math.max(MIN_FLOW_TEXT, options.maxTextLength ?? DEFAULT_MAX_TEXT_LENGTH);
  const timings = options.timings === true;
  // Each request's layout is made once: a flow too long is merged again from
  // the same layouts, each shape drawn within a smaller budget.
  const layouts = traces.map((trace) => layoutTrace(buildSpanTree(trace), {}));
  const byText = new Map<string, { traces: number[]; models: SequenceModel[] }>();
  traces.forEach((_, t) => {
    const { text, model } = fitDiagram(
      layouts[t] as TraceLayout,
      { timings: false, branchOrder: 'drawn' },
      DEFAULT_MAX_TEXT_LENGTH,
    );
    const entry = byText.get(text);
    if (entry) {
      entry.traces.push(t);
      entry.models.push(model);
    } else byText.set(text, { traces: [t], models: [model] });
  });
  const ordered = [...byText.entries()].sort(
    (a, b) => b[1].traces.length - a[1].traces.length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  );
  const groups: ShapeGroup[] = ordered.map(([text, entry]) => ({
    text,
    traces: entry.traces.map((t) => traces[t] as Trace),
    layouts: entry.traces.map((t) => layouts[t] as TraceLayout),
    models: entry.models,
  }));
  const whole = mergeGroups(groups, traces.length, timings, DEFAULT_MAX_TEXT_LENGTH);
  if (whole.text.length <= max) return whole;
  return fitFlow(groups, traces.length, timings, max);
}

/** The smallest `maxTextLength` a merged flow is fitted to. */
const MIN_FLOW_TEXT = 1000;
/** The smallest budget a shape is drawn within while a merged flow is fitted. */
const MIN_SHAPE_BUDGET = 400;

/** One shape's requests: its text (drawn within the default limit) and its requests with their layouts. */
interface ShapeGroup {
  readonly text: string;
  readonly traces: readonly Trace[];
  readonly layouts: readonly TraceLayout[];
  /** Each request's model within the default limit (the one the shape's text was printed from). */
  readonly models: readonly SequenceModel[];
}

/**
 * A merged flow longer than `max`, folded as a single request's diagram is:
 * each shape is drawn by the size guard within a smaller budget (the largest
 * for which the merged text fits), so the deepest and largest groups of
 * every shape fold first and the shared calls stay drawn once. A note at the
 * top says so. When even the smallest budget is too long (very many
 * shapes), the least common shapes are left out and the note counts them.
 */
function fitFlow(groups: readonly ShapeGroup[], total: number, timings: boolean, max: number): EndpointFlow {
  const note = (budget: number, drawn: number): string => {
    const left = groups.length - drawn;
    const rest = left > 0 ? `; ${left} less common ${left === 1 ? 'shape' : 'shapes'} not drawn` : '';
    return `flow folded to stay under ${max} characters: each shape drawn within ${budget}${rest}`;
  };
  const attempt = (budget: number, drawn: number): EndpointFlow | undefined => {
    const flow = mergeGroups(groups.slice(0, drawn), total, timings, budget, note(budget, drawn));
    return flow.text.length <= max ? flow : undefined;
  };
  let best: { flow: EndpointFlow; drawn: number } | undefined;
  let lo = MIN_SHAPE_BUDGET;
  let hi = max;
  // The largest budget that fits; budgets closer than a hundredth of the limit change little.
  while (hi - lo >= max / 100) {
    const budget = Math.floor((lo + hi) / 2);
    const flow = attempt(budget, groups.length);
    if (flow !== undefined) {
      best = { flow, drawn: groups.length };
      lo = budget + 1;
    } else hi = budget - 1;
  }
  if (best === undefined) {
    const flow = attempt(MIN_SHAPE_BUDGET, groups.length);
    if (flow !== undefined) best = { flow, drawn: groups.length };
  }
  if (best === undefined) {
    // Too many shapes for the limit: the most common ones, as many as fit at the smallest budget.
    let keepLo = 1;
    let keepHi = groups.length - 1;
    while (keepLo <= keepHi) {
      const keep = (keepLo + keepHi) >> 1;
      const flow = attempt(MIN_SHAPE_BUDGET, keep);
      if (flow !== undefined) {
        best = { flow, drawn: keep };
        keepLo = keep + 1;
      } else keepHi = keep - 1;
    }
  }
  best ??= {
    flow: mergeGroups(groups.slice(0, 1), total, timings, MIN_SHAPE_BUDGET, note(MIN_SHAPE_BUDGET, 1)),
    drawn: 1,
  };
  const { flow, drawn } = best;
  const shapes = [
    ...flow.shapes,
    ...groups.slice(drawn).map((group) => ({
      text: group.text,
      requests: group.traces.length,
      share: group.traces.length / total,
      exampleTraceIds: group.traces.slice(0, MAX_EXAMPLES).map((t) => t.traceId),
      label: 'not drawn',
    })),
  ];
  return { ...flow, shapes, folded: true };
}

/** Merges the shapes into one flow, each shape drawn by the size guard within `budget` characters. */
function mergeGroups(
  groups: readonly ShapeGroup[],
  total: number,
  timings: boolean,
  budget: number,
  foldNote?: string,
): EndpointFlow {
  const drawn = groups.map((group) => {
    const models =
      budget === DEFAULT_MAX_TEXT_LENGTH
        ? group.models
        : (timings ? group.layouts : group.layouts.slice(0, 1)).map(
            (layout) => fitDiagram(layout, { timings: false, branchOrder: 'drawn' }, budget).model,
          );
    return { group, model: models[0] as SequenceModel, models };
  });
  const shapes: ShapeState[] = drawn.map(({ group, model, models }, index) => {
    const keyOf = new Map(model.participants.map((p) => [p.id, p.key]));
    const kindOf = new Map(model.participants.map((p) => [p.key, p.kind]));
    const slots = { next: 0 };
    const units = toUnits(model.items, keyOf, slots);
    const durations: number[][] = Array.from({ length: slots.next }, () => []);
    models.forEach((m, t) => {
      const replies = replyDurations(m, group.traces[t] as Trace);
      replies.forEach((ns, slot) => {
        durations[slot]?.push(...ns);
      });
    });
    return {
      index,
      text: group.text,
      requests: group.traces.length,
      exampleTraceIds: group.traces.slice(0, MAX_EXAMPLES).map((t) => t.traceId),
      units,
      keyOf,
      kindOf,
      durations,
      label: '',
    };
  });

  // Participants of the merged diagram: in order of first appearance over the shapes, most requests first.
  const participants: { id: string; participant: Participant }[] = [];
  const idOf = new Map<string, string>();
  for (const { model } of drawn) {
    for (const p of model.participants) {
      if (idOf.has(p.key)) continue;
      const id = `p${participants.length + 1}`;
      idOf.set(p.key, id);
      participants.push({ id, participant: { ...p, id } });
    }
  }
  const merger = new Merger(idOf, total, timings);
  const body: string[] = [];
  merger.merge(
    shapes.map((shape) => ({ shape, units: shape.units })),
    0,
    body,
  );
  // The header is the renderer's own, so participants print exactly as in a single request's diagram.
  const first = participants[0]?.id;
  const last = participants[participants.length - 1]?.id;
  // A folded flow says so at its top, over the whole diagram, as a folded request's diagram does.
  const note: Note | undefined =
    foldNote === undefined || first === undefined || last === undefined
      ? undefined
      : { type: 'note', over: first === last ? [first] : [first, last], text: foldNote, reason: 'folded', level: 0 };
  const header = renderMermaid({
    participants: participants.map((p) => p.participant),
    items: note === undefined ? [] : [note],
    arrows: [],
    messageCount: 0,
    notes: [],
    repeats: [],
    parGroups: 0,
    timings: false,
  }).trimEnd();
  return {
    requests: total,
    shapes: shapes.map((shape) => ({
      text: shape.text,
      requests: shape.requests,
      share: shape.requests / total,
      exampleTraceIds: shape.exampleTraceIds,
      label: shape.label || (shapes.length === 1 ? 'every request' : 'the common flow'),
    })),
    text: `${header}\n${body.join('\n')}${body.length > 0 ? '\n' : ''}`,
    variantBlocks: merger.blocks,
    folded: false,
  };
}

/** Reads a model's items as units; replies get slots in text order. */
function toUnits(items: readonly SequenceItem[], keyOf: ReadonlyMap<string, string>, slots: { next: number }): Unit[] {
  const units: Unit[] = [];
  let i = 0;
  while (i < items.length) {
    const item = items[i] as SequenceItem;
    if (item.type === 'message' && item.kind === 'request' && item.from !== item.to) {
      const close = items.findIndex(
        (other, j) =>
          j > i &&
          other.type === 'message' &&
          other.level === item.level &&
          (other.kind === 'response' || other.kind === 'error') &&
          other.from === item.to &&
          other.to === item.from,
      );
      if (close > i) {
        const body = toUnits(items.slice(i + 1, close + 1), keyOf, slots);
        const key = messageKey(item, keyOf);
        units.push({ type: 'call', key, full: `${key}{${body.map((u) => u.full).join('\n')}}`, request: item, body });
        i = close + 1;
        continue;
      }
    }
    const key = itemKey(item, keyOf);
    if (isReply(item)) units.push({ type: 'item', key, full: key, item, slot: slots.next++ });
    else if (item.type === 'par' || item.type === 'loop') {
      const nestedSlots: number[] = [];
      forEachReply([item], () => {
        nestedSlots.push(slots.next++);
      });
      units.push({ type: 'item', key, full: key, item, nestedSlots });
    } else units.push({ type: 'item', key, full: key, item });
    i++;
  }
  return units;
}

/** Durations (ns) of the spans behind a model's replies, one list per reply in text order (see {@link toUnits}). */
function replyDurations(model: SequenceModel, trace: Trace): number[][] {
  const spans = new Map(trace.spans.map((s) => [s.spanId, s]));
  const duration = (spanId: string): number | undefined => {
    const span = spans.get(spanId);
    return span?.endTimeNs !== undefined && span.endTimeNs >= span.startTimeNs
      ? Number(span.endTimeNs - span.startTimeNs)
      : undefined;
  };
  const out: number[][] = [];
  forEachReply(model.items, (reply, loop) => {
    // The reply of a call folded into a loop stands for every repetition: its median is over all of them.
    const ids = loop !== undefined && loop.spanIds[0] === reply.spanId ? loop.spanIds : [reply.spanId];
    out.push(ids.map(duration).filter((ns): ns is number => ns !== undefined));
  });
  return out;
}

function isReply(item: SequenceItem): item is Message {
  return item.type === 'message' && (item.kind === 'response' || item.kind === 'error');
}

/**
 * Visits the replies among `items` depth first, into `par` branches and
 * `loop` bodies, in text order; `loop` is the innermost loop around the reply.
 */
function forEachReply(
  items: readonly SequenceItem[],
  visit: (reply: Message, loop: LoopBlock | undefined) => void,
  loop?: LoopBlock,
): void {
  for (const item of items) {
    if (isReply(item)) visit(item, loop);
    else if (item.type === 'par') for (const branch of item.branches) forEachReply(branch, visit, loop);
    else if (item.type === 'loop') forEachReply(item.items, visit, item);
  }
}

/** `item` with the replies inside it renamed by `text` (called in {@link forEachReply} order). */
function mapReplies(item: SequenceItem, text: (reply: Message) => string): SequenceItem {
  if (isReply(item)) return { ...item, text: text(item) };
  if (item.type === 'par') return { ...item, branches: item.branches.map((b) => b.map((i) => mapReplies(i, text))) };
  if (item.type === 'loop') return { ...item, items: item.items.map((i) => mapReplies(i, text)) };
  return item;
}

function messageKey(message: Message, keyOf: ReadonlyMap<string, string>): string {
  return `${keyOf.get(message.from)}${ARROWS[message.kind]}${keyOf.get(message.to)}: ${message.text}`;
}

/** An item without its span ids and numbers, participants by key: what makes two items the same. */
function itemKey(item: SequenceItem, keyOf: ReadonlyMap<string, string>): string {
  return JSON.stringify(mapIds(item, (id) => keyOf.get(id) ?? id, true));
}

/** The item with participant ids mapped; `strip` drops span ids and numbers. */
function mapIds(item: SequenceItem, map: (id: string) => string, strip: boolean): SequenceItem {
  switch (item.type) {
    case 'message':
      return {
        ...item,
        from: map(item.from),
        to: map(item.to),
        ...(strip ? { spanId: '', number: 0 } : {}),
      };
    case 'note':
      return { ...item, over: item.over.map(map), ...(strip ? { spanId: undefined } : {}) };
    case 'loop':
      return {
        ...item,
        items: item.items.map((i) => mapIds(i, map, strip)),
        ...(strip ? { spanIds: [], totalMs: 0, p50Ms: 0 } : {}),
      };
    case 'par':
      return {
        ...item,
        branches: item.branches.map((branch) => branch.map((i) => mapIds(i, map, strip))),
        ...(strip ? { spanIds: [] } : {}),
      };
  }
}

/**
 * The units every lane has, in order, by key: one alignment of all lanes at
 * once (see align.ts), so that what all shapes share is drawn once whatever
 * order the shapes come in.
 */
function commonKeys(lanes: readonly Lane[], keyOf: (unit: Unit) => string): string[] {
  return commonSubsequence(lanes.map((lane) => lane.units.map(keyOf)));
}

class Merger {
  blocks = 0;
  readonly #idOf: ReadonlyMap<string, string>;
  readonly #total: number;
  readonly #timings: boolean;

  constructor(idOf: ReadonlyMap<string, string>, total: number, timings: boolean) {
    this.#idOf = idOf;
    this.#total = total;
    this.#timings = timings;
  }

  /**
   * Merges the lanes (one per shape, all shapes present) into lines at
   * `depth`. The request's own call matches on its request arrow, so its
   * nested calls are merged; nested calls match only when they are the same
   * whole (their own nested calls and reply included), so a variant shows a
   * call that went differently as one piece, not as a cascade of blocks.
   */
  merge(lanes: readonly Lane[], depth: number, out: string[], enclosing?: Message): void {
    const keyOf = enclosing === undefined ? (unit: Unit) => unit.key : (unit: Unit) => unit.full;
    const common = commonKeys(lanes, keyOf);
    const cursors = lanes.map(() => 0);
    for (let c = 0; c <= common.length; c++) {
      const anchor = common[c];
      const before = c > 0 ? anchorUnit(lanes, cursors, -1) : undefined;
      // Each lane's stretch up to its next unit with the anchor's key (greedy: the common keys are a subsequence of each lane).
      const stretches = lanes.map((lane, l) => {
        const from = cursors[l] as number;
        let to = from;
        if (anchor === undefined) to = lane.units.length;
        else while (to < lane.units.length && keyOf(lane.units[to] as Unit) !== anchor) to++;
        cursors[l] = to;
        return lane.units.slice(from, to);
      });
      this.#gap(lanes, stretches, before, depth, out, enclosing);
      if (anchor === undefined) break;
      const matched = lanes.map((lane, l) => ({ shape: lane.shape, unit: lane.units[cursors[l] as number] as Unit }));
      for (let l = 0; l < lanes.length; l++) cursors[l] = (cursors[l] as number) + 1;
      const first = (matched[0] as { unit: Unit }).unit;
      if (first.type === 'call') {
        out.push(`${pad(depth)}${this.#message(first.request, (matched[0] as { shape: ShapeState }).shape)}`);
        this.merge(
          matched.map((m) => ({ shape: m.shape, units: (m.unit as CallUnit).body })),
          depth,
          out,
          first.request,
        );
      } else {
        this.#emitItem(matched, depth, out);
      }
    }
  }

  /** The stretches between two common units: nothing, the same calls, an `opt` or an `alt`. */
  #gap(
    lanes: readonly Lane[],
    stretches: readonly (readonly Unit[])[],
    before: Unit | undefined,
    depth: number,
    out: string[],
    enclosing: Message | undefined,
  ): void {
    const variants = new Map<string, { units: readonly Unit[]; shapes: ShapeState[]; requests: number }>();
    stretches.forEach((units, l) => {
      const shape = (lanes[l] as Lane).shape;
      const key = units.map((u) => u.full).join('\n');
      const variant = variants.get(key);
      if (variant) {
        variant.shapes.push(shape);
        variant.requests += shape.requests;
      } else variants.set(key, { units, shapes: [shape], requests: shape.requests });
    });
    const list = [...variants.values()].sort(
      (a, b) => b.requests - a.requests || (a.shapes[0] as ShapeState).index - (b.shapes[0] as ShapeState).index,
    );
    if (list.length === 1) {
      const only = list[0] as (typeof list)[number];
      for (const unit of only.units) this.#emitUnit(unit, only.shapes[0] as ShapeState, depth, out);
      return;
    }
    const labels = list.map((variant) => this.#label(variant.units, list, before, enclosing));
    list.forEach((variant, v) => {
      for (const shape of variant.shapes) {
        const label = labels[v] as string;
        if (shape.label === '') shape.label = label;
        else if (!shape.label.split(', ').includes(label)) shape.label = `${shape.label}, ${label}`;
      }
    });
    const empty = list.findIndex((variant) => variant.units.length === 0);
    this.blocks++;
    const share = (requests: number) => `${Math.round((requests / this.#total) * 100)} %`;
    if (list.length === 2 && empty >= 0 && labels[empty] === NO_CALLS) {
      const variant = list[1 - empty] as (typeof list)[number];
      out.push(`${pad(depth)}opt ${escapeMermaidText(`${labels[1 - empty]} · ${share(variant.requests)}`)}`);
      for (const unit of variant.units) this.#emitUnit(unit, variant.shapes[0] as ShapeState, depth + 1, out);
      out.push(`${pad(depth)}end`);
      return;
    }
    list.forEach((variant, v) => {
      const label = escapeMermaidText(`${labels[v]} · ${share(variant.requests)}`);
      out.push(`${pad(depth)}${v === 0 ? 'alt' : 'else'} ${label}`);
      for (const unit of variant.units) this.#emitUnit(unit, variant.shapes[0] as ShapeState, depth + 1, out);
    });
    out.push(`${pad(depth)}end`);
  }

  /** What sets a variant apart from the others of its gap (see the module comment, rule 4). */
  #label(
    units: readonly Unit[],
    all: readonly { units: readonly Unit[]; shapes: ShapeState[] }[],
    before: Unit | undefined,
    enclosing: Message | undefined,
  ): string {
    const failing = findUnit(units, (u) => u.type === 'item' && u.item.type === 'message' && u.item.kind === 'error');
    if (failing !== undefined) return `${(failing.request ?? enclosing)?.text ?? 'a call'} fails`;
    const shape = (all.find((v) => v.units === units)?.shapes[0] ?? all[0]?.shapes[0]) as ShapeState;
    // The request's own reply, when no other variant replies the same.
    const reply = units.at(-1);
    if (
      reply !== undefined &&
      isEntryReply(reply, shape) &&
      all.every((v) => v.units === units || v.units.at(-1)?.key !== reply.key)
    ) {
      return `replies ${(reply as ItemUnit & { item: Message }).item.text}`;
    }
    const calls = units.filter((u): u is CallUnit => u.type === 'call');
    // Cache-aside: a cache read, then nothing else (a hit) or the source of the data (a miss).
    const read = isCacheRead(before, shape) ? before : calls[0] && isCacheRead(calls[0], shape) ? calls[0] : undefined;
    if (read !== undefined) {
      const readsOthers = all.some((v) => v.units !== units && v.units.some((u) => u.type === 'call' && u !== read));
      const others = calls.filter((u) => u !== read && u.key !== read.key);
      if (others.length === 0 && (read !== before || readsOthers)) return 'cache hit';
      if (others.length > 0) return 'cache miss';
    }
    const elsewhere = new Set(all.filter((v) => v.units !== units).flatMap((v) => v.units.map((u) => u.key)));
    const own = calls.find((u) => !elsewhere.has(u.key));
    if (own !== undefined) return `calls ${own.request.text}`;
    return NO_CALLS;
  }

  #emitUnit(unit: Unit, shape: ShapeState, depth: number, out: string[]): void {
    if (unit.type === 'call') {
      out.push(`${pad(depth)}${this.#message(unit.request, shape)}`);
      for (const inner of unit.body) this.#emitUnit(inner, shape, depth, out);
      return;
    }
    this.#emitItem([{ shape, unit }], depth, out);
  }

  /** One item, the same in every shape given; a reply shows the median of their durations when timed. */
  #emitItem(matched: readonly { shape: ShapeState; unit: Unit }[], depth: number, out: string[]): void {
    const { shape, unit } = matched[0] as { shape: ShapeState; unit: ItemUnit };
    const item = unit.item;
    if (item.type === 'message') {
      let text = this.#message(item, shape);
      if (this.#timings && unit.slot !== undefined) {
        const all = matched.flatMap((m) =>
          m.unit.type === 'item' && m.unit.slot !== undefined ? (m.shape.durations[m.unit.slot] ?? []) : [],
        );
        if (all.length > 0) {
          text = this.#message({ ...item, text: `${item.text} · ${formatDuration(medianNs(all) / 1e6)}` }, shape);
        }
      }
      out.push(`${pad(depth)}${text}`);
      return;
    }
    let drawn: SequenceItem = item;
    if (this.#timings && unit.nestedSlots !== undefined && unit.nestedSlots.length > 0) {
      // The n-th reply inside the block has the n-th nested slot in every shape matched here (same key, same items).
      let n = 0;
      drawn = mapReplies(item, (reply) => {
        const k = n++;
        const all = matched.flatMap((m) => {
          const slot = m.unit.type === 'item' ? m.unit.nestedSlots?.[k] : undefined;
          return slot === undefined ? [] : (m.shape.durations[slot] ?? []);
        });
        return all.length > 0 ? `${reply.text} · ${formatDuration(medianNs(all) / 1e6)}` : reply.text;
      });
    }
    const mapped = mapIds(drawn, (id) => this.#idOf.get(shape.keyOf.get(id) ?? '') ?? id, false);
    const text = renderMermaid({
      participants: [],
      items: [mapped],
      arrows: [],
      messageCount: 0,
      notes: [],
      repeats: [],
      parGroups: 0,
      timings: false,
    });
    for (const line of text.trimEnd().split('\n').slice(2)) out.push(`${pad(depth)}${line}`);
  }

  #message(message: Message, shape: ShapeState): string {
    const from = this.#idOf.get(shape.keyOf.get(message.from) ?? '') ?? message.from;
    const to = this.#idOf.get(shape.keyOf.get(message.to) ?? '') ?? message.to;
    return `${from}${ARROWS[message.kind]}${to}: ${escapeMermaidText(message.text)}`;
  }
}

const NO_CALLS = 'no further calls';

function pad(depth: number): string {
  return '  '.repeat(depth);
}

/** The unit just before the cursors (all lanes agree on it: it is a common unit). */
function anchorUnit(lanes: readonly Lane[], cursors: readonly number[], offset: number): Unit | undefined {
  const lane = lanes[0] as Lane;
  return lane.units[(cursors[0] as number) + offset];
}

/** The first unit (depth first) a predicate holds for, with the call it belongs to. */
function findUnit(
  units: readonly Unit[],
  test: (unit: Unit) => boolean,
  request?: Message,
): { unit: Unit; request: Message | undefined } | undefined {
  for (const unit of units) {
    if (test(unit)) return { unit, request };
    if (unit.type === 'call') {
      const inner = findUnit(unit.body, test, unit.request);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** A reply to the client or queue the request came from (the entry's reply). */
function isEntryReply(unit: Unit, shape: ShapeState): boolean {
  if (unit.type !== 'item' || unit.item.type !== 'message') return false;
  const kind = shape.kindOf.get(shape.keyOf.get(unit.item.to) ?? '');
  return (unit.item.kind === 'response' || unit.item.kind === 'error') && (kind === 'actor' || kind === 'queue');
}

function isCacheRead(unit: Unit | undefined, shape: ShapeState): unit is CallUnit {
  if (unit === undefined || unit.type !== 'call') return false;
  return shape.kindOf.get(shape.keyOf.get(unit.request.to) ?? '') === 'cache' && CACHE_READ.test(unit.request.text);
}

function medianNs(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length / 2) - 1)] as number;
}
