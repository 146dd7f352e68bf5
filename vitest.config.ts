import { defineConfig } from 'vitest/config';

// Where worker threads started by the code under test (the store's writer)
// find the hooks that let them run from the TypeScript sources.
const sourceHooks = new URL('./test/support/register-source-hooks.ts', import.meta.url).href;

/**
 * One Vitest run covers unit tests beside the sources and the cross-package
 * suites under test/. Workspace packages are resolved through their "source"
 * export condition so tests always run the current TypeScript, never a dist/.
 */
export default defineConfig({
  resolve: { conditions: ['source', 'module', 'node', 'import', 'default'] },
  // No 'import' here: Vitest hands these to its workers as Node --conditions,
  // and 'import' would make CommonJS require() calls (express's router) load
  // ESM builds of dual packages.
  ssr: { resolve: { conditions: ['source', 'node', 'default'], externalConditions: ['source'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'viewer/src/**/*.test.ts',
      'test/*/**/*.test.ts',
      'examples/*/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    env: { LIFELINE_SOURCE_HOOKS: sourceHooks },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
