/**
 * The part of jsdom's API the Mermaid test helper uses (jsdom ships no types
 * of its own; this stands in for @types/jsdom).
 */
declare module 'jsdom' {
  export interface ConstructorOptions {
    /** Makes layout-related APIs (requestAnimationFrame, …) exist, as in a visible page. */
    readonly pretendToBeVisual?: boolean;
  }
  export class JSDOM {
    constructor(html?: string, options?: ConstructorOptions);
    readonly window: Window & typeof globalThis;
  }
}
