/**
 * Opens brand-new database files at agreed moments, so that several of these
 * processes race to create and migrate each file, and prints one JSON line:
 * the failures it met.
 *
 * usage: node --import @lifeline/test-support/register-source-hooks first-open.ts <dir> <rounds> <startAtMs> <stepMs>
 */
import { join } from 'node:path';
import { openStore } from '@lifeline/store';

const [dir, roundsText, startText, stepText] = process.argv.slice(2);
if (dir === undefined || stepText === undefined)
  throw new Error('usage: first-open.ts <dir> <rounds> <startAtMs> <stepMs>');
const rounds = Number(roundsText);
const startAt = Number(startText);
const step = Number(stepText);

const failures: string[] = [];
for (let round = 0; round < rounds; round++) {
  const at = startAt + round * step;
  // Sleep most of the wait, then spin, so the processes open within microseconds of each other.
  const coarse = at - Date.now() - 5;
  if (coarse > 0) await new Promise((resolve) => setTimeout(resolve, coarse));
  while (Date.now() < at) {
    // spin
  }
  try {
    const store = openStore({ path: join(dir, `round-${round}.db`) });
    store.close();
  } catch (error) {
    failures.push(`round ${round}: ${(error as Error).message}`);
  }
}
process.stdout.write(`${JSON.stringify({ failures })}\n`);
