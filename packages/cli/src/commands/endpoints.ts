import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import {
  bigintToJson,
  type EndpointOrder,
  type EndpointStats,
  endpointOrders,
  formatDuration,
  sortEndpoints,
} from '@lifeline/core';
import type { EndpointFilter } from '@lifeline/store';
import { type Command, Option } from 'commander';
import { FLOW_REQUESTS, findEndpoints, flowMarkdown, loadFlow, percent } from '../endpoint-flows.js';
import { UserError } from '../errors.js';
import { closeReadStore, displayPath, openExistingStore, resolveDbPath } from '../store-access.js';
import { formatTable, MAX_REQUEST_WIDTH, MAX_SERVICE_WIDTH } from '../table.js';

type FlowFormat = 'mmd' | 'md' | 'svg' | 'png' | 'json';
const flowFormats: readonly FlowFormat[] = ['mmd', 'md', 'svg', 'png', 'json'];

interface EndpointsOptions {
  readonly db?: string;
  readonly service?: string;
  readonly last?: number;
  readonly sort: EndpointOrder;
  readonly json?: boolean;
  readonly format?: FlowFormat;
  readonly timings?: boolean;
  readonly out?: string;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1e9, m: 60e9, h: 3600e9, d: 86_400e9 };

/** `15m`, `2h`, `7d`, `30s` as nanoseconds. */
function lookBack(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  if (match === null) throw new UserError(`--last ${value} is not a duration like 30s, 15m, 2h or 7d`);
  return Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
}

/** Registers `lifeline endpoints`: the endpoint list, or one endpoint's typical flow. */
export function registerEndpointsCommand(program: Command): void {
  program
    .command('endpoints')
    .description("List endpoints with latency percentiles and shares, or draw one endpoint's typical flow")
    .argument('[endpoint]', 'an endpoint name from the list, e.g. "GET /articles/:id": draw its typical flow')
    .option('--db <path>', 'SQLite database to read (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--service <name>', 'only endpoints of this service')
    .option('--last <duration>', 'only requests started in this last stretch of time: 30s, 15m, 2h, 7d', lookBack)
    .addOption(new Option('--sort <figure>', 'order of the list, largest first').choices(endpointOrders).default('p95'))
    .option('--json', 'print the endpoints (or the flow, with its shapes) as JSON')
    .addOption(
      new Option('--format <format>', 'with an endpoint: output format (default: from --out, else mmd)').choices(
        flowFormats,
      ),
    )
    .option('--timings', 'with an endpoint: per-call median durations on the replies')
    .option('--out <file>', 'with an endpoint: write to this file instead of stdout')
    .addHelpText(
      'after',
      `
An endpoint is what a request asked for on one service: the method and route
of an HTTP server span (GET /articles/:id), or the queue and operation of a
consumer (process notifications). Background work is not an endpoint.

Columns: SERVICE, ENDPOINT, REQUESTS, P50, P95, P99, MAX, ERRORS (share of
requests with a failed span), N+1 (share with an N+1 group), CALLS (database,
cache, HTTP, queue calls per request), SAVING (median of what overlapping the
serial calls that did not use each other's answers could save), SLOWEST trace id.

With an endpoint, its requests (the newest ${FLOW_REQUESTS}) are grouped by their
timing-free diagram and merged into one diagram: shared calls once, the
variants as alt/opt blocks with their shares. The README explains the rule.

Examples:
  $ lifeline endpoints
  $ lifeline endpoints --sort errors --last 1h
  $ lifeline endpoints "GET /articles/:id/recommendations" --format md
  $ lifeline endpoints "GET /recommendations/:articleId" --out flow.svg`,
    )
    .action(async (name: string | undefined, options: EndpointsOptions) => {
      const path = resolveDbPath(options.db);
      const store = openExistingStore(path);
      const filter: EndpointFilter = {
        ...(options.service !== undefined ? { service: options.service } : {}),
        ...(options.last !== undefined ? { since: Date.now() * 1e6 - options.last } : {}),
      };
      let output: string | Buffer;
      let flowOf: EndpointStats | undefined;
      try {
        const endpoints = sortEndpoints(store.listEndpoints(filter), options.sort);
        if (name === undefined) {
          if (options.json) {
            process.stdout.write(`${JSON.stringify(endpoints, bigintToJson, 2)}\n`);
            return;
          }
          if (endpoints.length === 0) {
            process.stderr.write(`No requests in ${displayPath(path)} match these filters.\n`);
            return;
          }
          process.stdout.write(`${formatEndpointTable(endpoints)}\n`);
          return;
        }
        const found = findEndpoints(endpoints, name, options.service);
        if (found.length === 0) {
          throw new UserError(`no endpoint "${name}" in ${displayPath(path)}: \`lifeline endpoints\` lists them`);
        }
        if (found.length > 1) {
          throw new UserError(
            `"${name}" is an endpoint of several services (${found.map((e) => e.service).join(', ')}): add --service`,
          );
        }
        flowOf = found[0] as EndpointStats;
        const format = options.json ? 'json' : (options.format ?? formatFromFile(options.out) ?? 'mmd');
        const flow = loadFlow(store, flowOf, { timings: options.timings ?? false, filter });
        if (flow === undefined) throw new UserError(`the requests of "${name}" could not be read`);
        switch (format) {
          case 'json':
            output = `${JSON.stringify({ endpoint: flowOf, flow }, bigintToJson, 2)}\n`;
            break;
          case 'md':
            output = flowMarkdown(flowOf, flow, { timings: options.timings ?? false });
            break;
          case 'svg':
            output = `${await (await import('../render-image.js')).renderMermaidImage(flow.text, { format: 'svg' })}\n`;
            break;
          case 'png':
            if (!options.out && process.stdout.isTTY) {
              throw new UserError(
                'a PNG is binary and would garble the terminal: pass --out FILE.png or redirect stdout',
              );
            }
            output = await (await import('../render-image.js')).renderMermaidImage(flow.text, { format: 'png' });
            break;
          default:
            output = flow.text;
        }
      } finally {
        closeReadStore(store, path);
      }
      if (options.out) {
        try {
          writeFileSync(options.out, output);
        } catch (error) {
          throw new UserError(`cannot write ${options.out}: ${(error as Error).message}`);
        }
        process.stderr.write(`Wrote the flow of ${flowOf?.name} to ${options.out}\n`);
      } else {
        process.stdout.write(output);
      }
    });
}

function formatFromFile(file: string | undefined): FlowFormat | undefined {
  const ext = file ? extname(file).slice(1).toLowerCase() : '';
  if (ext === 'mermaid') return 'mmd';
  return flowFormats.find((f) => f === ext);
}

/** The table `lifeline endpoints` prints. */
export function formatEndpointTable(endpoints: readonly EndpointStats[]): string {
  const calls = (e: EndpointStats) => {
    const c = e.callsPerRequest;
    const parts = [
      c.db > 0 ? `${c.db} db` : '',
      c.cache > 0 ? `${c.cache} cache` : '',
      c.http > 0 ? `${c.http} http` : '',
      c.queue > 0 ? `${c.queue} queue` : '',
    ].filter(Boolean);
    return parts.length > 0 ? parts.join(', ') : '-';
  };
  return formatTable(
    [
      { header: 'SERVICE', maxWidth: MAX_SERVICE_WIDTH },
      { header: 'ENDPOINT', maxWidth: MAX_REQUEST_WIDTH },
      { header: 'REQUESTS', align: 'right' },
      { header: 'P50', align: 'right' },
      { header: 'P95', align: 'right' },
      { header: 'P99', align: 'right' },
      { header: 'MAX', align: 'right' },
      { header: 'ERRORS', align: 'right' },
      { header: 'N+1', align: 'right' },
      { header: 'CALLS' },
      { header: 'SAVING', align: 'right' },
      { header: 'SLOWEST' },
    ],
    endpoints.map((e) => [
      e.service,
      e.name,
      String(e.requests),
      formatDuration(e.p50Ms),
      formatDuration(e.p95Ms),
      formatDuration(e.p99Ms),
      formatDuration(e.maxMs),
      percent(e.errorShare),
      percent(e.nPlusOneShare),
      calls(e),
      e.medianOverlapSavingMs === undefined ? '-' : formatDuration(e.medianOverlapSavingMs),
      e.slowestTraceId,
    ]),
  );
}
