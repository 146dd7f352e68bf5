/**
 * The span cap of one drawn trace, shared by the viewer's trace page and
 * `lifeline export`, so both read, draw and analyse the same spans and their
 * Mermaid texts are the same bytes.
 */
import { escapeMermaidText } from './escape.js';
import type { TraceDiagram } from './mermaid.js';

/**
 * Most spans of one trace that the viewer's trace page and `lifeline export`
 * read, draw and analyse: the earliest started. A trace of 316,000 spans took
 * 11 s and 108 MB of JSON to send whole; drawn whole it is a loop of 300,000
 * calls no browser renders. The rest of a larger trace is read a page at a
 * time (`GET /api/traces/:id/spans`, `lifeline export --all-spans`).
 */
export const MAX_TRACE_SPANS = 10_000;

/**
 * The note that says a trace was cut to its earliest spans, e.g. "This trace
 * has 250,000 spans: the earliest 10,000 by start time are drawn". The
 * viewer and `lifeline export` print the same one in the diagram, so their
 * texts stay the same bytes.
 *
 * @param spanCount - every span of the trace
 * @param drawn - the spans read and drawn
 */
export function truncationNote(spanCount: number, drawn: number): string {
  return `This trace has ${spanCount.toLocaleString('en-US')} spans: the earliest ${drawn.toLocaleString('en-US')} by start time are drawn`;
}

/**
 * Puts a note at the top of a drawn diagram: in its text, as the first
 * statement after the participant declarations (a `Note over` spanning the
 * first and last participant, which parses on Mermaid 10.9 and later), and
 * first in `model.notes`. The text grows by the note's line (at most about
 * 260 characters): draw with a `maxTextLength` that leaves room for it.
 *
 * @param diagram - a diagram from `traceToMermaid`
 * @param text - the note, cut at 240 characters in the text
 * @param modelNote - what `model.notes` gets instead, e.g. with a pointer to the rest (default `text`)
 * @returns a new diagram; the same one when it has no participants
 */
export function withLeadingNote(diagram: TraceDiagram, text: string, modelNote: string = text): TraceDiagram {
  const participants = diagram.model.participants;
  const first = participants[0];
  const last = participants[participants.length - 1];
  if (first === undefined || last === undefined) return diagram;
  const over = first.id === last.id ? first.id : `${first.id},${last.id}`;
  const lines = diagram.text.split('\n');
  // renderMermaid prints `sequenceDiagram`, `autonumber`, then one line per participant.
  const at = 2 + participants.length;
  lines.splice(at, 0, `Note over ${over}: ${escapeMermaidText(text, { maxLength: 240 })}`);
  return {
    ...diagram,
    text: lines.join('\n'),
    model: { ...diagram.model, notes: [modelNote, ...diagram.model.notes] },
  };
}
