/**
 * Reading a rendered diagram the way a person would: which blocks it has and
 * which arrows. Every diagram is also checked by the real Mermaid parser.
 */
import type { Trace } from '@lifeline/core';
import { traceToMermaid } from '@lifeline/core';
import { parseMermaid } from '@lifeline/test-support/mermaid';

/** The diagram's text, once Mermaid's own parser has accepted it. */
export async function validDiagram(trace: Trace): Promise<string> {
  const { text } = traceToMermaid(trace, { timings: false });
  await parseMermaid(text);
  return text;
}

/** Lines of the diagram that open or continue a block of the given keyword (`par`, `and`, `loop`). */
export function blockLines(text: string, keyword: string): string[] {
  return text.split('\n').filter((line) => new RegExp(`^\\s*${keyword}\\b`).test(line));
}

/** Async arrows (`-)`), as drawn for queue publish and process. */
export function asyncArrows(text: string): string[] {
  return text.split('\n').filter((line) => /-\)/.test(line));
}
