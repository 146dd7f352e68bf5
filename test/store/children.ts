import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = new URL('./', import.meta.url);

/** Starts a child script of this suite under Node with the source hooks preloaded. */
export function startChild(script: string, args: readonly string[]): ChildProcess {
  return spawn(
    process.execPath,
    [
      '--no-warnings=ExperimentalWarning',
      '--import',
      createRequire(import.meta.url).resolve('@lifeline/test-support/register-source-hooks'),
      fileURLToPath(new URL(`children/${script}`, here)),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** Collects a child's output and resolves with its exit code, or rejects with its stderr when it fails. */
export function finished(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((done) => {
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** Resolves when the child has printed `line` (or rejects when it exits first). */
export function printed(child: ChildProcess, matches: (line: string) => boolean): Promise<void> {
  return new Promise((done, fail) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      if (lines.some(matches)) {
        child.stdout?.off('data', onData);
        done();
      }
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => fail(new Error(`child exited (code ${code}) before printing the expected line`)));
  });
}
