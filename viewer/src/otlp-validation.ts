/**
 * The receiver's rule for span and event times, one rule for OTLP/JSON and
 * protobuf alike. Protobuf (proto3) leaves a zero out of the wire, so "0" and
 * "absent" cannot be told apart there; the rule treats them as one in both
 * encodings:
 *
 * - a span whose start time is absent or 0 is refused, its place named
 *   (`resourceSpans[0].scopeSpans[0].spans[3].startTimeUnixNano is missing or 0`);
 * - so is a span with an event whose time is absent or 0 (OTLP requires it,
 *   and no place on the timeline can be made up for it): the span, not the
 *   request, as the importers skip such a span and name it;
 * - an end time absent or 0 is kept as a span that never ended, and an end
 *   before the start is kept and drawn with zero duration; the answer's
 *   partial success says how many spans are such (see {@link endTimeNotes}).
 */
import type { Span } from '@lifeline/core';

/** Whether an OTLP/JSON time (decimal text or a JSON number) is absent or zero. */
function isMissingTime(value: unknown): boolean {
  if (value === undefined || value === null || value === 0) return true;
  return typeof value === 'string' && /^\s*0*\s*$/.test(value);
}

/**
 * Why the receiver refuses a span for its times, naming the field's place
 * (`place` is the span's own, e.g. `resourceSpans[0].scopeSpans[0].spans[3]`),
 * or undefined when its start and event times are present. Values that are
 * present but malformed or out of range are left to the converter, which
 * names them too.
 *
 * @param raw one span in its OTLP/JSON form (protobuf bodies are read in that form when they need checking).
 */
export function spanTimeProblem(raw: unknown, place: string): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const span = raw as Record<string, unknown>;
  if (isMissingTime(span.startTimeUnixNano)) return `${place}.startTimeUnixNano is missing or 0`;
  const events = span.events;
  if (!Array.isArray(events)) return undefined;
  for (const [i, event] of events.entries()) {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) continue;
    if (isMissingTime((event as Record<string, unknown>).timeUnixNano)) {
      return `${place}.events[${i}].timeUnixNano is missing or 0`;
    }
  }
  return undefined;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/**
 * Notes for the answer's partial success about stored spans whose end is
 * odd: absent or 0 (kept as spans that never ended, as the trace page shows
 * them) or before the start (drawn with zero duration). Empty when none is.
 */
export function endTimeNotes(spans: readonly Span[]): string[] {
  let unended = 0;
  let backwards = 0;
  for (const span of spans) {
    if (span.endTimeNs === undefined) unended++;
    else if (span.endTimeNs < span.startTimeNs) backwards++;
  }
  const notes: string[] = [];
  if (unended > 0) {
    notes.push(
      `${plural(unended, 'span has', 'spans have')} no end time (endTimeUnixNano missing or 0): kept as never ended`,
    );
  }
  if (backwards > 0) {
    notes.push(`${plural(backwards, 'span ends', 'spans end')} before it starts: kept, drawn with zero duration`);
  }
  return notes;
}
