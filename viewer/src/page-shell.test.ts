import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClient } from './build-client.js';
import { MODULE_PRELOADS_FILE, pageShell } from './page-shell.js';

const SHELL =
  '<!doctype html><html><head><script type="module" src="/assets/app.js"></script>\n</head><body></body></html>\n';

/** The hrefs of the shell's modulepreload links, in order. */
function preloaded(html: string): string[] {
  return [...html.matchAll(/<link rel="modulepreload" href="([^"]+)" \/>/g)].map((match) => match[1] as string);
}

describe('pageShell', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-page-shell-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const publicDir = (name: string, list?: string): string => {
    const path = join(dir, name);
    mkdirSync(join(path, 'assets'), { recursive: true });
    writeFileSync(join(path, 'index.html'), SHELL);
    if (list !== undefined) writeFileSync(join(path, 'assets', MODULE_PRELOADS_FILE), list);
    return path;
  };

  it('serves index.html as it is when the build wrote no list', () => {
    const shell = pageShell(publicDir('no-list'));
    expect(shell('trace')).toBe(SHELL);
    expect(shell('other')).toBe(SHELL);
  });

  it('names the entry modules on every page and the sequence diagram code on trace pages, after the scripts', () => {
    const list = { entry: ['chunks/a.js', 'chunks/b c.js'], sequenceDiagram: ['chunks/seq.js'] };
    const shell = pageShell(publicDir('list', JSON.stringify(list)));
    expect(preloaded(shell('other'))).toEqual(['/assets/chunks/a.js', '/assets/chunks/b%20c.js']);
    const trace = shell('trace');
    expect(preloaded(trace)).toEqual(['/assets/chunks/a.js', '/assets/chunks/b%20c.js', '/assets/chunks/seq.js']);
    expect(trace.indexOf('modulepreload')).toBeGreaterThan(trace.indexOf('/assets/app.js'));
    expect(trace.indexOf('modulepreload')).toBeLessThan(trace.indexOf('</head>'));
    expect(trace.endsWith('</head><body></body></html>\n')).toBe(true);
  });

  it('follows a new build: the list is read again when it changes', () => {
    const path = publicDir('rebuilt', JSON.stringify({ entry: ['chunks/old.js'], sequenceDiagram: [] }));
    const shell = pageShell(path);
    expect(preloaded(shell('other'))).toEqual(['/assets/chunks/old.js']);
    const list = join(path, 'assets', MODULE_PRELOADS_FILE);
    writeFileSync(list, JSON.stringify({ entry: ['chunks/new.js'], sequenceDiagram: [] }));
    // A later modification time, whatever the file system's time resolution.
    const later = new Date(Date.now() + 5000);
    utimesSync(list, later, later);
    expect(preloaded(shell('other'))).toEqual(['/assets/chunks/new.js']);
  });

  it('names the list when it is not JSON, rather than serving a page without its modules', () => {
    const shell = pageShell(publicDir('broken', '{"entry": ['));
    expect(() => shell('trace')).toThrow(new RegExp(`${MODULE_PRELOADS_FILE}: .*JSON`));
  });

  it("lists exactly the built modules' static imports, and the trace page's Mermaid sequence diagram chunk", async () => {
    const outdir = join(dir, 'built', 'assets');
    await buildClient({ outdir });
    writeFileSync(join(dir, 'built', 'index.html'), SHELL);
    // The static imports read from the bundle's own files, as the browser would follow them.
    const imports = (file: string): string[] =>
      [...readFileSync(join(outdir, file), 'utf8').matchAll(/(?:\bfrom|\bimport)\s*"(\.{1,2}\/[^"]+\.js)"/g)].map(
        (match) => normalize(join(dirname(file), match[1] as string)),
      );
    const closure = (start: string): Set<string> => {
      const found = new Set<string>();
      const stack = [start];
      while (stack.length > 0) {
        for (const next of imports(stack.pop() as string)) {
          if (found.has(next)) continue;
          found.add(next);
          stack.push(next);
        }
      }
      return found;
    };
    const shell = pageShell(join(dir, 'built'));
    const asFiles = (html: string) => preloaded(html).map((href) => href.slice('/assets/'.length));
    const entry = closure('app.js');
    expect(new Set(asFiles(shell('other')))).toEqual(entry);
    const sequence = readdirSync(join(outdir, 'chunks')).find((name) => name.startsWith('sequenceDiagram-'));
    expect(sequence).toBeDefined();
    const sequenceFile = `chunks/${sequence}`;
    const trace = asFiles(shell('trace'));
    expect(new Set(trace)).toEqual(new Set([...entry, sequenceFile, ...closure(sequenceFile)]));
    // Each module once.
    expect(trace.length).toBe(new Set(trace).size);
  }, 60_000);
});
