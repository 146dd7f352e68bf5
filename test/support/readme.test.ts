import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMermaid } from './mermaid.js';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const blocks = [...readme.matchAll(/^```mermaid\n([\s\S]*?)\n```$/gm)].map((match) => match[1] ?? '');

describe('the README', () => {
  it('shows Mermaid examples that parse on Mermaid 10.9 unless they show the opt-in participant shapes', async () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const shaped = blocks.filter((block) => block.includes('@{'));
    expect(shaped).toHaveLength(1);
    for (const block of blocks) {
      if (block.includes('@{')) await parseMermaid(block, { versions: 'current' });
      else await parseMermaid(block);
    }
  });
});
