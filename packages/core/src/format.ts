/**
 * Human-readable durations for labels, notes and tables.
 */

/**
 * Formats a duration in milliseconds the way Lifeline prints it everywhere:
 * two significant figures below 10 ms, whole milliseconds below a second,
 * seconds below a minute, then minutes and hours.
 *
 * @example
 * ```ts
 * formatDuration(0.42); // '0.42 ms'
 * formatDuration(123.4); // '123 ms'
 * formatDuration(1530); // '1.53 s'
 * formatDuration(125_000); // '2 min 5 s'
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0 ms';
  if (ms < 1) return `${trimZeros(ms.toFixed(2))} ms`;
  if (ms < 10) return `${trimZeros(ms.toFixed(1))} ms`;
  // Thresholds sit where rounding would carry over (999.6 ms prints as 1 s, not 1000 ms).
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 9.995) return `${trimZeros(seconds.toFixed(2))} s`;
  if (seconds < 59.95) return `${trimZeros(seconds.toFixed(1))} s`;
  const totalSeconds = Math.round(seconds);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const rest = totalSeconds % 60;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  return rest > 0 ? `${minutes} min ${rest} s` : `${minutes} min`;
}

/** Converts a nanosecond span of time to milliseconds. */
export function nsToMs(ns: number): number {
  return ns / 1e6;
}

/**
 * A count and its noun, with an English plural `s` unless the count is 1.
 *
 * @example
 * ```ts
 * plural(1, 'span'); // '1 span'
 * plural(3, 'concurrent group'); // '3 concurrent groups'
 * ```
 */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function trimZeros(text: string): string {
  // 0.50 reads as 0.5 and 2.0 as 2: trailing zeros add no precision a reader can use.
  if (text.indexOf('.') < 0) return text;
  let end = text.length;
  while (text.charCodeAt(end - 1) === 48) end--;
  if (text.charCodeAt(end - 1) === 46) end--;
  return text.slice(0, end);
}

/** Shortens text to at most `max` characters (whole code points), ending with `…` when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  return `${points.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/**
 * Characters that do not belong in one line of display text: C0 and C1
 * controls (line breaks, tabs, escape sequences a terminal would obey), and
 * the invisible format characters that reorder or hide text (bidirectional
 * marks, overrides and isolates, the zero-width space, the byte-order mark;
 * not the joiners emoji sequences are made of).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is matched.
const NOT_DISPLAYED = /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

/**
 * A name as one line of at most `max` characters (whole code points) for a
 * table row, a summary line or a title: line breaks and tabs become spaces,
 * other control and invisible format characters are removed, runs of spaces
 * become one, and a longer text ends with `…`. For display only: a field that
 * is the name itself (JSON, an attribute) keeps it whole.
 *
 * @example
 * ```ts
 * displayName('GET /a\nX-Injected: 1\u001b[2J', 80); // 'GET /a X-Injected: 1[2J'
 * displayName('x'.repeat(100_000), 10); // 'xxxxxxxxx…'
 * ```
 */
export function displayName(text: string, max: number): string {
  // Only the start can be shown: cleaning a 100 kB name whole would be wasted work.
  const head = text.length > max * 4 + 64 ? text.slice(0, max * 4 + 64) : text;
  const clean = head
    .replace(/\r\n|[\r\n\t\v\f\u0085\u2028\u2029]/g, ' ')
    .replace(NOT_DISPLAYED, '')
    .replace(/ {2,}/g, ' ')
    .trim();
  const shown = truncate(clean, max);
  return head.length < text.length && !shown.endsWith('…') ? `${truncate(shown, Math.max(1, max - 1))}…` : shown;
}
