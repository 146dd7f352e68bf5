/**
 * Reading a JSON-lines trace file (the OpenTelemetry Collector's file
 * exporter writes one export request per line) a block of lines at a time,
 * so that importing it holds one block, not the file: a file of any size
 * imports in the same memory.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** One block of whole lines, and the number (1-based) of its first line in the file. */
export interface LineBlock {
  readonly text: string;
  readonly firstLine: number;
  /** Whether the block ends the file (as long as the file was when it was opened). */
  readonly last: boolean;
}

/** Options of {@link readLineBlocks}. */
export interface ReadLineBlocksOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  readonly chunkBytes?: number;
  /** A block is handed on once it holds at least this many bytes (default 4 MiB). */
  readonly blockBytes?: number;
}

/** What {@link readLineBlocks} held at most, in bytes: the figure its memory bound is checked by. */
export interface LineBlockStats {
  /** Most bytes of file text held at once (the read buffer, the partial line and the block). */
  peakHeldBytes: number;
  blocks: number;
}

/**
 * Calls `onBlock` with blocks of whole lines of a file, in order. A line
 * longer than `blockBytes` is one block of its own (a line is one request,
 * which must be parsed whole).
 *
 * @throws what `fs` throws when the file cannot be read, and what `onBlock` throws.
 */
export function readLineBlocks(
  path: string,
  onBlock: (block: LineBlock) => void,
  options: ReadLineBlocksOptions = {},
): LineBlockStats {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const blockBytes = options.blockBytes ?? 4 * 1024 * 1024;
  const stats: LineBlockStats = { peakHeldBytes: 0, blocks: 0 };
  const buffer = Buffer.alloc(chunkBytes);
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  let readBytes = 0;
  // Bytes of whole lines waiting to be handed on, and the bytes after the last newline.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let partial: Buffer = Buffer.alloc(0);
  let nextLine = 1;
  let pendingFirstLine = 1;
  const flush = (): void => {
    if (pendingBytes === 0) return;
    const bytes = Buffer.concat(pending, pendingBytes);
    const text = bytes.toString('utf8');
    stats.peakHeldBytes = Math.max(stats.peakHeldBytes, chunkBytes + partial.length + 2 * pendingBytes);
    pending = [];
    pendingBytes = 0;
    stats.blocks++;
    onBlock({ text, firstLine: pendingFirstLine, last: readBytes >= size && partial.length === 0 });
    pendingFirstLine = nextLine;
  };
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, chunkBytes, null);
      if (read === 0) break;
      readBytes += read;
      const chunk = buffer.subarray(0, read);
      const newline = chunk.lastIndexOf(0x0a);
      if (newline < 0) {
        // No line ends here: the partial line grows (a copy, the buffer is reused).
        partial = Buffer.concat([partial, chunk]);
        stats.peakHeldBytes = Math.max(stats.peakHeldBytes, chunkBytes + partial.length + pendingBytes);
        continue;
      }
      const whole = Buffer.concat([partial, chunk.subarray(0, newline + 1)]);
      partial = Buffer.from(chunk.subarray(newline + 1));
      for (let at = whole.indexOf(0x0a); at >= 0; at = whole.indexOf(0x0a, at + 1)) nextLine++;
      pending.push(whole);
      pendingBytes += whole.length;
      stats.peakHeldBytes = Math.max(stats.peakHeldBytes, chunkBytes + partial.length + pendingBytes);
      if (pendingBytes >= blockBytes) flush();
    }
    if (partial.length > 0) {
      pending.push(partial);
      pendingBytes += partial.length;
      partial = Buffer.alloc(0);
      nextLine++;
    }
    flush();
  } finally {
    closeSync(fd);
  }
  return stats;
}
