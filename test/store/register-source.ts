/**
 * Preload for child processes of this suite (`node --import ./register-source.ts child.ts`):
 * lets them run the store from its TypeScript sources, never a stale dist.
 */
import { registerSourceHooks } from '../../packages/store/src/source-hooks.ts';

registerSourceHooks();
