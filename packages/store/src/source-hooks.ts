import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

let registered = false;

/**
 * Lets Node run the store straight from its TypeScript sources (the writer
 * thread under Vitest, cross-process test children): workspace packages
 * resolve through their `source` export condition, and a relative `./x.js`
 * import from a `.ts` file loads `./x.ts` when only that exists, as the
 * TypeScript compiler would. Built code (dist) never needs this.
 */
export function registerSourceHooks(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const conditions = context.conditions.includes('source') ? context.conditions : [...context.conditions, 'source'];
      const parent = context.parentURL;
      if (
        parent?.startsWith('file:') &&
        parent.endsWith('.ts') &&
        specifier.endsWith('.js') &&
        (specifier.startsWith('./') || specifier.startsWith('../'))
      ) {
        const asJs = new URL(specifier, parent);
        const asTs = new URL(`${specifier.slice(0, -3)}.ts`, parent);
        if (!existsSync(fileURLToPath(asJs)) && existsSync(fileURLToPath(asTs))) {
          return nextResolve(asTs.href, { ...context, conditions });
        }
      }
      return nextResolve(specifier, { ...context, conditions });
    },
  });
}
