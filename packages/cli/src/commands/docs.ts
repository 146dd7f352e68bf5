import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type EndpointFlow, type EndpointStats, sortEndpoints } from '@lifeline/core';
import { makeFolder, StoreError } from '@lifeline/store';
import type { Command } from 'commander';
import { flowMarkdown, indexMarkdown, loadFlow, uniqueSlugs, withoutCounts } from '../endpoint-flows.js';
import { UserError } from '../errors.js';
import { closeReadStore, displayPath, openExistingStore, resolveDbPath } from '../store-access.js';

interface DocsOptions {
  readonly db?: string;
  readonly out: string;
  readonly check?: boolean;
  readonly service?: string;
}

const INDEX = 'README.md';

/** Every page `docs` writes: file name → content. */
function pages(
  entries: readonly { endpoint: EndpointStats; flow: EndpointFlow; file: string }[],
): Map<string, { content: string; endpoint?: EndpointStats }> {
  const out = new Map<string, { content: string; endpoint?: EndpointStats }>();
  for (const entry of entries) {
    out.set(entry.file, { content: flowMarkdown(entry.endpoint, entry.flow), endpoint: entry.endpoint });
  }
  out.set(INDEX, { content: indexMarkdown(entries) });
  return out;
}

/** Registers `lifeline docs`: one Markdown page per endpoint and an index, or a drift check of them. */
export function registerDocsCommand(program: Command): void {
  program
    .command('docs')
    .description('Write one Markdown page per endpoint with its typical flow, or check committed pages for drift')
    .option('--db <path>', 'SQLite database to read (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--out <dir>', 'folder of the pages', 'docs/flows')
    .option('--service <name>', 'only endpoints of this service')
    .option('--check', 'write nothing: exit 1 naming every endpoint whose recorded flow differs from its page')
    .addHelpText(
      'after',
      `
Each page holds a one-line summary, the endpoint's typical flow as a
timing-free Mermaid diagram (variants as alt/opt blocks with their shares) and
a table of the variants; ${INDEX} indexes them. The same recorded flows give
the same bytes, so the pages can be committed and reviewed.

--check compares the recorded flows with the pages in --out, ignoring request
counts and shares (more traffic of the same flows is no drift), and lists
each endpoint whose flow changed, that has no page yet, or whose page names
an endpoint no longer recorded. Exit status 1 when any did.

Examples:
  $ lifeline docs --out docs/flows
  $ lifeline docs --check --out docs/flows`,
    )
    .action((options: DocsOptions) => {
      const path = resolveDbPath(options.db);
      const store = openExistingStore(path);
      let entries: { endpoint: EndpointStats; flow: EndpointFlow; file: string }[];
      try {
        const endpoints = sortEndpoints(
          store.listEndpoints(options.service !== undefined ? { service: options.service } : {}),
          'name',
        );
        if (endpoints.length === 0) throw new UserError(`no requests recorded in ${displayPath(path)}`);
        const slugs = uniqueSlugs(endpoints);
        entries = [];
        for (const endpoint of endpoints) {
          const flow = loadFlow(store, endpoint);
          if (flow !== undefined) entries.push({ endpoint, flow, file: `${slugs.get(endpoint)}.md` });
        }
      } finally {
        closeReadStore(store, path);
      }
      const dir = resolve(options.out);
      const wanted = pages(entries);
      if (!options.check) {
        try {
          makeFolder(dir);
        } catch (error) {
          if (!(error instanceof StoreError)) throw error;
          throw new UserError(`cannot write the pages: ${error.message}. Pass --out a folder you can write`);
        }
        try {
          for (const [file, page] of wanted) writeFileSync(join(dir, file), page.content);
        } catch (error) {
          throw new UserError(`cannot write the pages into ${displayPath(dir)}: ${(error as Error).message}`);
        }
        process.stderr.write(`Wrote ${entries.length} endpoint pages and ${INDEX} to ${displayPath(dir)}\n`);
        return;
      }
      if (!existsSync(dir)) {
        throw new UserError(
          `${displayPath(dir)} does not exist: write the pages first with \`lifeline docs --out ${options.out}\``,
        );
      }
      const problems: string[] = [];
      for (const [file, page] of wanted) {
        if (page.endpoint === undefined) continue;
        const label = `${page.endpoint.name} (${page.endpoint.service})`;
        const committed = join(dir, file);
        if (!existsSync(committed)) problems.push(`${label}: recorded, but has no page ${file}`);
        else if (withoutCounts(readFileSync(committed, 'utf8')) !== withoutCounts(page.content)) {
          problems.push(`${label}: its recorded flow differs from ${file}`);
        }
      }
      for (const file of readdirSync(dir).sort()) {
        if (!file.endsWith('.md') || file === INDEX || wanted.has(file)) continue;
        const heading = /^# (.*)$/m.exec(readFileSync(join(dir, file), 'utf8'))?.[1] ?? file;
        problems.push(`${heading}: ${file} names an endpoint no longer recorded`);
      }
      if (problems.length > 0) {
        for (const problem of problems) process.stderr.write(`drifted: ${problem}\n`);
        throw new UserError(
          `${problems.length} endpoint page${problems.length === 1 ? '' : 's'} in ${displayPath(dir)} drifted from the recorded flows (listed above): rewrite them with \`lifeline docs --out ${options.out}\``,
        );
      }
      process.stderr.write(`All ${entries.length} endpoint pages in ${displayPath(dir)} match the recorded flows\n`);
    });
}
