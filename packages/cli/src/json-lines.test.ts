import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLineBlocks } from './json-lines.js';

describe('readLineBlocks', () => {
  it('reads a file many times its block size in blocks of whole lines, holding a bounded number of bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-json-lines-'));
    try {
      const path = join(dir, 'spans.jsonl');
      const lines: string[] = [];
      // 16 MiB of lines of uneven length, a blank line, a line longer than a read chunk, no final newline.
      let size = 0;
      for (let i = 0; size < 16 * 1024 * 1024; i++) {
        lines.push(JSON.stringify({ resourceSpans: [], n: i, pad: 'x'.repeat((i * 37) % 4000) }));
        size += (lines.at(-1) as string).length + 1;
        if (i === 100) lines.push('');
        if (i === 200) lines.push(JSON.stringify({ resourceSpans: [], long: 'y'.repeat(300 * 1024) }));
      }
      writeFileSync(path, lines.join('\n'));
      const chunkBytes = 64 * 1024;
      const blockBytes = 256 * 1024;
      const seen: string[] = [];
      let expectedFirst = 1;
      const last: boolean[] = [];
      const stats = readLineBlocks(
        path,
        (block) => {
          expect(block.firstLine).toBe(expectedFirst);
          last.push(block.last);
          const blockLines = block.text.endsWith('\n') ? block.text.slice(0, -1).split('\n') : block.text.split('\n');
          seen.push(...blockLines);
          expectedFirst += blockLines.length;
        },
        { chunkBytes, blockBytes },
      );
      expect(seen).toEqual(lines);
      // Only the block with the file's last line says it ends the file.
      expect(last.indexOf(true)).toBe(last.length - 1);
      expect(stats.blocks).toBeGreaterThan(50);
      // A block, its copy as text, a read chunk and a partial line: never the file.
      expect(stats.peakHeldBytes).toBeLessThan(2 * (blockBytes + 300 * 1024) + 2 * chunkBytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
