/**
 * Stage one of drawing: a trace becomes a sequence model (participants,
 * messages, `par` and `loop` blocks, notes) plus a table from each arrow's
 * number to the span it stands for. Stage two (`mermaid.ts`) only prints it.
 */
import { clockAdjustment, connectionWaitMs, queueWaitMs, sentAt } from './call-timing.js';
import type { ParticipantRef } from './classify.js';
import { packLanes } from './concurrency.js';
import { type CallDependency, layoutDependencies, layoutDependenciesUncached } from './dependencies.js';
import { formatDuration, plural, truncate } from './format.js';
import {
  afterResponseNotes,
  afterResponseNotesUncached,
  arrangeChildren,
  type ChildRun,
  callerWentAway,
  contentLifeline,
  type DrawnCall,
  isRepeatRun,
  layoutTrace,
  outlivesResponse,
  type RepeatRun,
  responseTime,
  splitRepeats,
  splitRepeatsUncached,
  type TraceLayout,
} from './layout.js';
import { batchNote } from './linked-traces.js';
import { type CallOutcome, drawnCallOutcome } from './outcome.js';
import type {
  ArrowKind,
  ArrowRef,
  FoldLimits,
  Message,
  Note,
  Participant,
  RepeatGroup,
  SequenceItem,
  SequenceModel,
  SequenceOptions,
} from './sequence-model.js';
import { MAX_DRAWN_DEPTH } from './sequence-model.js';
import { median } from './stats.js';
import type { Trace } from './trace.js';
import { buildSpanTree, spanNames } from './tree.js';

// The model, the timing facts and the helpers live in files of their own; still importable from here.
export {
  CONNECTION_WAIT_ATTRIBUTE,
  clockAdjustment,
  connectionWaitMs,
  queueWaitMs,
} from './call-timing.js';
export { truncate } from './format.js';
export type {
  ArrowKind,
  ArrowRef,
  FoldLimits,
  LoopBlock,
  Message,
  Note,
  ParBlock,
  Participant,
  RepeatGroup,
  SequenceItem,
  SequenceModel,
  SequenceOptions,
} from './sequence-model.js';
export { MAX_DRAWN_DEPTH } from './sequence-model.js';
export { median } from './stats.js';

const MAX_LABEL = 80;
/** Longest text of a note that names spans (the renderer prints notes up to 120 characters). */
const MAX_NOTE = 120;
const MAX_ERROR = 60;

/**
 * Turns a trace into a sequence model.
 *
 * @example
 * ```ts
 * const model = toSequence(trace, { timings: false });
 * model.arrows[0]; // { number: 1, spanId: '…', kind: 'request', from: 'p1', to: 'p2' }
 * const text = renderMermaid(model);
 * ```
 */
export function toSequence(trace: Trace, options: SequenceOptions = {}): SequenceModel {
  return buildSequence(layoutTrace(buildSpanTree(trace), { internal: options.internal }), options);
}

/** Builds the model from an existing layout (used by the size guard to rebuild with tighter limits). */
export function buildSequence(
  layout: TraceLayout,
  options: SequenceOptions = {},
  limits: FoldLimits = {},
): SequenceModel {
  return buildBounded(layout, options, limits).model;
}

/**
 * Builds the model, telling whether `limits.maxArrows` cut it short (the
 * model is then incomplete and only good for knowing it was too big), and
 * `widestLevel`: any `limits.maxItems` of at least this many draws the same
 * model (nothing cut short by the count), when not overflowed.
 */
export function buildBounded(
  layout: TraceLayout,
  options: SequenceOptions,
  limits: FoldLimits,
): { model: SequenceModel; overflowed: boolean; widestLevel: number } {
  const builder = new Builder(layout, options, limits);
  const model = builder.build();
  return { model, overflowed: builder.overflowed, widestLevel: builder.widestLevel };
}

class Builder {
  private readonly participants: Participant[] = [];
  private readonly byKey = new Map<string, Participant>();
  private readonly arrows: ArrowRef[] = [];
  private readonly repeats: RepeatGroup[] = [];
  private readonly notes: string[];
  private parGroups = 0;
  /** Greater than 0 while drawing work that ran on after a response (its `par` blocks are not counted). */
  private afterResponse = 0;
  /**
   * The response being drawn around: while the calls a response waited for
   * are drawn, work they left running that starts after that response is
   * handed here, to be drawn after it (see `children`).
   */
  private enclosingResponse: { readonly at: number; readonly defer: (draw: TimedDraw) => void } | undefined;
  /**
   * Calls whose request was drawn before an enclosing response while they
   * ran on past it (see `head`), with what completes them: their replies
   * are drawn where they ended, by whichever part of the diagram draws that moment.
   */
  private readonly pending = new Map<DrawnCall, (out: SequenceItem[]) => void>();
  private foldedByDepth = 0;
  private foldedByCount = 0;
  /** Calls that used an earlier sibling's answer (see dependencies.ts). */
  private readonly dependencies: ReadonlyMap<DrawnCall, CallDependency>;
  /**
   * The number of the request arrow of each call whose answer another call
   * used, for that call's marker; undefined when no call used another's (most
   * traces), so that drawing does not pay for a map entry per call.
   */
  private readonly requestNumbers: Map<DrawnCall, number> | undefined;
  /** Set when `maxArrows` was reached; from then on nothing more is drawn. */
  overflowed = false;
  /** One more than the largest item count compared with `maxItems`: from this limit up, nothing is cut by count. */
  widestLevel = 0;
  private readonly maxArrows: number;
  private readonly timings: boolean;
  private readonly branchOrder: 'start' | 'drawn';
  private readonly foldLoops: boolean;
  private readonly maxDepth: number;
  private readonly maxItems: number;
  private readonly foldSpanIds: ReadonlySet<string> | undefined;
  /** Whether call texts and runs are remembered on the layout for later builds (see `FoldLimits.once`). */
  private readonly remember: boolean;

  private readonly layout: TraceLayout;
  private readonly options: SequenceOptions;

  constructor(layout: TraceLayout, options: SequenceOptions, limits: FoldLimits) {
    this.layout = layout;
    this.options = options;
    this.remember = limits.once !== true;
    this.notes = [
      ...layout.tree.notes,
      ...(this.remember ? afterResponseNotes(layout) : afterResponseNotesUncached(layout)),
    ];
    this.timings = options.timings !== false;
    this.branchOrder = options.branchOrder ?? 'start';
    this.foldLoops = options.foldLoops !== false;
    this.maxDepth = Math.max(1, Math.min(limits.maxDepth ?? MAX_DRAWN_DEPTH, MAX_DRAWN_DEPTH));
    this.maxItems = Math.max(1, limits.maxItems ?? Number.POSITIVE_INFINITY);
    this.maxArrows = limits.maxArrows ?? Number.POSITIVE_INFINITY;
    this.foldSpanIds = limits.foldSpanIds;
    this.dependencies = this.remember ? layoutDependencies(layout) : layoutDependenciesUncached(layout);
    this.requestNumbers = this.dependencies.size > 0 ? new Map() : undefined;
  }

  /**
   * The request label of a call that used earlier calls' answers, with the
   * numbers of their request arrows: `SELECT authors ← 3`. The marker is kept
   * whole when the label is shortened.
   */
  private dependentLabel(call: DrawnCall, label: string): string {
    const dependency = this.dependencies.get(call);
    if (dependency === undefined) return label;
    const numbers = dependency.on.map((on) => this.requestNumbers?.get(on)).filter((n) => n !== undefined);
    if (numbers.length === 0) return label;
    const marker = ` ← ${numbers.join(',')}`;
    return truncate(label, MAX_LABEL - marker.length) + marker;
  }

  build(): SequenceModel {
    const items: SequenceItem[] = [];
    const top = this.layout.top;
    const first = top[0];
    if (first !== undefined) this.brokenLinkNotes(first, items);
    for (let i = 0; i < top.length; i++) {
      const call = top[i] as DrawnCall;
      if (i >= this.widestLevel) this.widestLevel = i + 1;
      if (i >= this.maxItems) {
        const rest = top.slice(i);
        this.foldedByCount += foldedCount(rest);
        items.push(this.note([call.from], foldText(rest, true), 'folded', 0));
        break;
      }
      const together = call.role === 'consume' ? this.overlappingConsumers(top, i) : [call];
      if (together.length === 1) {
        this.call(call, items);
        continue;
      }
      // Messages processed side by side after everything else (two jobs of
      // a worker of concurrency 2): one `par`, not a sequence. No one waited
      // for them, so it is not the request's concurrency.
      const intervals = together.map((c) => ({ start: c.node.start, end: c.node.end, call: c }));
      const counted = this.afterResponse === 0;
      this.par(
        together,
        packLanes(intervals).map((lane) => lane.map((entry) => entry.call)),
        items,
      );
      // The blocks inside the consumers still count, as they did drawn one by one.
      if (counted) this.parGroups--;
      i += together.length - 1;
    }
    if (this.foldedByDepth > 0) {
      this.notes.push(`${this.foldedByDepth} calls nested deeper than ${this.maxDepth} levels folded`);
    }
    if (this.foldedByCount > 0) this.notes.push(`${this.foldedByCount} calls beyond ${this.maxItems} per level folded`);
    return {
      participants: this.participants,
      items,
      arrows: this.arrows,
      messageCount: this.arrows.length,
      notes: this.notes,
      repeats: this.repeats,
      parGroups: this.parGroups,
      timings: this.timings,
    };
  }

  /**
   * Says, first thing in the diagram, that spans lost their parent link and
   * were placed by their own start time: the picture is of an incomplete
   * trace, and the reader learns how many spans and which.
   */
  private brokenLinkNotes(first: DrawnCall, out: SequenceItem[]): void {
    const broken = this.layout.tree.broken;
    if (broken.length === 0) return;
    const over = [first.from, first.to];
    const missing = broken.filter((b) => b.reason === 'missing-parent').map((b) => b.node);
    const self = broken.filter((b) => b.reason === 'self-parent').map((b) => b.node);
    // The entry a loop was broken at lists its members, the others cut loose among them.
    const looped = broken.filter((b) => b.reason === 'loop').flatMap((b) => b.loop ?? []);
    const texts: string[] = [];
    if (missing.length > 0) {
      texts.push(
        `incomplete trace: parent of ${plural(missing.length, 'span')} missing (${spanNames(missing)}), drawn by start time`,
      );
    }
    if (self.length > 0) {
      texts.push(`parent link broken: ${plural(self.length, 'span')} naming itself as parent (${spanNames(self)})`);
    }
    if (looped.length > 0) {
      texts.push(
        `parent link broken: a loop of parent links over ${plural(looped.length, 'span')} (${spanNames(looped)})`,
      );
    }
    for (const text of texts) {
      out.push({
        type: 'note',
        over: [...new Set(over.map((ref) => this.id(ref)))],
        text: truncate(text, MAX_NOTE),
        reason: 'incomplete',
        level: 0,
      });
    }
  }

  /**
   * The consumers drawn at the top level from `top[from]` on that ran
   * concurrently with it (each next one starting before the latest end so
   * far, as among siblings), in start order; just `top[from]` when none did.
   */
  private overlappingConsumers(top: readonly DrawnCall[], from: number): DrawnCall[] {
    const first = top[from] as DrawnCall;
    const group = [first];
    let end = first.node.end;
    for (let j = from + 1; j < top.length; j++) {
      const next = top[j] as DrawnCall;
      if (next.role !== 'consume' || next.node.start >= end) break;
      group.push(next);
      if (next.node.end > end) end = next.node.end;
    }
    return group;
  }

  private id(ref: ParticipantRef): string {
    let participant = this.byKey.get(ref.key);
    if (!participant) {
      participant = { id: `p${this.participants.length + 1}`, key: ref.key, name: ref.name, kind: ref.kind };
      this.byKey.set(ref.key, participant);
      this.participants.push(participant);
    }
    return participant.id;
  }

  private message(
    from: ParticipantRef,
    to: ParticipantRef,
    kind: ArrowKind,
    text: string,
    spanId: string,
    level: number,
    spanIds?: readonly string[],
  ): Message {
    const fromId = this.id(from);
    const toId = this.id(to);
    const number = this.arrows.length + 1;
    // Written out rather than spread: an arrow per call, and a spread object is built the slow way.
    this.arrows.push(
      spanIds
        ? { number, spanId, kind, from: fromId, to: toId, spanIds }
        : { number, spanId, kind, from: fromId, to: toId },
    );
    return { type: 'message', number, from: fromId, to: toId, kind, text: truncate(text, MAX_LABEL), spanId, level };
  }

  private note(
    over: readonly ParticipantRef[],
    text: string,
    reason: Note['reason'],
    level: number,
    spanId?: string,
  ): Note {
    const ids = [...new Set(over.map((ref) => this.id(ref)))];
    return {
      type: 'note',
      over: ids,
      text: truncate(text, MAX_LABEL),
      reason,
      level,
      ...(spanId !== undefined ? { spanId } : {}),
    };
  }

  private call(call: DrawnCall, out: SequenceItem[]): void {
    this.head(call, out, undefined, true);
  }

  /**
   * Draws the first arrow of a call and returns what completes it (its
   * nested calls and its reply), which the caller draws at once, or after
   * the parent's response when the call ran on past it. For such a call,
   * `cutoff` is that response's time: the nested calls it finished before
   * then are drawn with its request, before the response, where they happened.
   * With `whole`, the rest is drawn at once into `out` and nothing is
   * returned: the common case, without a closure per call.
   */
  private head(
    call: DrawnCall,
    out: SequenceItem[],
    cutoff?: number,
    whole = false,
  ): ((out: SequenceItem[]) => void) | undefined {
    if (this.overflowed || this.arrows.length >= this.maxArrows) {
      this.overflowed = true;
      return undefined;
    }
    const spanId = call.node.span.spanId;
    const outcome = this.outcome(call);
    const texts = this.remember
      ? callTexts(call, outcome, this.layout, this.timings)
      : computeCallTexts(call, outcome, this.layout, this.timings);
    const label = texts.request;
    const members = call.batch?.map((member) => member.node.span.spanId);
    switch (call.role) {
      case 'entry':
      case 'call': {
        for (const note of texts.before) out.push(this.note([call.from], note.text, note.reason, call.depth, spanId));
        out.push(
          this.message(call.from, call.to, 'request', this.dependentLabel(call, label), spanId, call.depth, members),
        );
        this.requestNumbers?.set(call, this.arrows.length);
        for (const note of texts.after)
          out.push(this.note([call.from, call.to], note.text, note.reason, call.depth, spanId));
        const folds = this.foldSpanIds?.has(spanId) === true || call.depth + 1 >= this.maxDepth;
        // Under a call still running at an enclosing response, its own calls
        // are split at the earlier of that response and its own: what started
        // before is drawn now, a call still in flight then by its request only
        // (at any depth, see `children`), and the rest after the response.
        const own = responseTime(call);
        const at = cutoff === undefined || own === undefined ? cutoff : Math.min(cutoff, own);
        const early =
          at === undefined || folds || !call.children.some((child) => child.node.start < at)
            ? undefined
            : (child: DrawnCall): boolean => child.node.start < at;
        if (early !== undefined && at !== undefined) {
          // Under a call the response did not wait for: not counted as the request's concurrency.
          this.afterResponse++;
          this.children(call, out, early, false, at);
          this.afterResponse--;
        }
        const late = early === undefined || at === undefined ? undefined : (child: DrawnCall) => child.node.end > at;
        if (whole) {
          this.replyPart(call, texts, members, late, out);
          return undefined;
        }
        return (o) => this.replyPart(call, texts, members, late, o);
      }
      case 'self':
      case 'publish':
      case 'consume':
        out.push(this.message(call.from, call.to, call.role === 'self' ? 'self' : 'async', label, spanId, call.depth));
        for (const note of texts.after)
          out.push(this.note([call.from, call.to], note.text, note.reason, call.depth, spanId));
        if (whole) {
          this.restPart(call, texts, out);
          return undefined;
        }
        return (o) => this.restPart(call, texts, o);
    }
  }

  /**
   * The rest of a request–response call after its request: the nested calls
   * (those `late` picks, when some were drawn before an enclosing response),
   * the reply, its markers, and then the work it left running.
   */
  private replyPart(
    call: DrawnCall,
    texts: CallTexts,
    members: readonly string[] | undefined,
    late: ((child: DrawnCall) => boolean) | undefined,
    o: SequenceItem[],
  ): void {
    const spanId = call.node.span.spanId;
    const after = this.children(call, o, late);
    const reply = texts.reply as ReplyText;
    o.push(this.message(call.to, call.from, reply.kind, reply.text, spanId, call.depth, members));
    this.markers(call, texts, o);
    if (after !== undefined) {
      const enclosing = this.enclosingResponse;
      if (enclosing !== undefined && after.startsAt >= enclosing.at) {
        enclosing.defer({ at: after.startsAt, draw: (target) => after(target) });
      } else after();
    }
  }

  /** The rest of a self call, a publish or a consume after its first arrow: nested calls, a reply if any, markers. */
  private restPart(call: DrawnCall, texts: CallTexts, o: SequenceItem[]): void {
    this.children(call, o)?.();
    if (texts.reply !== undefined)
      o.push(this.message(call.to, call.from, texts.reply.kind, texts.reply.text, call.node.span.spanId, call.depth));
    this.markers(call, texts, o);
  }

  /** Notes that follow a reply which did not fail: a handled exception, an unread body. */
  private markers(call: DrawnCall, texts: CallTexts, out: SequenceItem[]): void {
    for (const marker of texts.markers) {
      out.push(this.note([call.from, call.to], marker.text, marker.reason, call.depth, call.node.span.spanId));
    }
  }

  private outcome(call: DrawnCall): CallOutcome {
    return call.outcome ?? drawnCallOutcome(call);
  }

  /**
   * Draws a call's nested calls. When some ran on after the call's response
   * (a handler that answers and keeps working), only those the response
   * waited for are drawn here, plus the requests of the ones still in flight;
   * the returned function draws the rest, and is called after the response.
   */
  private children(
    call: DrawnCall,
    out: SequenceItem[],
    only?: (child: DrawnCall) => boolean,
    withGaps = true,
    headsUntil?: number,
  ): AfterPart | undefined {
    const all = only === undefined ? call.children : call.children.filter(only);
    if (all.length === 0) return undefined;
    const lifeline = contentLifeline(call);
    const chosen = this.foldSpanIds?.has(call.node.span.spanId) === true;
    if (chosen || call.depth + 1 >= this.maxDepth) {
      // Folds the size guard chose are summed up by the guard itself.
      if (!chosen) this.foldedByDepth += call.nestedCalls;
      out.push(this.note([lifeline], foldText(call.children, false), 'folded', call.depth + 1, call.node.span.spanId));
      return undefined;
    }
    if (headsUntil !== undefined) {
      // Drawn before an enclosing response (see `head`): a call still in
      // flight at that moment sends its request now, in its place in time,
      // and keeps the rest for later (`pending`), as a direct child does.
      const done = all.filter((child) => child.node.end <= headsUntil);
      const heads: TimedDraw[] = all
        .filter((child) => child.node.end > headsUntil)
        .map((child) => ({
          at: child.node.start,
          draw: (o) => {
            const tail = this.head(child, o, headsUntil);
            if (tail) this.pending.set(child, tail);
          },
        }));
      this.sequence(done, out, call, undefined, heads);
      return undefined;
    }
    // Calls whose request was drawn already: only their replies are left, at their end.
    const started = all.filter((child) => this.pending.has(child));
    const kids = started.length === 0 ? all : all.filter((child) => !this.pending.has(child));
    const replyOf = (child: DrawnCall): TimedDraw => ({
      at: child.node.end,
      reply: true,
      draw: (o) => {
        const tail = this.pending.get(child);
        this.pending.delete(child);
        tail?.(o);
      },
    });
    const response = responseTime(call);
    const outlived = kids.filter((child) => outlivesResponse(response, child.node));
    const startedOutlived = started.filter((child) => outlivesResponse(response, child.node));
    const startedWaited = started.filter((child) => !outlivesResponse(response, child.node)).map(replyOf);
    const showGaps =
      withGaps && this.timings && (call.role !== 'call' || call.remote !== undefined) && call.role !== 'publish';
    let gaps: GapContext | undefined;
    if (showGaps) {
      const work = call.work;
      const workMs = (work.end - work.start) / 1e6;
      const threshold = gapThresholdMs(workMs, this.options);
      // Drawn in two parts (see `head`), the second starts where the first ended.
      let start = work.start;
      if (only !== undefined) {
        const first = Math.min(...kids.map((kid) => kid.node.start));
        for (const child of call.children) {
          if (!only(child) && child.node.end <= first && child.node.end > start) start = child.node.end;
        }
      }
      gaps = {
        start,
        // Own work ends with the response; what follows it is not the request's.
        end: response !== undefined && outlived.length + startedOutlived.length > 0 ? response : work.end,
        thresholdNs: threshold * 1e6,
        lifeline,
        spanId: call.node.span.spanId,
        level: call.depth + 1,
      };
    }
    // Work that the calls drawn now leave running and that starts after this
    // response is drawn after it, not beside the calls it outlived.
    const deferred: TimedDraw[] = [];
    const enclosing = this.enclosingResponse;
    const drawWaited = (waitedKids: readonly DrawnCall[], events?: readonly TimedDraw[]): void => {
      if (response !== undefined) this.enclosingResponse = { at: response, defer: (draw) => deferred.push(draw) };
      try {
        this.sequence(waitedKids, out, call, gaps, events);
      } finally {
        this.enclosingResponse = enclosing;
      }
    };
    if (response === undefined || outlived.length + startedOutlived.length === 0) {
      drawWaited(kids, startedWaited);
      if (deferred.length === 0) return undefined;
      const startsAt = Math.min(...deferred.map((draw) => draw.at));
      return Object.assign((target?: SequenceItem[]) => this.sequence([], target ?? out, call, undefined, deferred), {
        startsAt,
      });
    }
    const waited = kids.filter((child) => !outlivesResponse(response, child.node));
    const inFlight = outlived.filter((child) => child.node.start < response);
    const later = outlived.filter((child) => child.node.start >= response);
    const heads: TimedDraw[] = inFlight.map((child) => ({
      at: child.node.start,
      draw: (o) => {
        const tail = this.head(child, o, response);
        if (tail) this.pending.set(child, tail);
      },
    }));
    drawWaited(waited, byTime([...heads, ...startedWaited]));
    // Calls in flight at the response, whether their request was drawn here or by an enclosing call.
    const running = [...inFlight, ...startedOutlived];
    const count = outlived.length + startedOutlived.length;
    let startsAt = Number.POSITIVE_INFINITY;
    for (const child of later) if (child.node.start < startsAt) startsAt = child.node.start;
    for (const child of running) if (child.node.end < startsAt) startsAt = child.node.end;
    for (const draw of deferred) if (draw.at < startsAt) startsAt = draw.at;
    const afterPart = (target: SequenceItem[] = out): void => {
      this.afterResponse++;
      const calls = `${count} ${count === 1 ? 'call' : 'calls'}`;
      let text = callerWentAway(call)
        ? `after the caller disconnected: ${calls} ran on`
        : `after the response: ${calls} outlived the request`;
      if (this.timings) {
        let end = response;
        for (const child of [...outlived, ...startedOutlived]) if (child.node.end > end) end = child.node.end;
        text += ` by ${formatDuration((end - response) / 1e6)}`;
      }
      target.push(this.note([lifeline], text, 'after-response', call.depth + 1, call.node.span.spanId));
      const replies: TimedDraw[] = running
        .sort((a, b) => a.node.end - b.node.end || a.node.order - b.node.order)
        .map(replyOf);
      this.sequence(later, target, call, undefined, byTime([...replies, ...deferred]));
      this.afterResponse--;
    };
    return Object.assign(afterPart, { startsAt });
  }

  /** Draws sibling calls: serial ones in order, overlapping ones as `par`, repeats as `loop`, gaps as notes. */
  private sequence(
    children: readonly DrawnCall[],
    out: SequenceItem[],
    parent: DrawnCall | undefined,
    gaps: GapContext | undefined,
    events: readonly TimedDraw[] = [],
  ): void {
    let cursor = gaps?.start ?? 0;
    let emitted = 0;
    const gapUntil = (time: number): void => {
      if (gaps && time - cursor > gaps.thresholdNs) {
        out.push(
          this.note(
            [gaps.lifeline],
            `${formatDuration((time - cursor) / 1e6)} own work`,
            'own-work',
            gaps.level,
            gaps.spanId,
          ),
        );
      }
    };
    // Drawings pinned to a moment (see `children`): each goes before the first call starting after it,
    // and own work is measured up to it (a request sent and not waited for is not a wait).
    let nextEvent = 0;
    const eventsUntil = (time: number): void => {
      while (nextEvent < events.length && (events[nextEvent] as TimedDraw).at <= time) {
        const event = events[nextEvent++] as TimedDraw;
        // Up to a reply the caller was waiting for it: not own work.
        if (event.reply !== true && event.at <= (gaps?.end ?? event.at)) gapUntil(event.at);
        if (event.at > cursor) cursor = event.at;
        event.draw(out);
      }
    };
    const runs = this.remember ? arrangedRuns(children) : arrangeChildren(children);
    // Past the per-level limit (size guard), the rest of the level becomes one note.
    const foldRest = (r: number, from: readonly DrawnCall[]): void => {
      const folded = [...from];
      for (let k = r + 1; k < runs.length; k++) for (const call of (runs[k] as ChildRun).calls) folded.push(call);
      this.foldedByCount += foldedCount(folded);
      const first = from[0] as DrawnCall;
      const lifeline = gaps?.lifeline ?? (parent ? contentLifeline(parent) : first.from);
      const level = parent ? parent.depth + 1 : first.depth;
      out.push(this.note([lifeline], foldText(folded, true), 'folded', level, parent?.node.span.spanId));
    };
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r] as ChildRun;
      if (run.type === 'par') {
        if (emitted >= this.widestLevel) this.widestLevel = emitted + 1;
        if (emitted >= this.maxItems) {
          foldRest(r, run.calls);
          return;
        }
        let start = Number.POSITIVE_INFINITY;
        let end = Number.NEGATIVE_INFINITY;
        // Own work ends when the first call was issued: a wait for a pooled
        // connection before it started is database time, as for a single call.
        let sent = Number.POSITIVE_INFINITY;
        for (const c of run.calls) {
          if (c.node.start < start) start = c.node.start;
          if (c.node.end > end) end = c.node.end;
          const at = sentAt(c);
          if (at < sent) sent = at;
        }
        eventsUntil(start);
        gapUntil(sent);
        this.par(run.calls, run.lanes, out);
        emitted++;
        if (end > cursor) cursor = end;
        continue;
      }
      const pieces: readonly (DrawnCall | RepeatRun)[] = this.foldLoops
        ? this.remember
          ? splitRepeats(run.calls)
          : splitRepeatsUncached(run.calls)
        : run.calls;
      for (let p = 0; p < pieces.length; p++) {
        const piece = pieces[p] as DrawnCall | RepeatRun;
        if (emitted >= this.widestLevel) this.widestLevel = emitted + 1;
        if (emitted >= this.maxItems) {
          const rest: DrawnCall[] = [];
          for (let k = p; k < pieces.length; k++) {
            const x = pieces[k] as DrawnCall | RepeatRun;
            if (isRepeatRun(x)) for (const call of x.calls) rest.push(call);
            else rest.push(x);
          }
          foldRest(r, rest);
          return;
        }
        if (isRepeatRun(piece)) {
          const first = piece.calls[0] as DrawnCall;
          let end = first.node.end;
          for (const c of piece.calls) if (c.node.end > end) end = c.node.end;
          eventsUntil(first.node.start);
          gapUntil(sentAt(first));
          this.loop(piece, parent, out);
          if (end > cursor) cursor = end;
        } else {
          eventsUntil(piece.node.start);
          gapUntil(sentAt(piece));
          this.call(piece, out);
          if (piece.node.end > cursor) cursor = piece.node.end;
        }
        emitted++;
      }
    }
    eventsUntil(Number.POSITIVE_INFINITY);
    if (gaps) gapUntil(gaps.end);
  }

  private par(calls: readonly DrawnCall[], lanes: readonly (readonly DrawnCall[])[], out: SequenceItem[]): void {
    if (this.afterResponse === 0) this.parGroups++;
    const label = parLabel(calls, lanes.length, this.timings);
    // In a shape compared across requests (endpoint flows, docs, recorded
    // flows), which of two concurrent calls the scheduler started first is
    // noise: there the branches are in the order of what they draw.
    const ordered = this.branchOrder === 'drawn' ? canonicalLaneOrder(lanes) : lanes;
    const branches = ordered.map((lane) => {
      const items: SequenceItem[] = [];
      this.sequence(lane, items, undefined, undefined);
      return items;
    });
    out.push({
      type: 'par',
      label,
      branches,
      branchLabels: branchLabels(ordered),
      spanIds: calls.map((c) => c.node.span.spanId),
    });
  }

  private loop(run: RepeatRun, parent: DrawnCall | undefined, out: SequenceItem[]): void {
    const { label, totalMs, p50Ms } = loopLabel(run, this.timings);
    const first = run.calls[0] as DrawnCall;
    const items: SequenceItem[] = [];
    this.call(first, items);
    const spanIds = run.calls.map((c) => c.node.span.spanId);
    out.push({ type: 'loop', label, count: run.calls.length, totalMs, p50Ms, spanIds, items });
    this.repeats.push({
      parentSpanId: parent?.node.span.spanId ?? first.parent?.node.span.spanId,
      label: run.label,
      target: first.to.name,
      count: run.calls.length,
      totalMs,
      p50Ms,
      spanIds,
    });
  }
}

/** A note's text and why it is there. */
export interface NoteText {
  readonly text: string;
  readonly reason: Note['reason'];
}

/** A reply arrow's kind and text. */
export interface ReplyText {
  readonly kind: 'response' | 'error';
  readonly text: string;
}

/**
 * Every text a call draws itself, whatever it contains: the size guard's
 * estimate reads these very texts, so that what it counts and what the
 * builder draws cannot drift apart.
 */
export interface CallTexts {
  /** Notes before the request arrow (a wait for a pooled connection). */
  readonly before: readonly NoteText[];
  /** The request (or async, or self) arrow's label, before any dependency marker. */
  readonly request: string;
  /** Notes right after the request (a consumer's batch, clock adjustment, queue wait). */
  readonly after: readonly NoteText[];
  /** The reply arrow: always for an entry or a call, for other roles only when they failed. */
  readonly reply: ReplyText | undefined;
  /** Notes that follow the reply (a handled exception, an unread body, no response status). */
  readonly markers: readonly NoteText[];
}

const NO_NOTES: readonly NoteText[] = [];

/**
 * The texts a call draws itself (see {@link CallTexts}), as the builder draws
 * them. Remembered per call: the size guard builds one layout several times
 * and estimates it once, and a call's texts depend only on the call (its
 * outcome is its own, and a call belongs to one layout) and on `timings`.
 */
export function callTexts(call: DrawnCall, outcome: CallOutcome, layout: TraceLayout, timings: boolean): CallTexts {
  const memo = call as Memoized;
  const key = timings ? TIMED_TEXTS : UNTIMED_TEXTS;
  let texts = memo[key];
  if (texts === undefined) {
    texts = computeCallTexts(call, outcome, layout, timings);
    if (Object.isExtensible(call)) memo[key] = texts;
  }
  return texts;
}

/**
 * Where {@link callTexts} and {@link arrangedRuns} keep what they computed:
 * symbol-keyed properties of the call or list itself. A WeakMap would keep
 * them out of sight too, but every fresh layout then fills it with new keys,
 * and the garbage collector's work on those (ephemerons) cost more than the
 * texts it saved on a trace drawn once.
 */
const TIMED_TEXTS = Symbol('timed call texts');
const UNTIMED_TEXTS = Symbol('untimed call texts');
const RUNS = Symbol('arranged runs');
interface Memoized {
  [TIMED_TEXTS]?: CallTexts;
  [UNTIMED_TEXTS]?: CallTexts;
  [RUNS]?: readonly ChildRun[];
}

/**
 * {@link callTexts} without remembering them on the call: for a walk that
 * reads each call's texts once, such as the size guard's estimate over every
 * call of a large trace, where keeping them would hold a set of texts per
 * call alive until the layout is dropped.
 */
export function computeCallTexts(
  call: DrawnCall,
  outcome: CallOutcome,
  layout: TraceLayout,
  timings: boolean,
): CallTexts {
  const durationMs = (call.node.end - call.node.start) / 1e6;
  const label = call.label || '(unnamed)';
  const markers =
    outcome.markers === undefined
      ? NO_NOTES
      : outcome.markers.map((marker) => ({ text: oneLine(marker.text), reason: marker.kind }));
  // A span of this process recorded wholly before its parent, moved into it (see `skewShift`).
  const moved = call.role === 'consume' ? undefined : layout.tree.shifted?.get(call.node);
  const skew: readonly NoteText[] =
    moved === undefined
      ? NO_NOTES
      : [
          {
            text: `clock skew: recorded${timings ? ` ${formatDuration(moved / 1e6)}` : ''} before its parent, drawn at its start`,
            reason: 'clock-skew',
          },
        ];
  switch (call.role) {
    case 'entry':
    case 'call': {
      const waitMs = timings ? connectionWaitMs(call) : undefined;
      // A busy pool's cost: the query waited this long before it was sent.
      const before: readonly NoteText[] =
        waitMs === undefined
          ? NO_NOTES
          : [{ text: `waited ${formatDuration(waitMs)} for a connection`, reason: 'connection-wait' }];
      const own = responseTime(call);
      // A caller that went away is answered where it went: the arrow's time is until then.
      const replyMs = outcome.callerDisconnected && own !== undefined ? (own - call.node.start) / 1e6 : durationMs;
      const reply: ReplyText = outcome.error
        ? { kind: 'error', text: errorText(outcome, replyMs, timings) }
        : {
            kind: 'response',
            text: responseText(outcome, durationMs, call.cls.category === 'http-client', timings),
          };
      return { before, request: label, after: skew, reply, markers };
    }
    case 'self':
      return {
        before: NO_NOTES,
        request: timings ? `${label} · ${formatDuration(durationMs)}` : label,
        after: skew,
        reply: outcome.error ? { kind: 'error', text: errorText(outcome, undefined, timings) } : undefined,
        markers,
      };
    case 'publish':
      return {
        before: NO_NOTES,
        request: label,
        after: skew,
        reply: outcome.error ? { kind: 'error', text: errorText(outcome, undefined, timings) } : undefined,
        markers,
      };
    case 'consume': {
      const after: NoteText[] = [];
      const batch = batchNote(call.node.span);
      if (batch !== undefined) after.push({ text: batch, reason: 'batch' });
      const adjusted = clockAdjustment(call, layout);
      // A consumer moved after its publish has no wait to show: its clock said it started before.
      const wait = timings && adjusted === undefined ? queueWaitMs(call, layout) : undefined;
      if (adjusted !== undefined) {
        const by = timings ? ` ${formatDuration(adjusted / 1e6)}` : '';
        after.push({ text: `clock adjusted: recorded${by} before its publish, drawn after it`, reason: 'clock-skew' });
      }
      if (wait !== undefined) after.push({ text: `waited ${formatDuration(wait)} in queue`, reason: 'queue-wait' });
      return {
        before: NO_NOTES,
        request: label,
        after,
        reply: outcome.error ? { kind: 'error', text: errorText(outcome, durationMs, timings) } : undefined,
        markers,
      };
    }
  }
}

/**
 * The text of a successful reply: the status code, else the rows returned,
 * else `ok`; an HTTP call never says `ok` without a status code (it got
 * none, see `endedWithoutResponse`), it says so.
 */
function responseText(outcome: CallOutcome, durationMs: number, http: boolean, timings: boolean): string {
  const status =
    outcome.statusCode !== undefined
      ? String(outcome.statusCode)
      : outcome.grpcStatus !== undefined
        ? outcome.grpcStatus
        : outcome.rows !== undefined
          ? `${outcome.rows} ${outcome.rows === 1 ? 'row' : 'rows'}`
          : http
            ? 'no status code'
            : 'ok';
  return timings ? `${status} · ${formatDuration(durationMs)}` : status;
}

function errorText(outcome: CallOutcome, durationMs: number | undefined, timings: boolean): string {
  const parts: string[] = [];
  if (outcome.statusCode !== undefined) parts.push(String(outcome.statusCode));
  // The status is printed once: an error text that only repeats it ("500", "HTTP 500") is left out.
  const message = outcome.message !== undefined ? oneLine(outcome.message) : '';
  if (outcome.messageRestatesStatus !== true && message !== '') parts.push(truncate(message, MAX_ERROR));
  else if (parts.length === 0) parts.push('error');
  if (timings && durationMs !== undefined) parts.push(formatDuration(durationMs));
  return parts.join(' · ');
}

/** The label of a `par` block: `3 concurrent calls in 2 lanes (wall 1.4 ms, sum 2.6 ms)`. */
export function parLabel(calls: readonly DrawnCall[], lanes: number, timings: boolean): string {
  let label = `${calls.length} concurrent calls`;
  if (lanes < calls.length) label += ` in ${lanes} lanes`;
  if (timings) {
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    let sum = 0;
    for (const c of calls) {
      start = Math.min(start, c.node.start);
      end = Math.max(end, c.node.end);
      sum += c.node.end - c.node.start;
    }
    label += ` (wall ${formatDuration((end - start) / 1e6)}, sum ${formatDuration(sum / 1e6)})`;
  }
  return label;
}

/** The label of a `loop` block with its total and median (ms): `12× SELECT authors (total 9.3 ms, p50 0.7 ms)`. */
export function loopLabel(run: RepeatRun, timings: boolean): { label: string; totalMs: number; p50Ms: number } {
  const durations = run.calls.map((c) => (c.node.end - c.node.start) / 1e6);
  const totalMs = durations.reduce((a, b) => a + b, 0);
  const p50Ms = median(durations);
  let label = `${run.calls.length}× ${truncate(run.label, MAX_LABEL - 30)}`;
  if (timings) label += ` (total ${formatDuration(totalMs)}, p50 ${formatDuration(p50Ms)})`;
  return { label, totalMs, p50Ms };
}

/**
 * Own work inside a call longer than this (ms) becomes a note: the option,
 * else the larger of 10 ms and 20 % of the time the callee worked (`workMs`).
 */
export function gapThresholdMs(workMs: number, options: SequenceOptions): number {
  return options.gapThresholdMs ?? Math.max(10, 0.2 * workMs);
}

/**
 * The runs of a list of sibling calls, remembered per list: the size guard
 * builds one layout several times, and a call's children (and the lanes of
 * its `par` blocks) are the same arrays in every build, so each is arranged
 * once. A list filtered for one build is arranged anew.
 */
export function arrangedRuns(children: readonly DrawnCall[]): readonly ChildRun[] {
  const memo = children as Memoized;
  let runs = memo[RUNS];
  if (runs === undefined) {
    runs = arrangeChildren(children);
    if (Object.isExtensible(children)) memo[RUNS] = runs;
  }
  return runs;
}

/** How many drawn calls a fold of `roots` hides: each with everything nested under it. */
function foldedCount(roots: readonly DrawnCall[]): number {
  let count = 0;
  for (const call of roots) count += 1 + call.nestedCalls;
  return count;
}

/**
 * The text of a note that stands for folded calls (`roots`, each with
 * everything nested under it): how many, and how many of them failed, so
 * that no fold, whoever chose it, hides a failure: `12 calls folded, 1 failed`,
 * `40 more calls folded` (`more` for the rest of a level cut short).
 * Linear in the roots (each carries its counts from the layout), or in the calls folded for calls of a lean layout.
 */
export function foldText(roots: readonly DrawnCall[], more: boolean): string {
  let count = 0;
  let failed = 0;
  const stack: DrawnCall[] = [];
  for (const root of roots) {
    // The layout counted each call's nested failures once: the size guard
    // folds the same calls in every plan it tries, so none walks them again.
    if (root.outcome !== undefined && root.nestedFailures !== undefined) {
      count += 1 + root.nestedCalls;
      failed += root.nestedFailures + (root.outcome.error ? 1 : 0);
    } else stack.push(root);
  }
  while (stack.length > 0) {
    const call = stack.pop() as DrawnCall;
    count++;
    if ((call.outcome ?? drawnCallOutcome(call)).error) failed++;
    for (const child of call.children) stack.push(child);
  }
  const text = `${count}${more ? ' more' : ''} ${count === 1 ? 'call' : 'calls'} folded`;
  return failed > 0 ? `${text}, ${failed} failed` : text;
}

/** Targets named in a branch label before the rest are counted. */
const MAX_BRANCH_TARGETS = 2;

/**
 * Labels the lanes of a `par` block by whom their calls go to, so a reader
 * can tell the branches apart at a glance; when every lane calls the same
 * participants the labels would only repeat each other, and all are ''.
 * Names only, no times: timing-free output stays byte-stable. The size
 * guard's estimate reads them too.
 */
export function branchLabels(lanes: readonly (readonly DrawnCall[])[]): string[] {
  const labels = lanes.map((lane) => {
    const names: string[] = [];
    for (const call of lane) if (!names.includes(call.to.name)) names.push(call.to.name);
    const shown = names.slice(0, MAX_BRANCH_TARGETS).join(', ');
    const rest = names.length - MAX_BRANCH_TARGETS;
    return truncate(rest > 0 ? `${shown} +${rest} more` : shown, MAX_BRANCH_LABEL);
  });
  return labels.every((label) => label === labels[0]) ? labels.map(() => '') : labels;
}

const MAX_BRANCH_LABEL = 60;

/**
 * Lanes ordered by what they draw: each lane's calls and everything nested
 * below them (target and label, depth first), compared as text. Lanes that
 * draw the same keep their order (the sort is stable), so the text is the same
 * whichever of them started first. Iterative: nothing recurses on depth.
 */
function canonicalLaneOrder(lanes: readonly (readonly DrawnCall[])[]): (readonly DrawnCall[])[] {
  const keyOf = (lane: readonly DrawnCall[]): string => {
    const parts: string[] = [];
    const stack: DrawnCall[] = [...lane].reverse();
    while (stack.length > 0) {
      const call = stack.pop() as DrawnCall;
      parts.push(`${call.depth}\u0000${call.to.name}\u0000${call.label}`);
      for (let i = call.children.length - 1; i >= 0; i--) stack.push(call.children[i] as DrawnCall);
    }
    return parts.join('\u0001');
  };
  const keyed = lanes.map((lane) => ({ lane, key: keyOf(lane) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map(({ lane }) => lane);
}

/** A drawing pinned to a moment (ns), drawn among sibling calls in time order. */
/** What a call's response left running, drawn after it; `startsAt` is when the first of it begins (ns). */
type AfterPart = ((target?: SequenceItem[]) => void) & { readonly startsAt: number };

interface TimedDraw {
  readonly at: number;
  readonly draw: (out: SequenceItem[]) => void;
  /** The reply of a call whose request was drawn earlier. */
  readonly reply?: boolean;
}

/** Drawings in time order (stable: of two at one moment, the first listed first). */
function byTime(draws: TimedDraw[]): TimedDraw[] {
  return draws.sort((a, b) => a.at - b.at);
}

interface GapContext {
  readonly start: number;
  readonly end: number;
  readonly thresholdNs: number;
  readonly lifeline: ParticipantRef;
  readonly spanId: string;
  readonly level: number;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
