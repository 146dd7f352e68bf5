/**
 * A tiny DOM builder. Every piece of text goes in through text nodes, so no
 * span name, attribute or error message can ever be parsed as markup.
 */

/** What an element can contain: nodes, text, or nothing (skipped). */
export type Child = Node | string | number | null | undefined | false;

/** Properties understood by {@link h}. */
export interface Props {
  className?: string;
  /** Plain attributes (set with setAttribute; values are never parsed as markup). */
  attrs?: Record<string, string | number | boolean | undefined>;
  dataset?: Record<string, string>;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (event: HTMLElementEventMap[K]) => void }>;
  style?: Partial<Record<'width' | 'left' | 'marginLeft' | 'paddingLeft' | 'minWidth', string>>;
}

/** Creates an element with properties and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props !== null) {
    if (props.className !== undefined) element.className = props.className;
    for (const [name, value] of Object.entries(props.attrs ?? {})) {
      if (value === undefined || value === false) continue;
      element.setAttribute(name, value === true ? '' : String(value));
    }
    for (const [name, value] of Object.entries(props.dataset ?? {})) element.dataset[name] = value;
    for (const [name, listener] of Object.entries(props.on ?? {})) {
      element.addEventListener(name, listener as EventListener);
    }
    for (const [name, value] of Object.entries(props.style ?? {})) {
      if (value !== undefined) element.style[name as 'width'] = value;
    }
  }
  append(element, ...children);
  return element;
}

/** Appends children, turning strings and numbers into text nodes. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(
      typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child,
    );
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}
