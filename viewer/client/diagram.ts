/**
 * Draws the sequence diagram with the bundled Mermaid and makes each arrow
 * clickable. Mermaid draws messages in order, one `.messageText` per arrow, so
 * the n-th message text, line and autonumber all belong to arrow n of the
 * model's arrow→span table.
 */
import mermaid from 'mermaid';

/**
 * Mermaid refuses text above maxTextSize. Lifeline's diagrams are folded to
 * stay under 50,000 characters (Mermaid's default, which GitHub keeps), so a
 * slightly higher ceiling renders everything the core produces.
 */
export const MAX_TEXT_SIZE = 55_000;

let renderCount = 0;

function prefersDark(): boolean {
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
}

/** The Mermaid settings the viewer draws with (the benchmark's bare Mermaid page uses them too). */
export function mermaidConfig(dark: boolean): Parameters<typeof mermaid.initialize>[0] {
  return {
    startOnLoad: false,
    securityLevel: 'strict',
    maxTextSize: MAX_TEXT_SIZE,
    theme: dark ? 'dark' : 'default',
    fontFamily: 'ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    sequence: { useMaxWidth: false, mirrorActors: true, showSequenceNumbers: true },
  };
}

function configure(): void {
  mermaid.initialize(mermaidConfig(prefersDark()));
}

/**
 * Has Mermaid load its sequence diagram code now (a chunk of its own, loaded
 * on first use), so that it is ready when the page's text arrives. Nothing is
 * drawn; a failure here is the render's to report.
 */
export function warmUpDiagrams(): void {
  configure();
  void mermaid.parse('sequenceDiagram\nA->>B: x', { suppressErrors: true }).catch(() => undefined);
}

/** A rendered diagram. */
export interface RenderedDiagram {
  readonly svg: SVGSVGElement;
  /** Number of messages Mermaid drew (equals the model's messageCount when all is well). */
  readonly messageCount: number;
  /** Marks arrow `n` as selected (or clears the selection with undefined). */
  select(arrow: number | undefined): void;
}

/**
 * Mermaid's SVG for `text`, drawn with the viewer's settings but not yet in
 * the page. Mermaid measures every label by adding it to the page and reading
 * its size back, so drawing while the page is small costs less than drawing
 * into a page already built (see the trace page).
 *
 * @throws Error (rejects) when Mermaid cannot parse or draw the text.
 */
export async function drawSvg(text: string): Promise<string> {
  configure();
  const id = `lifeline-diagram-${++renderCount}`;
  const { svg } = await mermaid.render(id, text);
  return svg;
}

/**
 * Renders `text` into `container`. `onSelect` receives the arrow number when a
 * message text, its line or its autonumber is clicked or activated by keyboard.
 * `drawn` is the SVG of `text` when {@link drawSvg} already started drawing it.
 */
export async function renderDiagram(
  container: HTMLElement,
  text: string,
  onSelect: (arrow: number) => void,
  drawn: Promise<string> = drawSvg(text),
): Promise<RenderedDiagram> {
  const svg = await drawn;
  // Mermaid's output (sanitised under securityLevel 'strict') is parsed in an
  // inert template, where nothing loads or runs, and moved into the page as it
  // is. Mermaid serialises its SVG as HTML does, so the HTML parser reads it
  // back exactly, and in about half the time an XML parse took.
  const template = document.createElement('template');
  template.innerHTML = svg;
  const element = template.content.firstElementChild as unknown as SVGSVGElement;
  if (!(element instanceof SVGSVGElement)) throw new Error('Mermaid produced SVG that could not be parsed');
  element.classList.add('diagram-svg');

  const texts = [...element.querySelectorAll<SVGTextElement>('text.messageText')];
  const lines = [...element.querySelectorAll<SVGElement>('.messageLine0, .messageLine1')];
  const numbers = [...element.querySelectorAll<SVGElement>('text.sequenceNumber')];
  texts.forEach((node, index) => {
    const arrow = index + 1;
    node.dataset.arrow = String(arrow);
    node.setAttribute('tabindex', '0');
    node.setAttribute('role', 'button');
    node.setAttribute('aria-label', `Arrow ${arrow}: ${node.textContent ?? ''}`);
  });
  lines.forEach((node, index) => {
    node.dataset.arrow = String(index + 1);
  });
  numbers.forEach((node, index) => {
    node.dataset.arrow = String(index + 1);
  });
  // Marked and sized while still outside the page: hundreds of attribute
  // changes on a tree already laid out would each invalidate its style again,
  // and the page is then laid out once with the diagram in it.
  fitToWidth(element, container);
  container.replaceChildren(element);

  const arrowOf = (target: EventTarget | null): number | undefined => {
    const hit = target instanceof Element ? target.closest<SVGElement>('[data-arrow]') : null;
    const value = hit?.dataset.arrow;
    return value === undefined ? undefined : Number(value);
  };
  element.addEventListener('click', (event) => {
    const arrow = arrowOf(event.target);
    if (arrow !== undefined) onSelect(arrow);
  });
  element.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    const arrow = arrowOf(event.target);
    if (arrow === undefined) return;
    event.preventDefault();
    onSelect(arrow);
  });

  return {
    svg: element,
    messageCount: texts.length,
    select(arrow) {
      for (const node of element.querySelectorAll('.is-selected')) node.classList.remove('is-selected');
      if (arrow === undefined) return;
      for (const node of element.querySelectorAll(`[data-arrow="${arrow}"]`)) node.classList.add('is-selected');
    },
  };
}

/**
 * Mermaid sizes the SVG to its natural width. A diagram a little wider than
 * the card is scaled to fit, so it reads at a glance; a much wider one keeps
 * its size (scrolling sideways) because shrinking it further would make the
 * text unreadable. Sizes `svg` before it goes into the page, reading the
 * width `container` offers once emptied (no old diagram to lay out again).
 */
function fitToWidth(svg: SVGSVGElement, container: HTMLElement): void {
  const natural = svg.viewBox.baseVal?.width || Number.parseFloat(svg.getAttribute('width') ?? '') || 0;
  container.replaceChildren();
  const available = container.clientWidth - 32;
  svg.removeAttribute('height');
  if (natural > 0 && available > 0 && natural > available && available / natural >= 0.6) {
    svg.setAttribute('width', '100%');
    svg.style.maxWidth = `${natural}px`;
  } else {
    svg.setAttribute('width', String(Math.ceil(natural)));
    svg.style.maxWidth = 'none';
  }
}

/** Re-renders when the colour scheme changes, so the diagram matches the page. */
export function onColorSchemeChange(callback: () => void): void {
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener('change', callback);
}
