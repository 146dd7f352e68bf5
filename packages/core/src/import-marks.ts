/**
 * Marks that the OTLP receiver and the file importers leave on a span whose
 * input was valid but odd, so that the trace page and the diagram can say so
 * long after the import's own output is gone.
 */
import type { Span } from './trace.js';

/**
 * Span attribute holding the span kind as sent (e.g. `"9"`) when it is not
 * one OTLP defines: the span is kept as SPAN_KIND_UNSPECIFIED (drawn as
 * internal), as OTLP asks of receivers for unknown enum values.
 */
export const UNKNOWN_KIND_ATTRIBUTE = 'lifeline.import.unknown_span_kind';

/**
 * Span attribute listing the keys of double attributes that were NaN or
 * ±Infinity (kept as the text OTLP/JSON writes for them, since JSON and the
 * store hold no such numbers). Keys of event attributes are prefixed with
 * `event <name>: `, of resource attributes with `resource: `.
 */
export const NON_FINITE_ATTRIBUTE = 'lifeline.import.non_finite_attributes';

/**
 * Whether a span carries either mark: the tree asks while it reads each span,
 * and passes only the marked ones to {@link importMarkNotes}.
 */
export function hasImportMarks(span: Span): boolean {
  const attributes = span.attributes;
  return (
    attributes !== undefined &&
    attributes !== null &&
    (attributes[UNKNOWN_KIND_ATTRIBUTE] !== undefined || attributes[NON_FINITE_ATTRIBUTE] !== undefined)
  );
}

/**
 * Notes about the marks of {@link UNKNOWN_KIND_ATTRIBUTE} and
 * {@link NON_FINITE_ATTRIBUTE} on the given spans, each kind once with a count
 * and up to three examples; empty when no span is marked.
 */
export function importMarkNotes(spans: Iterable<Span>): string[] {
  const kinds = new Map<string, number>();
  let unknownKindSpans = 0;
  const keys = new Set<string>();
  let nonFiniteSpans = 0;
  for (const span of spans) {
    const attributes = span.attributes;
    if (attributes === undefined || attributes === null) continue;
    const kind = attributes[UNKNOWN_KIND_ATTRIBUTE];
    if (kind !== undefined) {
      unknownKindSpans++;
      const name = String(kind);
      kinds.set(name, (kinds.get(name) ?? 0) + 1);
    }
    const nonFinite = attributes[NON_FINITE_ATTRIBUTE];
    if (nonFinite !== undefined) {
      nonFiniteSpans++;
      for (const key of Array.isArray(nonFinite) ? nonFinite : [nonFinite]) if (keys.size < 4) keys.add(String(key));
    }
  }
  const notes: string[] = [];
  if (unknownKindSpans > 0) {
    notes.push(
      `${unknownKindSpans === 1 ? '1 span has' : `${unknownKindSpans} spans have`} a span kind OTLP does not define (${examples(kinds.keys())}): kept as SPAN_KIND_UNSPECIFIED, drawn as internal`,
    );
  }
  if (nonFiniteSpans > 0) {
    notes.push(
      `${nonFiniteSpans === 1 ? '1 span has' : `${nonFiniteSpans} spans have`} a double attribute that is NaN or ±Infinity (${examples(keys.values())}): kept as the text "NaN", "Infinity" or "-Infinity"`,
    );
  }
  return notes;
}

function examples(values: Iterable<string>): string {
  const all = [...values];
  const shown = all.slice(0, 3).map((value) => JSON.stringify(value));
  return all.length > 3 ? `${shown.join(', ')}, …` : shown.join(', ');
}
