import { DiagLogLevel, diag, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { samplerFromEnv, spanLimitsFromEnv } from './sdk-env.js';

const traceId = 'ffffffffffffffffffffffffffffffff';
const sampledParent = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
});

function decide(context = ROOT_CONTEXT, id = traceId): SamplingDecision {
  return samplerFromEnv().shouldSample(context, id, 'span', SpanKind.INTERNAL, {}, []).decision;
}

describe('samplerFromEnv', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    diag.disable();
  });

  it('samples every root and follows the parent when OTEL_TRACES_SAMPLER is unset', () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', '');
    expect(decide()).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(samplerFromEnv().toString()).toMatch(/ParentBased/);
  });

  it('builds each sampler the specification names', () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_off');
    expect(decide()).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(sampledParent)).toBe(SamplingDecision.NOT_RECORD);
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_always_off');
    expect(decide()).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(sampledParent)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_on');
    expect(decide()).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'traceidratio');
    vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '0');
    expect(decide(ROOT_CONTEXT, '00000000000000000000000000000001')).toBe(SamplingDecision.NOT_RECORD);
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio');
    expect(decide()).toBe(SamplingDecision.NOT_RECORD);
    expect(decide(sampledParent)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '1');
    expect(decide()).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('warns and keeps the default for a sampler it does not build or a ratio out of range', () => {
    const warn = vi.fn();
    diag.setLogger({ warn, error: vi.fn(), info: vi.fn(), debug: vi.fn(), verbose: vi.fn() }, DiagLogLevel.WARN);
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'xray');
    expect(decide()).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'traceidratio');
    vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '2');
    expect(decide()).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([
      expect.stringContaining('"xray"'),
      expect.stringContaining('"2"'),
    ]);
  });
});

describe('spanLimitsFromEnv', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('is empty when nothing is set, so the SDK keeps its defaults', () => {
    expect(spanLimitsFromEnv()).toEqual({});
  });

  it('reads the span limits, the span ones before the general attribute ones', () => {
    vi.stubEnv('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', '100');
    vi.stubEnv('OTEL_ATTRIBUTE_COUNT_LIMIT', '50');
    vi.stubEnv('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', '20');
    vi.stubEnv('OTEL_SPAN_EVENT_COUNT_LIMIT', '5');
    vi.stubEnv('OTEL_SPAN_LINK_COUNT_LIMIT', '3');
    vi.stubEnv('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', '7');
    vi.stubEnv('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', '9');
    expect(spanLimitsFromEnv()).toEqual({
      attributeValueLengthLimit: 100,
      attributeCountLimit: 20,
      eventCountLimit: 5,
      linkCountLimit: 3,
      attributePerEventCountLimit: 7,
      attributePerLinkCountLimit: 9,
    });
  });
});
