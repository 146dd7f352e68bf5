import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { lateStartWarning, modulesLoadedAlready } from './late-start.js';

describe('modulesLoadedAlready', () => {
  it('finds Node built-ins and packages, scoped ones too, that the process has loaded', () => {
    createRequire(import.meta.url)('@opentelemetry/api');
    expect(modulesLoadedAlready(['fs', '@opentelemetry/api', 'lifeline-never-installed', 'api'])).toEqual([
      'fs',
      '@opentelemetry/api',
    ]);
  });

  it('does not take a package for another whose name ends the same', () => {
    createRequire(import.meta.url)('@opentelemetry/api');
    expect(modulesLoadedAlready(['api', 'opentelemetry/api'])).toEqual([]);
  });
});

describe('lateStartWarning', () => {
  it('says nothing when nothing was loaded too early', () => {
    expect(lateStartWarning([])).toBeUndefined();
  });

  it('names what was loaded and both ways to start Lifeline in time', () => {
    expect(lateStartWarning(['http', 'express', 'pg'])).toMatchInlineSnapshot(`
      "Lifeline: http, express and pg were loaded before Lifeline started, so calls through them are not recorded. Start Lifeline before the app loads them: \`node --import @lifeline/node/register app.js\`, or await startLifeline() in a file of its own and import the app after it (\`await import('./app.js')\`): an ES module's static imports run before its first line.
      "
    `);
    expect(lateStartWarning(['pg'])).toMatch(/^Lifeline: pg was loaded before Lifeline started, so calls through it/);
  });
});
