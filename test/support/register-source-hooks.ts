/**
 * Preloaded (`node --import @lifeline/test-support/register-source-hooks`)
 * into processes that run Lifeline straight from its TypeScript sources: the
 * integration apps, the cross-process store suite's children, the writer
 * thread under the test runner.
 */
import { registerSourceHooks } from './source-hooks.ts';

registerSourceHooks();
