import { type Tracer, trace } from '@opentelemetry/api';
import { hrTimeDuration, hrTimeToMilliseconds } from '@opentelemetry/core';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PreciseStartSpanProcessor, spanClockProblem } from './precise-start.js';

/** A tracer whose spans pass through the processor under test, then into memory. */
interface Recorder {
  readonly tracer: Tracer;
  readonly exporter: InMemorySpanExporter;
  shutdown(): Promise<void>;
}

/**
 * Two real SDK set-ups: `TracerProvider` of sdk-trace, and the Node
 * SDK that `startLifeline()` runs (it brings its own, newer span class).
 */
const setups: Record<string, () => Recorder> = {
  'TracerProvider of sdk-trace': () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [new PreciseStartSpanProcessor(), new SimpleSpanProcessor({ exporter: exporter })],
    });
    return { tracer: provider.getTracer('precise-start-test'), exporter, shutdown: () => provider.shutdown() };
  },
  'the Node SDK': () => {
    const exporter = new InMemorySpanExporter();
    const sdk = new NodeSDK({
      serviceName: 'precise-start-test',
      spanProcessors: [new PreciseStartSpanProcessor(), new SimpleSpanProcessor({ exporter: exporter })],
      instrumentations: [],
      resourceDetectors: [],
      metricReaders: [],
      logRecordProcessors: [],
    });
    sdk.start();
    return { tracer: trace.getTracer('precise-start-test'), exporter, shutdown: () => sdk.shutdown() };
  },
};

/** Now on the clock `hrTime()` of @opentelemetry/core reads, in ms since the epoch. */
function preciseNowMs(): number {
  return performance.timeOrigin + performance.now();
}

function busyWaitMs(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Spinning, not sleeping: the span must measure time that really passed on this thread.
  }
}

function finished(recorder: Recorder, name: string): ReadableSpan[] {
  return recorder.exporter.getFinishedSpans().filter((span) => span.name === name);
}

// How far the processor's anchor may sit from performance.timeOrigin: a few
// microseconds, while it settles on what Date.now() proves. The SDK's own
// whole-millisecond start misses by up to a millisecond.
const toleranceMs = 0.05;

describe.each(Object.keys(setups))('PreciseStartSpanProcessor with %s', (setup) => {
  let recorder: Recorder;
  beforeAll(() => {
    recorder = setups[setup]?.() ?? expect.unreachable(`no set-up named ${setup}`);
  });
  afterAll(async () => {
    await recorder.shutdown();
  });

  it('starts every span at the sub-millisecond moment it was started', () => {
    const windows: { before: number; after: number }[] = [];
    for (let i = 0; i < 40; i++) {
      const before = preciseNowMs();
      const span = recorder.tracer.startSpan('moment');
      const after = preciseNowMs();
      span.end();
      windows.push({ before, after });
      // Spread the spans over different phases of the millisecond.
      busyWaitMs(0.13);
    }
    const spans = finished(recorder, 'moment');
    expect(spans).toHaveLength(windows.length);
    spans.forEach((span, i) => {
      const startMs = hrTimeToMilliseconds(span.startTime);
      const window = windows[i];
      expect(startMs).toBeGreaterThanOrEqual((window?.before ?? Number.NaN) - toleranceMs);
      expect(startMs).toBeLessThanOrEqual((window?.after ?? Number.NaN) + toleranceMs);
    });
    // Whole milliseconds are what the SDK gives without the processor.
    const wholeMs = spans.filter((span) => span.startTime[1] % 1_000_000 === 0);
    expect(wholeMs.length).toBeLessThan(spans.length / 2);
  });

  it('keeps every start within the millisecond Date.now() reports', () => {
    for (let i = 0; i < 40; i++) {
      const before = Date.now();
      const span = recorder.tracer.startSpan('wall-clock');
      const after = Date.now();
      span.end();
      const startMs = hrTimeToMilliseconds((span as unknown as ReadableSpan).startTime);
      expect(startMs).toBeGreaterThanOrEqual(before);
      expect(startMs).toBeLessThanOrEqual(after + 1);
    }
  });

  it('ends a span at its start plus the duration performance.now() measured', () => {
    const outerStart = performance.now();
    const span = recorder.tracer.startSpan('measured');
    const innerStart = performance.now();
    busyWaitMs(2.5);
    const innerEnd = performance.now();
    span.end();
    const outerEnd = performance.now();
    const [recorded] = finished(recorder, 'measured');
    if (recorded === undefined) throw new Error('the span was not exported');
    // Subtracted as HrTime: two float64 epoch milliseconds would round the difference.
    const durationMs = hrTimeToMilliseconds(hrTimeDuration(recorded.startTime, recorded.endTime));
    expect(durationMs).toBeGreaterThanOrEqual(innerEnd - innerStart);
    expect(durationMs).toBeLessThanOrEqual(outerEnd - outerStart);
    expect(hrTimeToMilliseconds(recorded.endTime)).toBeGreaterThanOrEqual(
      performance.timeOrigin + innerEnd - toleranceMs,
    );
    expect(hrTimeToMilliseconds(recorded.endTime)).toBeLessThanOrEqual(performance.timeOrigin + outerEnd + toleranceMs);
  });

  it('places events on the same clock as the corrected start', () => {
    const span = recorder.tracer.startSpan('events');
    busyWaitMs(0.3);
    const stamp = performance.now();
    span.addEvent('stamped with performance.now()', stamp);
    busyWaitMs(0.3);
    const before = preciseNowMs();
    span.addEvent('stamped by the span');
    const after = preciseNowMs();
    span.end();
    const [recorded] = finished(recorder, 'events');
    if (recorded === undefined) throw new Error('the span was not exported');
    const startMs = hrTimeToMilliseconds(recorded.startTime);
    const [stamped, unstamped] = recorded.events.map((event) => hrTimeToMilliseconds(event.time));
    expect(stamped).toBeGreaterThan(startMs);
    expect(stamped).toBeCloseTo(performance.timeOrigin + stamp, 1);
    expect(unstamped).toBeGreaterThan(stamped ?? Number.NaN);
    expect(unstamped).toBeGreaterThanOrEqual(before - toleranceMs);
    expect(unstamped).toBeLessThanOrEqual(after + toleranceMs);
    expect(hrTimeToMilliseconds(recorded.endTime)).toBeGreaterThan(unstamped ?? Number.NaN);
  });

  it('never lets a span start before the one ended just before it', () => {
    for (let i = 0; i < 300; i++) {
      recorder.tracer.startSpan('back-to-back').end();
    }
    const spans = finished(recorder, 'back-to-back');
    expect(spans).toHaveLength(300);
    // Exact nanoseconds: epoch milliseconds as a float are only good to a
    // few hundred nanoseconds, where back-to-back spans differ.
    const exact = (time: readonly [number, number] | undefined): bigint =>
      BigInt(time?.[0] ?? 0) * 1_000_000_000n + BigInt(time?.[1] ?? 0);
    for (let i = 1; i < spans.length; i++) {
      expect(exact(spans[i]?.startTime)).toBeGreaterThanOrEqual(exact(spans[i - 1]?.endTime));
    }
  });

  it('leaves a start time given by the span creator as it was given', () => {
    const given: [number, number] = [1_700_000_000, 123_456_789];
    recorder.tracer.startSpan('given', { startTime: given }).end();
    const [recorded] = finished(recorder, 'given');
    expect(recorded?.startTime).toEqual(given);
  });
});

describe('PreciseStartSpanProcessor on an SDK whose span changed', () => {
  it('warns once, at the first span, when the private clock fields are gone', () => {
    const warnings: string[] = [];
    const processor = new PreciseStartSpanProcessor({ warn: (message) => warnings.push(message) });
    const renamed = { startTime: [1, 0], _startTimeProvided: false, _perfStart: 5, _perfOffset: 0 };
    processor.onStart(renamed as unknown as Span);
    processor.onStart(renamed as unknown as Span);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Lifeline: .*concurrent.*_performanceStartTime, _performanceOffset/);
    expect(renamed.startTime).toEqual([1, 0]);
  });

  it('says nothing for the SDK it is built for, nor for a span given its start', () => {
    const warnings: string[] = [];
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [
        new PreciseStartSpanProcessor({ warn: (message) => warnings.push(message) }),
        new SimpleSpanProcessor({ exporter }),
      ],
    });
    const tracer = provider.getTracer('precise-start-check');
    tracer.startSpan('given', { startTime: Date.now() }).end();
    tracer.startSpan('measured').end();
    expect(exporter.getFinishedSpans()).toHaveLength(2);
    expect(warnings).toEqual([]);
    expect(spanClockProblem({ _startTimeProvided: true } as unknown as Span)).toBeUndefined();
    expect(
      spanClockProblem(
        Object.freeze({
          startTime: [1, 0],
          _startTimeProvided: false,
          _performanceStartTime: 1,
          _performanceOffset: 0,
        }) as unknown as Span,
      ),
    ).toMatch(/cannot be written/);
  });
});

/** Epoch nanoseconds of an HrTime, exactly. */
function exactNs(time: readonly [number, number] | undefined): bigint {
  return BigInt(time?.[0] ?? 0) * 1_000_000_000n + BigInt(time?.[1] ?? 0);
}

describe('PreciseStartSpanProcessor when the wall clock proves its anchor ahead', () => {
  const realNow = Date.now.bind(Date);
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function record(): { tracer: Tracer; exporter: InMemorySpanExporter } {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      spanProcessors: [new PreciseStartSpanProcessor(), new SimpleSpanProcessor({ exporter })],
    });
    return { tracer: provider.getTracer('precise-start-anchor'), exporter };
  }

  it('never starts a span before the end of the one it followed, however far the anchor has to settle', () => {
    const { tracer, exporter } = record();
    const first = tracer.startSpan('first');
    busyWaitMs(0.2);
    first.end();
    // The wall clock now says the anchor is two milliseconds ahead: what it
    // looks like while it settles, magnified so that a step back shows.
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 2);
    const second = tracer.startSpan('second');
    second.end();
    const third = tracer.startSpan('third');
    third.end();
    const [a, b, c] = exporter.getFinishedSpans();
    expect(exactNs(b?.startTime)).toBeGreaterThanOrEqual(exactNs(a?.endTime));
    expect(exactNs(c?.startTime)).toBeGreaterThanOrEqual(exactNs(b?.endTime));
  });

  it('settles on the wall clock once the time handed out allows it', () => {
    const { tracer, exporter } = record();
    tracer.startSpan('before').end();
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 2);
    busyWaitMs(3);
    const before = Date.now();
    tracer.startSpan('after a pause').end();
    const after = Date.now();
    const [, recorded] = exporter.getFinishedSpans();
    const startMs = hrTimeToMilliseconds(recorded?.startTime ?? [0, 0]);
    expect(startMs).toBeGreaterThanOrEqual(before);
    expect(startMs).toBeLessThanOrEqual(after + 1);
  });

  it('follows a wall clock set back by an hour at once', () => {
    const { tracer, exporter } = record();
    tracer.startSpan('before').end();
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000);
    const before = Date.now();
    tracer.startSpan('after the clock was set').end();
    const after = Date.now();
    const [, recorded] = exporter.getFinishedSpans();
    const startMs = hrTimeToMilliseconds(recorded?.startTime ?? [0, 0]);
    expect(startMs).toBeGreaterThanOrEqual(before);
    expect(startMs).toBeLessThanOrEqual(after + 1);
  });
});
