/**
 * The sequence model: what the builder (sequence.ts) makes of a trace and the
 * renderer (render.ts) prints, with no Mermaid syntax in it.
 */
import type { ParticipantKind } from './classify.js';

/** Options for {@link toSequence}. */
export interface SequenceOptions {
  /** Show durations, waits and own-work notes. Off gives byte-stable output for docs and snapshots. Default true. */
  readonly timings?: boolean;
  /** Draw internal spans as self-calls instead of hoisting their children. Default false. */
  readonly internal?: boolean;
  /** Fold three or more identical serial calls into one `loop` block. Default true. */
  readonly foldLoops?: boolean;
  /** Own work longer than this becomes a note. Default: the larger of 10 ms and 20% of the enclosing span. */
  readonly gapThresholdMs?: number;
  /**
   * Order of a `par` block's branches. `'start'` (default): the order the
   * calls started in, the truth of one request. `'drawn'`: the order of what
   * each branch draws, so that the same concurrent calls give the same text
   * whichever the scheduler started first; for shapes compared across
   * requests (endpoint flows, `lifeline docs`, recorded flows in tests).
   */
  readonly branchOrder?: 'start' | 'drawn';
}

/** What an arrow stands for. */
export type ArrowKind = 'request' | 'response' | 'error' | 'async' | 'self';

/** Maps one arrow (numbered as Mermaid's autonumber counts them) back to its span. */
export interface ArrowRef {
  /** 1-based, in text order: the number Mermaid's `autonumber` prints beside the arrow. */
  readonly number: number;
  readonly spanId: string;
  readonly kind: ArrowKind;
  /** Participant ids. */
  readonly from: string;
  readonly to: string;
  /**
   * For a batch drawn as one call (a Redis MULTI or pipeline), the spans of
   * all its commands and brackets in start order; `spanId` is its first command.
   */
  readonly spanIds?: readonly string[];
}

/** A lifeline in the diagram. */
export interface Participant {
  /** A safe Mermaid identifier (`p1`, `p2`, ...), in order of first appearance. */
  readonly id: string;
  /** Identity of the participant (`svc:api`, `db:postgresql:blog`, ...). */
  readonly key: string;
  /** Display name (unescaped). */
  readonly name: string;
  readonly kind: ParticipantKind;
}

/** One arrow. */
export interface Message {
  readonly type: 'message';
  readonly number: number;
  readonly from: string;
  readonly to: string;
  readonly kind: ArrowKind;
  /** Unescaped text; the renderer escapes it. */
  readonly text: string;
  readonly spanId: string;
  /** Nesting level of the call the arrow belongs to (0 for top-level calls). */
  readonly level: number;
}

/** A note over one or two lifelines. */
export interface Note {
  readonly type: 'note';
  readonly over: readonly string[];
  readonly text: string;
  /**
   * Why the note is there: `own-work` and `queue-wait` (timed mode only),
   * `folded` (the size guard), `batch` (the consumer handled several messages,
   * see `batchNote`), `exception` (a call that did not fail recorded an
   * exception event: a caught error, a fallback), `body-unread` (an HTTP
   * reply whose body was never read), `after-response` (calls that ran on
   * after the response was sent), `connection-wait` (timed mode only: a query
   * waited for a pooled connection, before its request arrow), `clock-skew`
   * (a consumer whose clock put it before its publish, drawn after it, or a
   * span of one process recorded wholly before its parent, drawn at its start),
   * `no-response-status` (an HTTP call that ended with no response status
   * and its span status unset: not drawn as failed, not as `ok` either),
   * `incomplete` (spans whose parent link was missing or broken, drawn by
   * their start time under the nearest span known; first in the diagram).
   * `exception`, `body-unread` and `no-response-status` follow the call's reply.
   */
  readonly reason:
    | 'own-work'
    | 'queue-wait'
    | 'batch'
    | 'folded'
    | 'exception'
    | 'body-unread'
    | 'no-response-status'
    | 'incomplete'
    | 'after-response'
    | 'connection-wait'
    | 'clock-skew';
  /** Nesting level of the calls the note sits among. */
  readonly level: number;
  readonly spanId?: string;
}

/** Calls that overlapped in time: one branch per lane, each branch serial. */
export interface ParBlock {
  readonly type: 'par';
  readonly label: string;
  readonly branches: readonly (readonly SequenceItem[])[];
  /**
   * One per branch: whom the branch's calls go to (`users`, `postgresql blog,
   * redis`), or '' for every branch when all branches call the same
   * participants and a label would add nothing. The renderer prints them on
   * the `and` lines; the first branch sits right under the block's label.
   */
  readonly branchLabels: readonly string[];
  readonly spanIds: readonly string[];
}

/** Repeated identical serial calls (N+1), drawn once inside a loop. */
export interface LoopBlock {
  readonly type: 'loop';
  readonly label: string;
  readonly count: number;
  readonly totalMs: number;
  readonly p50Ms: number;
  /** Every folded call; the first is the one drawn. */
  readonly spanIds: readonly string[];
  readonly items: readonly SequenceItem[];
}

/** Anything that appears in the diagram body. */
export type SequenceItem = Message | Note | ParBlock | LoopBlock;

/** A folded N+1 group, as flagged in the model. */
export interface RepeatGroup {
  /** The span whose children repeat (undefined at the top level). */
  readonly parentSpanId: string | undefined;
  readonly label: string;
  /** Display name of the participant called. */
  readonly target: string;
  readonly count: number;
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly spanIds: readonly string[];
}

/** A trace as a sequence diagram, before it becomes text. */
export interface SequenceModel {
  readonly participants: readonly Participant[];
  readonly items: readonly SequenceItem[];
  /** Every arrow in text order: `arrows[n - 1].number === n`. */
  readonly arrows: readonly ArrowRef[];
  readonly messageCount: number;
  /** Oddities of the trace and of the drawing (orphans, skew, folding...). */
  readonly notes: readonly string[];
  /** N+1 groups folded into loops. */
  readonly repeats: readonly RepeatGroup[];
  /** Number of `par` blocks among the calls the client waited for (not those drawn after a response). */
  readonly parGroups: number;
  /** Whether timings are shown. */
  readonly timings: boolean;
}

/** Limits used by the size guard; not part of the public options. */
export interface FoldLimits {
  /** Drawn levels kept; deeper calls are folded into a note. */
  readonly maxDepth?: number;
  /** Items kept per level; the rest are folded into a note. */
  readonly maxItems?: number;
  /** Span ids of calls whose nested calls are folded into one note, wherever they are. */
  readonly foldSpanIds?: ReadonlySet<string>;
  /**
   * Stop building once this many arrows exist: the size guard uses it to
   * give up early on a drawing that is certainly too long.
   */
  readonly maxArrows?: number;
  /**
   * The only build of this layout (a small trace drawn whole): the texts of
   * each call, the runs of each list of calls, the dependencies between calls
   * and the notes on work after a response are not remembered for the
   * layout, where later builds would find them. Remembering costs more than
   * it saves when no build follows.
   */
  readonly once?: boolean;
}

/**
 * Nesting deeper than this is folded. Mermaid cannot usefully draw it anyway,
 * and it bounds the recursion of the builder and renderer.
 */
export const MAX_DRAWN_DEPTH = 200;
