/**
 * Preloaded into the integration apps (`node --import ./support/source-hooks.ts`)
 * so they run Lifeline straight from its TypeScript sources, as the tests do.
 * The hooks themselves are the store's (`registerSourceHooks`), the same ones
 * its writer thread and the cross-process store suite use.
 */
import { registerSourceHooks } from '../../../packages/store/src/source-hooks.ts';

registerSourceHooks();
