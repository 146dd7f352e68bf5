/**
 * The trace settings of the OpenTelemetry SDK environment variables
 * (specification: "Environment Variable Specification" of opentelemetry-specification,
 * sections "General SDK Configuration" and "Span Limits"). `@opentelemetry/sdk-trace`
 * 3.x no longer reads the environment itself (2.x did), so Lifeline reads the
 * variables an app may already set for its tracer provider.
 */
import { diag } from '@opentelemetry/api';
import { getNumberFromEnv, getStringFromEnv } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  type SpanLimits,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/** The ratio of `OTEL_TRACES_SAMPLER_ARG`: a number from 0 to 1, else 1 (the specification's default) with a warning. */
function ratioFromEnv(): number {
  const raw = getStringFromEnv('OTEL_TRACES_SAMPLER_ARG');
  if (raw === undefined) return 1;
  const ratio = Number(raw);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  diag.warn(`Lifeline: OTEL_TRACES_SAMPLER_ARG "${raw}" is not a ratio from 0 to 1; 1 is used`);
  return 1;
}

/**
 * The sampler `OTEL_TRACES_SAMPLER` names (`always_on`, `always_off`,
 * `traceidratio` and their `parentbased_` forms, with the ratio in
 * `OTEL_TRACES_SAMPLER_ARG`); `parentbased_always_on`, the specification's
 * default, when it is unset or names a sampler Lifeline does not build
 * (`jaeger_remote`, `xray`), with a warning for the latter.
 */
export function samplerFromEnv(): Sampler {
  const name = getStringFromEnv('OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on';
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratioFromEnv());
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratioFromEnv()) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      diag.warn(`Lifeline: sampler "${name}" in OTEL_TRACES_SAMPLER is not supported; parentbased_always_on is used`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * Span limits from `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
 * `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT`,
 * `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT` and
 * `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, the span ones falling back to the
 * general `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` and `OTEL_ATTRIBUTE_COUNT_LIMIT`
 * as the specification says. A limit left unset keeps the SDK's default.
 */
export function spanLimitsFromEnv(): SpanLimits {
  const limits: SpanLimits = {};
  const read = (...names: string[]): number | undefined => {
    for (const name of names) {
      const value = getNumberFromEnv(name);
      if (value !== undefined && value >= 0) return value;
    }
    return undefined;
  };
  const set = (key: keyof SpanLimits, value: number | undefined) => {
    if (value !== undefined) limits[key] = value;
  };
  set('attributeValueLengthLimit', read('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'));
  set('attributeCountLimit', read('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'));
  set('eventCountLimit', read('OTEL_SPAN_EVENT_COUNT_LIMIT'));
  set('linkCountLimit', read('OTEL_SPAN_LINK_COUNT_LIMIT'));
  set('attributePerEventCountLimit', read('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT'));
  set('attributePerLinkCountLimit', read('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT'));
  return limits;
}
