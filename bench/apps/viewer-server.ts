/**
 * The Lifeline viewer as `lifeline serve` runs it, on an ephemeral loopback
 * port, over the store at BENCH_DB_PATH. Prints `{"port": N}` once listening.
 */
import { startViewer } from '@lifeline/viewer';

const viewer = await startViewer({ port: 0, db: process.env.BENCH_DB_PATH });
process.stdout.write(`${JSON.stringify({ port: viewer.port })}\n`);
process.on('SIGTERM', () => {
  void viewer.close().then(() => process.exit(0));
});
