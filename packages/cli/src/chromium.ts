import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * No usable Chromium: `LIFELINE_CHROMIUM` names something that is not an
 * executable file, or none was found on the PATH. The message says what to
 * install or set; the `lifeline` command prints it as a user error.
 */
export class ChromiumNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChromiumNotFoundError';
  }
}

/** Executable names a Chromium-family browser goes by on Linux and macOS installs. */
const candidateNames = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

/** Flags that keep a headless Chromium quiet and self-contained: no sandbox helper, GPU, sync or update checks. */
export const chromiumFlags: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds a Chromium to render diagrams with: `LIFELINE_CHROMIUM` when set,
 * else the first of chromium, chromium-browser or google-chrome on the PATH.
 * Returns undefined when there is none; {@link requireChromium} turns that
 * into advice.
 *
 * @throws {ChromiumNotFoundError} when `LIFELINE_CHROMIUM` is set to something
 *   that is not an executable file.
 *
 * @example
 * ```ts
 * const chromium = findChromium();
 * if (!chromium) console.log('svg/png export needs Chromium');
 * ```
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.LIFELINE_CHROMIUM;
  if (configured) {
    if (!isExecutable(configured)) {
      throw new ChromiumNotFoundError(
        `LIFELINE_CHROMIUM=${configured} is not an executable file: point it at a Chromium or Chrome binary, or unset it`,
      );
    }
    return configured;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const name of candidateNames) {
      const path = join(dir, name);
      if (isExecutable(path)) return path;
    }
  }
  return undefined;
}

/**
 * Like {@link findChromium}, but a missing browser is an error that says what to install.
 *
 * @throws {ChromiumNotFoundError} when no Chromium is found, or `LIFELINE_CHROMIUM` is not executable.
 */
export function requireChromium(what: string): string {
  const found = findChromium();
  if (found) return found;
  throw new ChromiumNotFoundError(
    `${what} needs a Chromium to run Mermaid in, and none was found: install one (Debian/Ubuntu: \`apt-get install chromium\`) or set LIFELINE_CHROMIUM to a Chrome/Chromium binary; mmd, md and json exports need no browser`,
  );
}
