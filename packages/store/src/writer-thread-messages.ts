import type { EncodedSpans } from './span-encoding.js';

/** Data the writer thread starts with. */
export interface WriterWorkerData {
  readonly path: string;
  /** Append batches to the store's inbox (`SpanWriter.appendEncoded`) instead of storing them under their keys. */
  readonly inbox?: boolean;
  /** Page cache of the writer's connection in KiB (SQLite `cache_size`); default 4096. */
  readonly cacheKiB?: number;
  /** Copy the WAL back on a checkpoint thread of its own rather than in the writer's commits. */
  readonly checkpointThread?: boolean;
}

/** Data the checkpoint thread starts with. */
export interface CheckpointWorkerData {
  readonly role: 'checkpoint';
  readonly path: string;
}

/** A message from the exporter to its writer thread. */
export type WriterRequest =
  | {
      readonly type: 'write';
      readonly id: number;
      readonly batch: EncodedSpans;
      /** Further slices of the same export follow right after this one. */
      readonly more: boolean;
    }
  | { readonly type: 'close'; readonly id: number };

/** The writer thread's answer to one request, in request order. */
export type WriterReply =
  | {
      readonly type: 'written';
      readonly id: number;
      readonly inserted: number;
      /** Spans not stored because a different span had their trace and span id (see `WriteResult.conflicts`). */
      readonly conflicts?: number;
      readonly conflictExamples?: readonly string[];
    }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly code?: string }
  | { readonly type: 'closed'; readonly id: number };
