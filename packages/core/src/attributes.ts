/** Reading span attributes, which instrumentations record with loose types. */
import type { AttributeValue, Span } from './trace.js';

/** Span attribute with the seconds a query waited for a pooled connection. */
export const CONNECTION_WAIT_ATTRIBUTE = 'db.client.connection.wait_time';

/** An attribute value as text: numbers and booleans as their text, anything else undefined. */
export function str(value: AttributeValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** An attribute value as a finite number: digit strings read as numbers, anything else undefined. */
export function num(value: AttributeValue | undefined): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/** Reads the first of some string attributes that is set, accepting numbers and booleans as their text. */
export function stringAttribute(span: Span, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = str(span.attributes[key]);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Reads the first of some numeric attributes that is set, accepting digit strings. */
export function numberAttribute(span: Span, keys: readonly string[]): number | undefined {
  // A list, not rest parameters: callers pass constant lists, so reading an attribute allocates nothing.
  for (const key of keys) {
    const value = num(span.attributes[key]);
    if (value !== undefined) return value;
  }
  return undefined;
}
