/**
 * The part of pg-cursor's API the integration apps use (the package ships no
 * types of its own; `@types/pg-cursor` is not installed).
 */
declare module 'pg-cursor' {
  import type { Submittable } from 'pg';

  /** A server-side cursor read in batches: pass it to `client.query()`, then `read()` until no rows come. */
  export default class Cursor<Row = Record<string, unknown>> implements Submittable {
    constructor(text: string, values?: unknown[], config?: { rowMode?: 'array'; batchSize?: number });
    submit: Submittable['submit'];
    /** Resolves with up to `rows` rows; an empty array once all were read. */
    read(rows: number): Promise<Row[]>;
    close(): Promise<void>;
  }
}
