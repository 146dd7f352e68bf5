/**
 * The sandboxed processor of `jobs.ts`: BullMQ runs this file in a forked
 * child process or a worker thread, started with the parent's `execArgv`
 * (Lifeline preloaded there too).
 */
import pg from 'pg';

const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 1 });

export default async function process(job: { data: { id: number } }): Promise<number> {
  const { rows } = await pool.query<{ invoice_id: number }>('SELECT $1::int AS invoice_id', [job.data.id]);
  return rows[0]?.invoice_id ?? 0;
}
