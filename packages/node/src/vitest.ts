/**
 * Vitest matchers for recorded flows. Importing this module (in a setup
 * file, or at the top of a test file) adds them to `expect`:
 *
 * - `expect(flow).toHaveNoNPlusOne()`
 * - `expect(flow).toRunConcurrently('SELECT articles', 'SELECT comments')`
 * - `expect(flow).toMakeCalls({ database: 2, http: 1 })`
 * - `expect(flow).toMatchFlowSnapshot()`: the timing-free Mermaid text in the
 *   test file's snapshot file; inline, Vitest's own `expect(flow.mermaid).toMatchInlineSnapshot()`.
 *
 * Each failure message says what was expected and shows the flow's diagram.
 */
import { AssertionError } from 'node:assert';
import { expect } from 'vitest';
import {
  checkCalls,
  checkNoNPlusOne,
  checkRunConcurrently,
  type ExpectedCalls,
  emptyFlowCheck,
  type FlowCheck,
  type RecordedFlow,
} from './flow.js';

function isFlow(value: unknown): value is RecordedFlow {
  return typeof value === 'object' && value !== null && 'traces' in value && 'flows' in value && 'mermaid' in value;
}

/**
 * Throws for a flow without a request, whether the matcher is negated or
 * not: `.not` on nothing recorded must fail as well.
 *
 * @throws {AssertionError}
 */
function failWhenEmpty(flow: RecordedFlow): void {
  const empty = emptyFlowCheck(flow);
  if (empty !== undefined) throw new AssertionError({ message: empty.message });
}

function run(received: unknown, check: (flow: RecordedFlow) => FlowCheck): { pass: boolean; message: () => string } {
  if (!isFlow(received)) {
    return { pass: false, message: () => 'expected the result of recordFlow(), got something else' };
  }
  failWhenEmpty(received);
  const result = check(received);
  return { pass: result.pass, message: () => result.message };
}

/** The matchers, for `expect.extend` in a runner with Jest-style `expect`. */
export const flowMatchers = {
  toHaveNoNPlusOne(received: unknown) {
    return run(received, checkNoNPlusOne);
  },
  toRunConcurrently(received: unknown, a: string, b: string) {
    return run(received, (flow) => checkRunConcurrently(flow, a, b));
  },
  toMakeCalls(received: unknown, expected: ExpectedCalls) {
    return run(received, (flow) => checkCalls(flow, expected));
  },
  toMatchFlowSnapshot(received: unknown, hint?: string) {
    if (!isFlow(received)) {
      return { pass: false, message: () => 'expected the result of recordFlow(), got something else' };
    }
    failWhenEmpty(received);
    // Vitest's own snapshot of the diagram text: its file, its `-u`, its diff on failure.
    if (hint === undefined) expect(received.mermaid).toMatchSnapshot();
    else expect(received.mermaid).toMatchSnapshot(hint);
    return { pass: true, message: () => 'expected the flow not to match its snapshot' };
  },
};

expect.extend(flowMatchers);

/** The matchers as they appear on `expect(flow)`. */
export interface FlowMatchers<R = unknown> {
  /** Passes when no request of the flow repeats a call three or more times in a row. */
  toHaveNoNPlusOne(): R;
  /** Passes when a call labelled `a` and one labelled `b` overlapped in time. */
  toRunConcurrently(a: string, b: string): R;
  /** Passes when the flow made exactly these numbers of calls of the kinds given. */
  toMakeCalls(expected: ExpectedCalls): R;
  /** Compares the flow's timing-free Mermaid text with the test's snapshot (written on the first run, or with `-u`). */
  toMatchFlowSnapshot(hint?: string): R;
}

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match Vitest's own declaration to merge with it.
  interface Matchers<T = any> extends FlowMatchers<T> {}
}
