import { readFileSync } from 'node:fs';

/** The version of the `lifeline` package, read from its package.json (one level above src/ and dist/). */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? '0.0.0';
}
