import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expectValidMermaid } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('.', import.meta.url));

describe('type stripping', () => {
  it('finds only erasable TypeScript syntax in every core source file', () => {
    const files = readdirSync(SRC).filter((name) => name.endsWith('.ts'));
    expect(files).toContain('index.ts');
    for (const name of files) {
      const code = readFileSync(`${SRC}${name}`, 'utf8');
      // Strip mode refuses enums, namespaces, parameter properties and the like.
      expect(() => stripTypeScriptTypes(code, { mode: 'strip' }), name).not.toThrow();
    }
  });

  it('draws a diagram when plain node runs the sources', async () => {
    // The sources import each other as ".js" (NodeNext): the hook finds the ".ts" beside them.
    const script = `
      import { registerHooks } from 'node:module';
      registerHooks({
        resolve(specifier, context, next) {
          try { return next(specifier, context); } catch (error) {
            if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
            throw error;
          }
        },
      });
      const { traceToMermaid } = await import(${JSON.stringify(`${SRC}index.ts`)});
      const span = { traceId: 't', spanId: 'a', name: 'GET /', kind: 'server', serviceName: 'api', startTimeNs: 1e18,
        endTimeNs: 1e18 + 5e6, status: { code: 'unset' }, attributes: { 'http.request.method': 'GET', 'http.route': '/' },
        events: [], links: [], resource: {} };
      process.stdout.write(traceToMermaid({ traceId: 't', spans: [span] }, { timings: false }).text);
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--no-warnings', '--input-type=module', '--eval', script],
      { timeout: 30_000 },
    );
    expect(stdout).toBe(
      'sequenceDiagram\nautonumber\nactor p1 as Client\nparticipant p2 as api\np1->>p2: GET /\np2-->>p1: ok\n',
    );
    await expectValidMermaid(stdout);
  });
});
