/**
 * Batches: commands sent to a database or cache in one round trip (a Redis
 * `MULTI … EXEC` transaction or a pipeline, a database batch) and recorded as
 * one span per command. The diagram draws such a batch as one call naming its
 * commands with one reply, because the commands share one round trip: drawn
 * as siblings they would claim to be N independent concurrent calls.
 *
 * What the instrumentations record (read from their sources):
 * - `@opentelemetry/instrumentation-ioredis`: a span per command named after
 *   it (`set`), `db.operation.name` prefixed `MULTI ` inside a transaction and
 *   `PIPELINE ` inside a pipeline (`MULTI set`), and for a transaction two
 *   bracket spans `multi` and `exec` whose operation is the bare command;
 * - `@opentelemetry/instrumentation-redis` (node-redis v4/v5): spans named
 *   `redis-SET`, whose `db.operation.name` becomes `MULTI`/`PIPELINE` when the
 *   batch ends (`MULTI SET` when every command is the same) and whose
 *   `db.query.text` is the command with its key (`SET key [1 other arguments]`);
 * - older ioredis instrumentation releases: the same spans with only
 *   `db.system` and `db.statement` (`set k ?`), no operation name, so nothing
 *   marks a command as part of a transaction: the `multi` and `exec` bracket
 *   spans around it (same target and parent span) are the only sign;
 * - the database semantic conventions record a batch as one span (operation
 *   name `BATCH …`, `db.operation.batch.size`): one call already, labelled as a
 *   batch by `classifySpan`.
 */
import type { Span } from './trace.js';

/**
 * The kind of batch a span belongs to, as its operation name says. (A
 * semantic-conventions `BATCH` operation is one span for the whole batch: it
 * is one call already, and only its label says so.)
 */
export type BatchKind = 'MULTI' | 'PIPELINE';

/** How one span takes part in a batch. */
export interface BatchMember {
  readonly kind: BatchKind;
  /**
   * The command the span sent (`SET`), or undefined for a bracket: the
   * `multi` that opens a transaction and the `exec` that sends it.
   */
  readonly command: string | undefined;
  /** `open` for a `multi` bracket, `close` for an `exec` bracket. */
  readonly bracket?: 'open' | 'close';
  /**
   * True when the span does not say it is in a batch (a Redis command without
   * an operation name): it is a member only between a `multi` and an `exec`
   * bracket, themselves recorded so, of the same target and parent span.
   */
  readonly delimited?: boolean;
  /**
   * Which batch the span was sent in, when its recorder says so
   * ({@link BATCH_ID_ATTRIBUTE}): members of different batches are never
   * grouped together, however close in time they were sent.
   */
  readonly batch?: string;
}

/**
 * Span attribute naming the batch (transaction or pipeline) a command was
 * sent in: any string, the same on every command of one batch and different
 * for every other batch of the process. Lifeline's Node.js recorder sets it,
 * so that two batches sent at once on one connection are two calls.
 */
export const BATCH_ID_ATTRIBUTE = 'lifeline.db.batch.id';

/** Database systems whose commands can be bracketed by `multi` … `exec` (Redis and its protocol-compatible forks). */
const MULTI_SYSTEMS = new Set(['redis', 'valkey']);

const BATCH_OPERATION = /^(MULTI|PIPELINE)(?:\s+(\S+))?/i;

/**
 * How a database or cache span takes part in a batch, or undefined when it is
 * a call of its own. Only the operation name decides (the span name is read
 * for the command when no query text says it).
 */
export function batchMember(span: Span): BatchMember | undefined {
  const member = batchRole(span);
  const batch = span.attributes[BATCH_ID_ATTRIBUTE];
  if (member === undefined || (typeof batch !== 'string' && typeof batch !== 'number')) return member;
  return { ...member, batch: String(batch) };
}

function batchRole(span: Span): BatchMember | undefined {
  const a = span.attributes;
  const raw = a['db.operation.name'] ?? a['db.operation'];
  if (typeof raw !== 'string') return delimitedMember(span);
  const operation = raw.trim();
  const upper = operation.toUpperCase();
  const first = commandOf(span);
  if (upper === 'EXEC' && (first === undefined || first === 'EXEC')) {
    return { kind: 'MULTI', command: undefined, bracket: 'close' };
  }
  const match = BATCH_OPERATION.exec(operation);
  if (match === null) return undefined;
  const kind = (match[1] as string).toUpperCase() as BatchKind;
  // `MULTI set` (ioredis), `MULTI SET` (node-redis when every command is SET).
  if (match[2] !== undefined && match[0].length === operation.length) {
    return { kind, command: match[2].toUpperCase() };
  }
  if (match[0].length !== operation.length) return undefined;
  // A bare `MULTI`/`PIPELINE`: node-redis names the command in the query text or the span name.
  if (first !== undefined && first !== kind && first !== 'EXEC') return { kind, command: first };
  return kind === 'MULTI' ? { kind, command: undefined, bracket: 'open' } : { kind, command: undefined };
}

/**
 * How a Redis command recorded without an operation name may take part in a
 * transaction (see {@link BatchMember.delimited}): `multi` opens, `exec`
 * closes, any other command is a member when it falls between the two.
 */
function delimitedMember(span: Span): BatchMember | undefined {
  const a = span.attributes;
  const system = a['db.system.name'] ?? a['db.system'];
  if (typeof system !== 'string' || !MULTI_SYSTEMS.has(system.toLowerCase())) return undefined;
  const command = commandOf(span);
  if (command === undefined) return undefined;
  if (command === 'MULTI') return { kind: 'MULTI', command: undefined, bracket: 'open', delimited: true };
  if (command === 'EXEC') return { kind: 'MULTI', command: undefined, bracket: 'close', delimited: true };
  return { kind: 'MULTI', command, delimited: true };
}

/** The command a span sent: the first word of its query text, else the last word of its name (`redis-SET`). */
function commandOf(span: Span): string | undefined {
  const a = span.attributes;
  const text = a['db.query.text'] ?? a['db.statement'];
  const fromText = typeof text === 'string' ? /^\s*([A-Za-z][\w.]*)/.exec(text)?.[1] : undefined;
  if (fromText !== undefined) return fromText.toUpperCase();
  const fromName = /([A-Za-z][\w.]*)\s*$/.exec(span.name)?.[1];
  return fromName?.toUpperCase();
}

/**
 * Whether a member can make a batch among its siblings: one whose operation
 * name says it is in a batch, or a `multi` bracket. A command that does not
 * say so ({@link BatchMember.delimited}) joins a batch only after such a
 * bracket, so siblings with neither are left as they are by
 * {@link groupBatches}, and need not be grouped at all.
 */
export function startsBatch(member: BatchMember | undefined): boolean {
  return member !== undefined && (member.delimited !== true || member.bracket === 'open');
}

/** What {@link groupBatches} reads of a sibling call. */
export interface BatchView {
  readonly start: number;
  readonly end: number;
  /** How the call's span takes part in a batch (undefined: not a batch member). */
  readonly member: BatchMember | undefined;
  /** Identity of the participant called. */
  readonly target: string;
  /** The span the call's span is a child of (batch members share it), as a number unique in the trace. */
  readonly parentOrder: number;
}

/**
 * Groups sibling calls (in start order) into batches. Members of one batch
 * share the kind, the target and the parent span, and every one of them was
 * sent before the first reply of the batch came back (a round trip sends all
 * of its commands before it reads any reply): a member sent after that opens
 * another batch, so two batches that overlap stay two. A `multi` bracket
 * always opens a new transaction and `exec` closes it.
 *
 * Members that do not say they are in a batch ({@link BatchMember.delimited})
 * are grouped by their brackets only: a `multi` opens a transaction when an
 * `exec` of the same target and parent span follows it (before any other
 * `multi` there), and the commands sent between the two are its members, the
 * `exec` its last. A `multi` never followed by its `exec` and commands outside
 * any bracket stay calls of their own.
 *
 * Returns the siblings in the same order with each batch replaced by the list
 * of its members (in start order), placed where its first member was.
 * Members that name their batch ({@link BatchMember.batch}) are grouped with
 * that batch only. Without it, two batches sent in the same instant on one
 * connection cannot be told apart by their spans; they are drawn as one (so
 * is a command sent on another connection to the same target between a
 * `multi` and its `exec`, when neither says which connection it used).
 */
export function groupBatches<T>(siblings: readonly T[], view: (sibling: T) => BatchView): (T | T[])[] {
  // The batch still open for each kind, target and parent span (delimited ones apart).
  let open: Map<string, { members: T[]; firstEnd: number }> | undefined;
  let views: BatchView[] | undefined;
  const out: (T | T[])[] = [];
  for (let i = 0; i < siblings.length; i++) {
    const sibling = siblings[i] as T;
    const v = view(sibling);
    const member = v.member;
    if (member === undefined) {
      out.push(sibling);
      continue;
    }
    open ??= new Map();
    const key = `${member.delimited === true ? 'bracketed ' : ''}${member.kind}\u0000${v.target}\u0000${v.parentOrder}\u0000${member.batch ?? ''}`;
    if (member.delimited === true) {
      if (member.bracket === 'open') {
        views ??= siblings.map(view);
        if (!closedLater(views, i, key)) {
          out.push(sibling);
          continue;
        }
        const batch = { members: [sibling], firstEnd: v.end };
        open.set(key, batch);
        out.push(batch.members);
        continue;
      }
      const batch = open.get(key);
      if (batch === undefined) {
        out.push(sibling);
        continue;
      }
      batch.members.push(sibling);
      if (member.bracket === 'close') open.delete(key);
      continue;
    }
    let batch = member.bracket === 'open' ? undefined : open.get(key);
    // Sent after a reply of the open batch came back: another round trip.
    if (batch !== undefined && member.bracket !== 'close' && v.start >= batch.firstEnd) batch = undefined;
    if (batch === undefined) {
      batch = { members: [], firstEnd: v.end };
      open.set(key, batch);
      out.push(batch.members);
    }
    batch.members.push(sibling);
    if (v.end < batch.firstEnd) batch.firstEnd = v.end;
    if (member.bracket === 'close') open.delete(key);
  }
  return out;
}

/** Whether a delimited `exec` of the same key follows sibling `from` before another delimited `multi` does. */
function closedLater(views: readonly BatchView[], from: number, key: string): boolean {
  for (let j = from + 1; j < views.length; j++) {
    const v = views[j] as BatchView;
    const member = v.member;
    if (member?.delimited !== true || member.bracket === undefined) continue;
    if (`bracketed ${member.kind}\u0000${v.target}\u0000${v.parentOrder}\u0000${member.batch ?? ''}` !== key) continue;
    return member.bracket === 'close';
  }
  return false;
}

/** What a batch drawn as one call says: its kind, its label and the member that sent its first command. */
export interface BatchDescription<T> {
  readonly kind: BatchKind;
  /** See {@link batchLabel}; a batch recorded as one span counts the size it says it had. */
  readonly label: string;
  /** The first member that sent a command (not a bracket), if any. */
  readonly head: T | undefined;
}

/**
 * Describes the members of one batch (in start order, as {@link groupBatches}
 * returns them): the single rule for the label of a batch.
 */
export function describeBatch<T>(members: readonly T[], spanOf: (member: T) => Span): BatchDescription<T> {
  let kind: BatchKind = 'MULTI';
  let declared: number | undefined;
  let head: T | undefined;
  const commands: string[] = [];
  for (const member of members) {
    const span = spanOf(member);
    const info = batchMember(span);
    if (info !== undefined) kind = info.kind;
    const size = declaredBatchSize(span);
    if (size !== undefined && (declared === undefined || size > declared)) declared = size;
    if (info?.command !== undefined) {
      commands.push(info.command);
      head ??= member;
    }
  }
  return { kind, label: batchLabel(kind, commands, declared), head };
}

/** Commands named in a batch label before the rest are only counted. */
const MAX_NAMED = 4;

/**
 * The label of a batch: its kind and its commands in order, a run of the same
 * command counted (`MULTI SET, INCR, GET`; `PIPELINE GET ×3`;
 * `PIPELINE ×42 SET ×40, GET, DEL`). The total leads whenever the list does
 * not show each command once; `declared` is the size a batch recorded as one
 * span says it had ({@link declaredBatchSize}): `PIPELINE ×3` for a pipeline
 * span of three commands that names none.
 */
export function batchLabel(kind: BatchKind, commands: readonly string[], declared?: number): string {
  const runs: { command: string; count: number }[] = [];
  for (const command of commands) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.command === command) last.count++;
    else runs.push({ command, count: 1 });
  }
  // A batch recorded as one span says its size; its commands, when named at all, are fewer.
  const total = declared !== undefined && declared > commands.length ? declared : commands.length;
  if (runs.length === 0) return total > 1 ? `${kind} ×${total}` : kind;
  const shown = runs.slice(0, MAX_NAMED).map((r) => (r.count > 1 ? `${r.command} ×${r.count}` : r.command));
  if (runs.length > MAX_NAMED) shown.push('…');
  const list = shown.join(', ');
  if (total === commands.length && ((runs.length === commands.length && runs.length <= MAX_NAMED) || runs.length === 1))
    return `${kind} ${list}`;
  return `${kind} ×${total} ${list}`;
}

/**
 * How many operations a span says it carried: `db.operation.batch.size`
 * (OpenTelemetry database semantic conventions, set on a span that stands
 * for a whole batch, 2 or more), else undefined.
 */
export function declaredBatchSize(span: Span): number | undefined {
  const size = span.attributes[BATCH_SIZE_ATTRIBUTE];
  return typeof size === 'number' && Number.isInteger(size) && size >= 2 ? size : undefined;
}

/** Span attribute with the number of operations of a batch recorded as one span. */
export const BATCH_SIZE_ATTRIBUTE = 'db.operation.batch.size';
