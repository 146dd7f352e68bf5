import type { RunningViewer } from '@lifeline/viewer';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { port } from '../option-parsers.js';
import { displayPath, ensureParentFolder, resolveDbPath, withDatabaseErrors } from '../store-access.js';
import { addSourceOptions, type SourceFlags, sourcesFromFlags } from './sources.js';

interface ServeOptions extends SourceFlags {
  readonly port: number;
  readonly host: string;
  readonly db?: string;
  readonly token?: string;
  readonly allowRemote?: boolean;
}

/** Registers `lifeline serve`: the viewer, JSON API and OTLP/HTTP receiver on one port. */
export function registerServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description('Serve the web viewer, its JSON API and an OTLP/HTTP receiver (POST /v1/traces)')
    .option('--port <port>', 'port to listen on (0 picks a free one)', port, 4242)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--db <path>', 'SQLite database to serve (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--token <token>', 'require this token from browsers and OTLP senders (default: $LIFELINE_TOKEN)')
    .option('--allow-remote', 'allow listening on an address other machines can reach');
  addSourceOptions(command, 'also browse (repeatable)')
    .addHelpText(
      'after',
      `
Any OpenTelemetry SDK can send to it: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:4242/v1/traces

Examples:
  $ lifeline serve
  $ lifeline serve --port 8080 --db demo.db
  $ lifeline serve --host 0.0.0.0 --allow-remote --token "$(openssl rand -hex 16)"
  $ lifeline serve --source tempo=http://tempo:3200 --source-header tempo=X-Scope-OrgID:team-a
  $ lifeline serve --source jaeger=http://jaeger-query:16686`,
    )
    .action(async (options: ServeOptions) => {
      // Loaded here, not at the top: express and the protobuf decoder are only
      // worth their start-up time to the one command that serves.
      const { generateToken, isLoopbackHost, startViewer, weakTokenReason } = await import('@lifeline/viewer');
      // The viewer's own rule (all of 127.0.0.0/8, ::1 and localhost), so the
      // CLI refuses exactly the hosts the viewer would refuse.
      const loopback = isLoopbackHost(options.host);
      if (!loopback && !options.allowRemote) {
        throw new UserError(
          `--host ${options.host} would let other machines read your traces: add --allow-remote and a token, which it requires (--token "$(openssl rand -hex 16)", or set LIFELINE_TOKEN), or keep the default 127.0.0.1`,
        );
      }
      if (options.allowRemote && !loopback && !(options.token ?? process.env.LIFELINE_TOKEN)) {
        throw new UserError(
          `--allow-remote requires a token so that only people who know it can read your traces: add --token "$(openssl rand -hex 16)" (or set LIFELINE_TOKEN to a random text of 16 characters or more)`,
        );
      }
      const sources = await sourcesFromFlags(options);
      const path = resolveDbPath(options.db);
      // An empty LIFELINE_TOKEN means unset, as usual for environment variables;
      // an explicit --token must be a real one.
      const token = options.token ?? (process.env.LIFELINE_TOKEN || undefined);
      if (token !== undefined) {
        const weak = weakTokenReason(token);
        if (weak !== undefined) {
          throw new UserError(
            `${weak}: anyone who guesses it can read your traces. Use a random one, e.g. --token ${generateToken()}`,
          );
        }
      }
      let viewer: RunningViewer;
      // The viewer stores what its OTLP receiver gets: the folder must exist and be writable.
      ensureParentFolder(path);
      try {
        viewer = await startViewer({
          port: options.port,
          host: options.host,
          db: path,
          ...(token === undefined ? {} : { token }),
          allowRemote: options.allowRemote ?? false,
          sources,
        });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'EADDRINUSE') {
          throw new UserError(
            `port ${options.port} on ${options.host} is already in use: pass --port N (or stop what is using it)`,
          );
        }
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
          throw new UserError(
            `cannot listen on ${options.host}: it is not an address of this machine (try --host 127.0.0.1)`,
          );
        }
        if ((error as Error).name === 'UnsafeBindError') {
          throw new UserError(`${(error as Error).message} (pass --token T with --allow-remote)`);
        }
        if (code === 'EACCES' && (error as { syscall?: string }).syscall === 'listen') {
          throw new UserError(`not allowed to listen on port ${options.port}: pick a port above 1023 with --port`);
        }
        // The database: not SQLite, not Lifeline's, read-only, locked, not permitted.
        withDatabaseErrors(path, () => {
          throw error;
        });
        throw error;
      }
      // The handlers are in place before the line that says the viewer is up:
      // whoever waits for that line (a test, a process manager) may stop it at once.
      const stopped = new Promise<void>((resolvePromise) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolvePromise();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      const base = viewer.url.replace(/\/+$/, '');
      process.stdout.write(
        `Lifeline viewer on ${viewer.url}\n  database: ${displayPath(path)}\n  OTLP/HTTP: POST ${base.replace(/\?.*$/, '')}/v1/traces\n${sources.map((s) => `  source ${s.name}: ${s.kind} at ${s.url} (read only) — ${base}/?source=${s.name}\n`).join('')}Press Ctrl-C to stop.\n`,
      );
      await stopped;
      await viewer.close();
      process.stderr.write('Lifeline viewer stopped.\n');
    });
}
