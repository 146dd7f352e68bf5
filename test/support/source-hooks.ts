import { existsSync, readFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';

let registered = false;

/**
 * Lets Node run the store straight from its TypeScript sources (the writer
 * thread under Vitest, cross-process test children): workspace packages
 * resolve through their `source` export condition, and a relative `./x.js`
 * import from a `.ts` file loads `./x.ts` when only that exists, as the
 * TypeScript compiler would. Types are stripped (erased to whitespace, so
 * line and column numbers stay right), not transformed: the sources use only
 * erasable syntax (`erasableSyntaxOnly` in tsconfig), and Node 26 removed the
 * transform mode. Built code (dist) never needs this.
 */
export function registerSourceHooks(): void {
  if (registered) return;
  registered = true;
  // Worker threads (the store's writer) and child processes learn from this
  // where the hooks are, so they run from the sources too.
  process.env.LIFELINE_SOURCE_HOOKS ??= new URL('./register-source-hooks.ts', import.meta.url).href;
  // Every load of a .ts file would otherwise print that stripTypeScriptTypes is experimental.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.includes('stripTypeScriptTypes')) return;
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
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
    load(url, context, nextLoad) {
      if (url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/')) {
        const source = readFileSync(fileURLToPath(url), 'utf8');
        return { format: 'module', source: stripTypeScriptTypes(source, { mode: 'strip' }), shortCircuit: true };
      }
      return nextLoad(url, context);
    },
  });
}
