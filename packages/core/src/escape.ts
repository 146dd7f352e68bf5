/**
 * The one escaper every text from a span passes through on its way into
 * Mermaid: no span name, attribute or error message can break the diagram
 * or inject markup.
 */
// Mermaid decodes these entity codes after parsing, so they can stand for any
// character the grammar would otherwise read as syntax.
const ENTITIES: Readonly<Record<string, string>> = {
  '#': '#35;',
  ';': '#59;',
  '%': '#37;',
  '<': '#lt;',
  '>': '#gt;',
  '&': '#amp;',
  '"': '#quot;',
  '`': '#96;',
  '{': '#123;',
  '}': '#125;',
  '\\': '#92;',
  ':': '#58;',
  ',': '#44;',
};
const TEXT_SPECIALS = /[#;%<>&"`{}\\]/g;
const NAME_SPECIALS = /[#;%<>&"`{}\\:,]/g;
// Control characters, line and paragraph separators, and lone surrogates would
// end a statement or garble the text: they become spaces.
const BREAKING =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this removes.
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// Text made only of these characters, with no leading or doubled spaces, is already what the escaper would produce.
const SAFE_NAME = /^[\w./*×·()'=+!?@$^~|[\]-]+(?: [\w./*×·()'=+!?@$^~|[\]-]+)*$/;
const SAFE_TEXT = /^[\w./*×·()'=+!?@$^~|[\]:,-]+(?: [\w./*×·()'=+!?@$^~|[\]:,-]+)*$/;

/** Options for {@link escapeMermaidText}. */
export interface EscapeOptions {
  /** Participant display names also escape `:` and `,`. */
  readonly name?: boolean;
  /** Longer text is cut with `…`. Default 120. */
  readonly maxLength?: number;
}

/**
 * Escapes text for a Mermaid sequence diagram: one line, no character the
 * grammar treats as syntax (`;` `#` `%%` `<` `>` `{` `}` quotes...), each
 * replaced by Mermaid's `#code;` entity, and truncated.
 *
 * @example
 * ```ts
 * escapeMermaidText('a; b <script>'); // 'a#59; b #lt;script#gt;'
 * ```
 */
export function escapeMermaidText(text: string, options: EscapeOptions = {}): string {
  const max = options.maxLength ?? 120;
  // Most labels are plain words: skip the replacements when nothing needs them.
  if (text.length <= max && (options.name ? SAFE_NAME : SAFE_TEXT).test(text) && !/^[\s:]*(?:no)?wrap/i.test(text)) {
    return text;
  }
  let s = String(text).replace(BREAKING, ' ').replace(/\s+/g, ' ').trim();
  if (s.length > max) {
    const points = Array.from(s);
    if (points.length > max)
      s = `${points
        .slice(0, max - 1)
        .join('')
        .trimEnd()}…`;
  }
  if (s === '') return options.name ? '(unnamed)' : '…';
  s = s.replace(options.name ? NAME_SPECIALS : TEXT_SPECIALS, (ch) => ENTITIES[ch] ?? ch);
  // Mermaid reads a leading "wrap:" or "nowrap:" as a directive and drops it from the text.
  if (/^[\s:]*(?:no)?wrap/i.test(s)) s = s.replace(/:/g, '#58;');
  return s;
}
