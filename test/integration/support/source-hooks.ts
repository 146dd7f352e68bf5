/**
 * Preloaded into the integration apps (`node --import ./support/source-hooks.ts`)
 * so they run Lifeline straight from its TypeScript sources, as the tests do:
 * workspace packages resolve through their `source` export condition, and a
 * relative `./x.js` import inside a `.ts` file loads `./x.ts`, as the
 * TypeScript compiler maps it. Published builds never need this.
 */
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

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
