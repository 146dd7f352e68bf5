/**
 * Sub-millisecond span start times.
 *
 * The OpenTelemetry SDK (the `SpanImpl` of `@opentelemetry/sdk-trace` 2.x and
 * 3.x, which `@opentelemetry/sdk-trace` and the Node SDK use) starts a
 * span whose start time is not given at `Date.now()`: whole milliseconds. It
 * then ends the span at start + a precise `performance.now()` duration. So a
 * span can start up to 1 ms before it really did while its duration stays
 * right, and two calls made one after the other within the same millisecond
 * look as if they overlapped: an awaited query followed by another would be
 * drawn as a `par` block, and a loop of quick queries as many.
 *
 * The SDK keeps what it measured on the span: `_performanceStartTime` (the
 * `performance.now()` of the start), `_performanceOffset` (how far
 * `Date.now()` was from `timeOrigin + performance.now()` at that moment) and
 * `_startTimeProvided`. Its `_getTime()` computes the end and every event
 * without an explicit time as `startTime + (performance.now() −
 * _performanceStartTime)`, and an event stamped with a `performance.now()`
 * value `t` as `timeOrigin + t + _performanceOffset`. Replacing `startTime`
 * with the precise moment and `_performanceOffset` with the offset that
 * moment was computed with keeps all three consistent.
 */
import type { HrTime } from '@opentelemetry/api';
import { isTimeInputHrTime } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** The fields of the SDK's span this processor reads and corrects. */
interface SpanClock {
  startTime: HrTime;
  _startTimeProvided: boolean;
  _performanceStartTime: number;
  _performanceOffset: number;
}

/**
 * The largest step back the anchor takes in one go without regard to the
 * times already handed out, in nanoseconds. A wall clock that moved back
 * further was set (by hand or by NTP stepping it, which takes 128 ms of
 * disagreement): following it at once is then the lesser evil. Smaller
 * disagreements are the anchor settling, and are taken only as far as keeps
 * the process's times in order.
 */
const CLOCK_SET_BACK_NS = 100_000_000n;

const NS_PER_MS = 1_000_000;

/** Epoch nanoseconds of an HrTime. */
function hrTimeToNs(time: HrTime): bigint {
  return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
}

/** The HrTime of epoch nanoseconds. */
function nsToHrTime(ns: bigint): HrTime {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/**
 * Whole nanoseconds of milliseconds: a `performance.now()` reading or
 * difference, or an epoch time, whose product with 10⁶ as one float64 would
 * round to 256 ns; whole milliseconds and their fraction are converted apart.
 */
function msToNs(ms: number): bigint {
  const whole = Math.trunc(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * NS_PER_MS));
}

/**
 * What is wrong with the span's clock fields for this processor, or undefined
 * when they are what it corrects. A span whose creator gave the start time
 * (`_startTimeProvided` true) has nothing to correct and passes.
 */
export function spanClockProblem(span: Span): string | undefined {
  const fields = span as unknown as Partial<Record<keyof SpanClock, unknown>>;
  if (fields._startTimeProvided === true) return undefined;
  const missing: string[] = [];
  if (typeof fields._startTimeProvided !== 'boolean') missing.push('_startTimeProvided');
  if (typeof fields._performanceStartTime !== 'number') missing.push('_performanceStartTime');
  if (typeof fields._performanceOffset !== 'number') missing.push('_performanceOffset');
  if (!isTimeInputHrTime(fields.startTime)) missing.push('startTime');
  if (missing.length > 0) return `the span has no ${missing.join(', ')} of the expected type`;
  const descriptor = Object.getOwnPropertyDescriptor(span, 'startTime');
  if (descriptor !== undefined && !descriptor.writable && descriptor.set === undefined) {
    return "the span's startTime cannot be written";
  }
  return undefined;
}

/** The span's clock fields when it is the SDK's own span and its start time was not given; else `undefined`. */
function spanClock(span: Span): SpanClock | undefined {
  const fields = span as unknown as Partial<Record<keyof SpanClock, unknown>>;
  if (
    fields._startTimeProvided !== false ||
    typeof fields._performanceStartTime !== 'number' ||
    typeof fields._performanceOffset !== 'number' ||
    !isTimeInputHrTime(fields.startTime)
  ) {
    return undefined;
  }
  return fields as SpanClock;
}

/**
 * A span processor that gives every span started without an explicit start
 * time a start with sub-millisecond precision, so calls made one after the
 * other never look as if they overlapped. Put it first in the list of span
 * processors, so that the ones after it see the corrected start.
 *
 * The start is `performance.timeOrigin + performance.now()` (what
 * `hrTime()` of `@opentelemetry/core` returns) as long as that agrees with the
 * wall clock. The monotonic clock behind `performance.now()` does not follow
 * the wall clock when the system is suspended or its time is set, which is
 * why the SDK anchors starts to `Date.now()`. So at every span this processor
 * also reads `Date.now()` just before and just after `performance.now()`:
 * whole milliseconds, but enough to prove its anchor wrong, and then it moves
 * the anchor by the smallest step that makes it agree again. Starts thus stay
 * within a millisecond of the wall clock, as the SDK's own do, while spans of
 * one process keep their precise order.
 *
 * The times of one process never run backwards: a span that starts after
 * another ended (or started) never starts before that end (or start). The
 * SDK ends a span on the anchor its start was given, so an anchor moved back
 * by even a few microseconds while it settles would put the next call's start
 * before the end of the call it followed, and the two would be drawn as
 * overlapping. The anchor therefore moves back only as far as keeps every
 * new start at or after the latest start and end handed out so far; the rest
 * of the step waits for the next span. Only a wall clock set back by more
 * than 100 ms is followed at once.
 *
 * Spans given a start time by their creator are left as they are.
 *
 * @example
 * ```ts
 * import { NodeSDK } from '@opentelemetry/sdk-node';
 * import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
 * import { PreciseStartSpanProcessor } from '@lifeline/node';
 *
 * const sdk = new NodeSDK({
 *   spanProcessors: [new PreciseStartSpanProcessor(), new BatchSpanProcessor({ exporter: exporter })],
 * });
 * ```
 */
export class PreciseStartSpanProcessor implements SpanProcessor {
  /**
   * Estimated wall-clock time, in ns since the epoch, at which
   * `performance.now()` was zero: `performance.timeOrigin` until the wall
   * clock proves it wrong.
   */
  #originNs = msToNs(performance.timeOrigin);

  /**
   * The latest start or end handed out to a span this processor corrected,
   * ns since the epoch: no span started later may start before it.
   */
  #latestNs = 0n;

  /** Spans whose start this processor set: their ends are on its clock. */
  readonly #corrected = new WeakSet<object>();

  /** Whether the first span has been checked for the SDK fields this processor writes. */
  #checked = false;

  /** Where the warning about an SDK whose span changed goes; stderr unless a test listens. */
  readonly #warn: (message: string) => void;

  /**
   * @param options.warn - receives the one warning given when the SDK's span
   *   lacks the private fields this processor corrects (a release renamed
   *   them); stderr by default.
   */
  constructor(options: { warn?: (message: string) => void } = {}) {
    this.#warn = options.warn ?? ((message) => process.stderr.write(`${message}\n`));
  }

  /** Moves the start of a span that was not given one to the precise moment it began. */
  onStart(span: Span): void {
    if (!this.#checked) {
      // The first span of the process proves the SDK still keeps its clock
      // where this processor reads and writes it. If a release moved it, the
      // processor silently does nothing, and calls made back to back would be
      // drawn as concurrent again: so say it, once.
      const problem = spanClockProblem(span);
      if (problem !== undefined || (span as unknown as { _startTimeProvided?: unknown })._startTimeProvided !== true) {
        this.#checked = true;
      }
      if (problem !== undefined) {
        this.#warn(
          `Lifeline: span starts keep whole milliseconds, so calls made one right after the other may be drawn as concurrent: this OpenTelemetry SDK's span changed (${problem})`,
        );
      }
    }
    const clock = spanClock(span);
    if (clock === undefined) return;
    const startedNs = msToNs(clock._performanceStartTime);
    this.#followWallClock(startedNs);
    // Summed in whole nanoseconds, not as one float64 near 1.7e12 ms (which
    // rounds to a quarter microsecond), so two starts differ by exactly what
    // performance.now() measured between them.
    const startNs = this.#originNs + startedNs;
    clock.startTime = nsToHrTime(startNs);
    if (startNs > this.#latestNs) this.#latestNs = startNs;
    this.#corrected.add(span);
    // Events stamped with a performance.now() value are placed at
    // timeOrigin + value + _performanceOffset; with the offset of this
    // processor's origin they fall where the precise start says they do.
    clock._performanceOffset = Number(this.#originNs - msToNs(performance.timeOrigin)) / NS_PER_MS;
  }

  /**
   * Keeps the anchor consistent with the wall clock, without running the
   * process's times backwards, for a span whose `performance.now()` start is
   * `startedNs`. Date.now() is the wall clock rounded down to the
   * millisecond, so a reading taken before performance.now() says the anchor
   * is at least `before - now`, and one taken after says it is less than
   * `after + 1 - now`. Bounds derived this way hold however long the thread
   * is paused between the readings (a single comparison of the SDK's own two
   * readings would not: a pause between them looks like a clock running
   * fast), so the anchor moves only when the clocks really parted: after a
   * suspend, when the time was set, or by a few microseconds while it
   * settles after start-up.
   */
  #followWallClock(startedNs: bigint): void {
    const before = Date.now();
    const nowNs = msToNs(performance.now());
    const after = Date.now();
    const lowest = BigInt(before) * 1_000_000n - nowNs;
    const highest = BigInt(after + 1) * 1_000_000n - nowNs;
    if (this.#originNs < lowest) {
      this.#originNs = lowest;
    } else if (this.#originNs > highest) {
      // Back only as far as keeps this start at or after every time handed
      // out before it, unless the wall clock was set back (see CLOCK_SET_BACK_NS).
      const inOrder = this.#latestNs - startedNs;
      if (this.#originNs - highest > CLOCK_SET_BACK_NS || inOrder <= highest) this.#originNs = highest;
      else if (inOrder < this.#originNs) this.#originNs = inOrder;
    }
  }

  /**
   * Remembers the end of a span whose start this processor set, so that no
   * span started later starts before it. An end given by the span's creator
   * counts only as far as the span's own clock had come by then: a time in
   * the future must not drag the anchor along.
   */
  onEnd(span: ReadableSpan): void {
    if (!this.#corrected.has(span)) return;
    const clock = span as unknown as Partial<SpanClock>;
    if (typeof clock._performanceStartTime !== 'number') return;
    const clockNowNs = hrTimeToNs(span.startTime) + msToNs(performance.now() - clock._performanceStartTime);
    let latest = hrTimeToNs(span.endTime);
    if (clockNowNs < latest) latest = clockNowNs;
    if (latest > this.#latestNs) this.#latestNs = latest;
  }

  /** Holds nothing, so there is nothing to flush. */
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Holds nothing, so there is nothing to release. */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
