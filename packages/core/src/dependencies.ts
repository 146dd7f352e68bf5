/**
 * Which serial calls could really have overlapped. A call that used an
 * earlier call's answer (a query by the id another query returned, the cache
 * write of what a read fetched after a cache miss) had to wait for it: running
 * the two concurrently was never possible, so no saving is offered for them.
 *
 * Two sources, both read from span attributes so that imported traces that
 * carry them work the same:
 * - `lifeline.depends_on`: the span ids of earlier calls of the same trace
 *   whose returned values this call sent (recorded by `@lifeline/node`);
 * - the cache-aside pattern: a cache read that missed
 *   (`lifeline.cache.hit` false), the calls made after it, and the cache write
 *   of the same key that ends them form one chain by construction.
 */
import { str } from './attributes.js';
import type { DrawnCall, TraceLayout } from './layout.js';
import type { Span } from './trace.js';

/** Span attribute: span ids of earlier calls whose answers this call used (a string array). */
export const DEPENDS_ON_ATTRIBUTE = 'lifeline.depends_on';

/** Span attribute on a cache read: `false` when it found nothing (a miss), `true` on a hit. */
export const CACHE_HIT_ATTRIBUTE = 'lifeline.cache.hit';

/** Why a call had to wait for earlier ones. */
export type DependencyReason = 'value' | 'cache-aside';

/** A call that used the answer of earlier sibling calls. */
export interface CallDependency {
  /** The earlier sibling calls it waited for, in start order. */
  readonly on: readonly DrawnCall[];
  readonly reason: DependencyReason;
}

/** Cache commands that read a key, and the ones that write it back. */
const CACHE_READS = new Set(['GET', 'HGET', 'GETEX', 'HGETALL', 'JSON.GET']);
const CACHE_WRITES = new Set(['SET', 'SETEX', 'PSETEX', 'SETNX', 'HSET', 'HMSET', 'JSON.SET']);

/** The command and key of a cache call, read from its statement (`get article:42`). */
function cacheCommand(call: DrawnCall): { command: string; key: string } | undefined {
  if (call.cls.category !== 'cache' || call.batch !== undefined) return undefined;
  const words = call.cls.queryText?.trim().split(/\s+/) ?? [];
  const command = (words[0] ?? call.node.span.name).toUpperCase();
  const key = words[1];
  // Redis instrumentations replace hidden arguments with "?": no key to compare.
  if (key === undefined || key === '?' || key.startsWith('[')) return undefined;
  return { command, key };
}

function dependsOnIds(span: Span): readonly string[] {
  const value = span.attributes[DEPENDS_ON_ATTRIBUTE];
  if (Array.isArray(value)) return value.filter((id): id is string => typeof id === 'string');
  const one = str(value);
  return one === undefined ? [] : one.split(',').map((id) => id.trim());
}

/**
 * The dependencies among sibling calls (the children of one drawn call, in
 * start order). Only an earlier sibling that had answered before the call
 * started counts: a value seen while both were in flight is a coincidence.
 * A `lifeline.depends_on` id may name the sibling itself, a command of its
 * batch, or any call nested inside it.
 *
 * @returns the dependent calls; empty (and cheap) when no span says anything.
 */
export function siblingDependencies(calls: readonly DrawnCall[]): Map<DrawnCall, CallDependency> {
  const result = new Map<DrawnCall, CallDependency>();
  if (calls.length < 2) return result;
  let valueEdges = false;
  let misses = false;
  for (const call of calls) {
    const a = call.node.span.attributes;
    if (a[DEPENDS_ON_ATTRIBUTE] !== undefined) valueEdges = true;
    if (a[CACHE_HIT_ATTRIBUTE] === false || a[CACHE_HIT_ATTRIBUTE] === 'false') misses = true;
  }
  if (!valueEdges && !misses) return result;
  const add = (call: DrawnCall, on: DrawnCall, reason: DependencyReason): void => {
    if (on === call || on.node.end > call.node.start) return;
    const known = result.get(call);
    if (known === undefined) result.set(call, { on: [on], reason });
    else if (!known.on.includes(on)) {
      const merged = [...known.on, on].sort((x, y) => calls.indexOf(x) - calls.indexOf(y));
      result.set(call, { on: merged, reason: known.reason });
    }
  };
  if (valueEdges) {
    const owner = new Map<string, DrawnCall>();
    for (const call of calls) {
      const stack: DrawnCall[] = [call];
      while (stack.length > 0) {
        const c = stack.pop() as DrawnCall;
        owner.set(c.node.span.spanId, call);
        for (const member of c.batch ?? []) owner.set(member.node.span.spanId, call);
        for (const child of c.children) stack.push(child);
      }
    }
    for (const call of calls) {
      const ids = [call.node.span, ...(call.batch ?? []).map((m) => m.node.span)].flatMap(dependsOnIds);
      for (const id of ids) {
        const on = owner.get(id);
        if (on !== undefined) add(call, on, 'value');
      }
    }
  }
  if (misses) cacheAside(calls, add);
  return result;
}

/**
 * A cache read that missed, then the reads it stands in for, then the cache
 * write of the same key: the reads used the miss (they ran because of it)
 * and the write stores what they returned.
 */
function cacheAside(
  calls: readonly DrawnCall[],
  add: (call: DrawnCall, on: DrawnCall, reason: DependencyReason) => void,
) {
  for (let i = 0; i < calls.length; i++) {
    const read = calls[i] as DrawnCall;
    const hit = read.node.span.attributes[CACHE_HIT_ATTRIBUTE];
    if (hit !== false && hit !== 'false') continue;
    const missed = cacheCommand(read);
    if (missed === undefined || !CACHE_READS.has(missed.command)) continue;
    for (let j = i + 1; j < calls.length; j++) {
      const write = calls[j] as DrawnCall;
      const written = cacheCommand(write);
      if (written === undefined || written.key !== missed.key || !CACHE_WRITES.has(written.command)) continue;
      const between = calls.slice(i + 1, j);
      for (const call of between) add(call, read, 'cache-aside');
      if (between.length === 0) add(write, read, 'cache-aside');
      for (const call of between) add(write, call, 'cache-aside');
      break;
    }
  }
}

/**
 * Whether a span says it used an answer or missed the cache: what
 * {@link siblingDependencies} looks for first. Read once per span, while it
 * is classified (`SpanClass.mayDepend`).
 */
export function mayDepend(span: Span): boolean {
  const a = span.attributes;
  const hit = a[CACHE_HIT_ATTRIBUTE];
  return a[DEPENDS_ON_ATTRIBUTE] !== undefined || hit === false || hit === 'false';
}

/** {@link layoutDependencies} of the layouts drawn lately, kept as long as the layout is. */
const byLayout = new WeakMap<TraceLayout, ReadonlyMap<DrawnCall, CallDependency>>();

/**
 * {@link siblingDependencies} of every list of siblings in a layout (its top
 * calls and each call's children), merged. Found once per layout: the size
 * guard builds one layout's diagram many times, and a trace where no span
 * says anything (most of them) costs one pass over its calls.
 */
export function layoutDependencies(layout: TraceLayout): ReadonlyMap<DrawnCall, CallDependency> {
  let found = byLayout.get(layout);
  if (found !== undefined) return found;
  found = layoutDependenciesUncached(layout);
  byLayout.set(layout, found);
  return found;
}

/** {@link layoutDependencies} without remembering them, for a layout drawn only once. */
export function layoutDependenciesUncached(layout: TraceLayout): ReadonlyMap<DrawnCall, CallDependency> {
  const all = new Map<DrawnCall, CallDependency>();
  // The tree noted whether any span says so (spans that are no calls too): then the calls are walked.
  if (layout.tree.mayDepend ?? layout.calls.some((call) => call.cls.mayDepend)) {
    for (const [call, dependency] of siblingDependencies(layout.top)) all.set(call, dependency);
    for (const parent of layout.calls) {
      for (const [call, dependency] of siblingDependencies(parent.children)) all.set(call, dependency);
    }
  }
  return all;
}

/**
 * The least time a run of serial calls could take if every call that did not
 * use another's answer had run concurrently: the longest chain of calls
 * that did, durations added along it.
 *
 * @param calls the run, in start order
 * @param durationMs each call's duration in milliseconds
 * @param dependencies from {@link siblingDependencies}; calls outside `calls` are ignored
 */
export function longestChainMs(
  calls: readonly DrawnCall[],
  durationMs: (call: DrawnCall) => number,
  dependencies: ReadonlyMap<DrawnCall, CallDependency>,
): number {
  const finish = new Map<DrawnCall, number>();
  let longest = 0;
  for (const call of calls) {
    let ready = 0;
    for (const on of dependencies.get(call)?.on ?? []) ready = Math.max(ready, finish.get(on) ?? 0);
    const done = ready + durationMs(call);
    finish.set(call, done);
    longest = Math.max(longest, done);
  }
  return longest;
}
