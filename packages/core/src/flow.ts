/**
 * A request's flow: the calls of its sequence diagram as a tree, in the
 * order they are drawn, with what a reviewer compares between two runs of a
 * change (loops, overlap, errors) and no span ids in their identity. Read
 * from the same layout and by the same rules (`arrangeChildren`,
 * `splitRepeats`) as the diagram, so a flow never disagrees with its picture.
 */
import { classifySpan, type ParticipantKind } from './classify.js';
import { type CallDependency, siblingDependencies } from './dependencies.js';
import {
  arrangeChildren,
  type DrawnCall,
  isRepeatRun,
  layoutTrace,
  outlivesResponse,
  type RepeatRun,
  responseTime,
  splitRepeats,
  type TraceLayout,
  workAfterResponse,
} from './layout.js';
import { callOutcome, errorMessage, spanFailed } from './outcome.js';
import type { Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/**
 * What a call is, for counting: `database` queries, `cache` commands,
 * outgoing `http` (and RPC) requests, `queue` publishes; `entry` is the
 * request itself, `consume` a message handled, `internal` an internal span
 * drawn as a self-call.
 */
export type FlowCallKind = 'entry' | 'database' | 'cache' | 'http' | 'queue' | 'consume' | 'internal';

/** One call of a flow (a drawn arrow and its reply), or a loop of the same call repeated. */
export interface FlowCall {
  /**
   * Identity used to align two flows: caller, callee and label
   * (`svc:api > db:postgresql:blog SELECT comments`). No span ids and no
   * times, so two recordings of the same code give the same keys.
   */
  readonly key: string;
  /** The arrow's label: `SELECT comments`, `GET /users/:id`, `GET article:*`. */
  readonly label: string;
  /** Display names of the caller and the callee. */
  readonly from: string;
  readonly to: string;
  readonly toKind: ParticipantKind;
  readonly kind: FlowCallKind;
  /** 1 for a single call; the loop's count for three or more identical serial calls (the N+1 pattern). */
  readonly count: number;
  /** Every span the call stands for (all the loop's calls; all a batch's commands). */
  readonly spanIds: readonly string[];
  /** The span the diagram draws (the loop's first call). */
  readonly spanId: string;
  /**
   * Set when the call ran concurrently with siblings (drawn in one `par`
   * block with them): the same number for every call of that block.
   */
  readonly parGroup?: number;
  /**
   * Labels of the earlier sibling calls whose answers this call used (see
   * dependencies.ts): it could not have run beside them.
   */
  readonly usesAnswerOf?: readonly string[];
  /** Whether the call (any of a loop's calls) failed. */
  readonly failed: boolean;
  /** The error text of a failed call. */
  readonly error?: string;
  /** HTTP status code the caller received. */
  readonly statusCode?: number;
  /** Time the call took, summed over a loop's calls, in milliseconds. */
  readonly durationMs: number;
  /** The call ran on after the response it belongs to was sent (the client did not wait for it). */
  readonly afterResponse: boolean;
  /** Calls made in turn, in drawn order (a loop's: those of its first call). */
  readonly children: readonly FlowCall[];
}

/** A request's flow: its top-level calls (usually one: the request itself). */
export interface Flow {
  readonly calls: readonly FlowCall[];
  /** Calls per kind, every call of a loop counted (a Redis MULTI or pipeline is one round trip). */
  readonly counts: Readonly<Record<FlowCallKind, number>>;
  /** Calls per callee (display name), every call of a loop counted; the request itself left out. */
  readonly byParticipant: Readonly<Record<string, number>>;
}

/**
 * Reads the flow of a trace.
 *
 * @example
 * ```ts
 * const flow = traceFlow(trace);
 * flow.calls[0]?.children.map((call) => `${call.count}× ${call.label}`); // ['1× SELECT articles', '6× SELECT authors']
 * flow.counts.database; // 7
 * ```
 */
export function traceFlow(trace: Trace): Flow {
  return layoutFlow(layoutTrace(buildSpanTree(trace)));
}

/** Reads the flow of an existing layout. */
export function layoutFlow(layout: TraceLayout): Flow {
  const after = new Set<DrawnCall>();
  for (const entry of workAfterResponse(layout)) for (const call of entry.calls) after.add(call);
  let groups = 0;
  const counts: Record<FlowCallKind, number> = {
    entry: 0,
    database: 0,
    cache: 0,
    http: 0,
    queue: 0,
    consume: 0,
    internal: 0,
  };
  const byParticipant: Record<string, number> = {};
  for (const call of layout.calls) {
    const kind = callKind(call);
    counts[kind]++;
    if (kind !== 'entry') byParticipant[call.to.name] = (byParticipant[call.to.name] ?? 0) + 1;
  }

  const one = (
    call: DrawnCall,
    repeat: RepeatRun | undefined,
    parGroup: number | undefined,
    outlived: boolean,
    dependencies: ReadonlyMap<DrawnCall, CallDependency>,
  ): FlowCall => {
    const members = repeat?.calls ?? [call];
    const spanIds: string[] = [];
    let durationNs = 0;
    let failedCall: DrawnCall | undefined;
    for (const member of members) {
      if (member.batch) for (const part of member.batch) spanIds.push(part.node.span.spanId);
      else spanIds.push(member.node.span.spanId);
      durationNs += member.node.end - member.node.start;
      if (failedCall === undefined && failed(member)) failedCall = member;
    }
    const outcome = callOutcome(call);
    const error = failedCall === undefined ? undefined : errorText(failedCall);
    const usesAnswerOf = dependencies.get(call)?.on.map((on) => on.label || '(unnamed)');
    return {
      key: `${call.from.key} > ${call.to.key} ${call.label}`,
      label: call.label || '(unnamed)',
      from: call.from.name,
      to: call.to.name,
      toKind: call.to.kind,
      kind: callKind(call),
      count: members.length,
      spanIds,
      spanId: call.node.span.spanId,
      ...(parGroup !== undefined ? { parGroup } : {}),
      ...(usesAnswerOf !== undefined ? { usesAnswerOf } : {}),
      failed: failedCall !== undefined,
      ...(error !== undefined ? { error } : {}),
      ...(outcome.statusCode !== undefined ? { statusCode: outcome.statusCode } : {}),
      durationMs: Math.round(durationNs / 1e3) / 1e3,
      afterResponse: outlived || after.has(call),
      children: children(call, outlived || after.has(call)),
    };
  };

  const pieces = (
    calls: readonly DrawnCall[],
    parGroup: number | undefined,
    outlived: boolean,
    dependencies: ReadonlyMap<DrawnCall, CallDependency>,
  ): FlowCall[] =>
    splitRepeats(calls).map((piece) =>
      isRepeatRun(piece)
        ? one(piece.calls[0] as DrawnCall, piece, parGroup, outlived, dependencies)
        : one(piece, undefined, parGroup, outlived, dependencies),
    );

  const arrange = (kids: readonly DrawnCall[], outlived: boolean): FlowCall[] => {
    const out: FlowCall[] = [];
    const dependencies = siblingDependencies(kids);
    for (const run of arrangeChildren(kids)) {
      if (run.type === 'serial') {
        out.push(...pieces(run.calls, undefined, outlived, dependencies));
        continue;
      }
      const group = ++groups;
      const members: FlowCall[] = [];
      for (const lane of run.lanes) members.push(...pieces(lane, group, outlived, dependencies));
      // Calls started together come in any order from one run to the next:
      // sorted by identity, two recordings of the same code align call for call.
      members.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      out.push(...members);
    }
    return out;
  };

  function children(call: DrawnCall, outlived: boolean): FlowCall[] {
    if (call.children.length === 0) return [];
    const response = responseTime(call);
    // What the response waited for first, then what ran on after it, as the diagram draws them.
    const waited = call.children.filter((child) => !outlivesResponse(response, child.node));
    const later = call.children.filter((child) => outlivesResponse(response, child.node));
    return [...arrange(waited, outlived), ...arrange(later, true)];
  }

  return { calls: arrange(layout.top, false), counts, byParticipant };
}

function callKind(call: DrawnCall): FlowCallKind {
  switch (call.role) {
    case 'entry':
      return 'entry';
    case 'consume':
      return 'consume';
    case 'publish':
      return 'queue';
    case 'self':
      return 'internal';
    case 'call':
      switch (call.cls.category) {
        case 'db':
          return 'database';
        case 'cache':
          return 'cache';
        default:
          return 'http';
      }
  }
}

function failed(call: DrawnCall): boolean {
  if (call.batch) return call.batch.some((member) => spanFailed(member.node));
  return spanFailed(call.node);
}

function errorText(call: DrawnCall): string {
  const member = call.batch?.find((part) => spanFailed(part.node)) ?? call;
  const outcome = callOutcome(member);
  const text = outcome.message ?? errorMessage(member.node);
  const status = outcome.statusCode;
  const trimmed = text.replace(/\s+/g, ' ').trim();
  if (status !== undefined && !trimmed.includes(String(status))) return trimmed ? `${status} ${trimmed}` : `${status}`;
  return trimmed || classifySpan(member.node.span).label || 'error';
}

/**
 * Every call of a flow, depth first, with its parent (undefined at the top).
 *
 * @example
 * ```ts
 * for (const { call, depth } of walkFlow(flow.calls)) console.log(' '.repeat(depth * 2) + call.label);
 * ```
 */
export function* walkFlow(
  calls: readonly FlowCall[],
  parent?: FlowCall,
  depth = 0,
): Generator<{ call: FlowCall; parent: FlowCall | undefined; depth: number }> {
  for (const call of calls) {
    yield { call, parent, depth };
    yield* walkFlow(call.children, call, depth + 1);
  }
}
