/**
 * Formatting shared by the list and the trace page.
 */
import type { Attributes, AttributeValue } from '@lifeline/core';

export { displayName, formatDuration, nsToMs, plural } from '@lifeline/core';

/** Local wall-clock time of a nanosecond timestamp, with milliseconds. */
export function formatClock(ns: number): string {
  const date = new Date(ns / 1e6);
  const time = date.toLocaleTimeString(undefined, { hour12: false });
  return `${time}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** Local date and time, for headings and tooltips. */
export function formatDateTime(ns: number): string {
  return new Date(ns / 1e6).toLocaleString(undefined, { hour12: false });
}

/** Today's times show the clock only; older ones the date too. */
export function formatWhen(ns: number): string {
  const date = new Date(ns / 1e6);
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return formatClock(ns);
  return `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${formatClock(ns)}`;
}

/** An attribute value as text (arrays as JSON so their structure stays visible). */
export function formatAttribute(value: AttributeValue | undefined): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

/** Attribute entries sorted by key, without empty values. */
export function attributeEntries(attributes: Attributes): [string, string][] {
  return Object.entries(attributes)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]): [string, string] => [key, formatAttribute(value)])
    .sort(([a], [b]) => a.localeCompare(b));
}
