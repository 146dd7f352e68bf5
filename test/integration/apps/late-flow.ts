/**
 * A test file's mistake with flow assertions: express is imported statically,
 * so it loads before `startFlowRecorder()` runs and its routes are never
 * recorded. The recorder must say so on stderr, and every check of the
 * (empty) flow must fail saying why, never pass on nothing.
 */
import { checkCalls, checkNoNPlusOne, checkRunConcurrently, recordFlow, startFlowRecorder } from '@lifeline/node';
import express from 'express';

await startFlowRecorder({ serviceName: 'late-flow' });

const app = express();
app.get('/items', (_req, res) => {
  res.json([1, 2]);
});
const server = app.listen(0, '127.0.0.1', async () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  // Not a request to a server: nothing is recorded either way.
  const flow = await recordFlow(() => Promise.resolve(port));
  const checks = [checkNoNPlusOne(flow), checkCalls(flow, { database: 0 }), checkRunConcurrently(flow, 'a', 'b')];
  console.log(JSON.stringify({ traces: flow.traces.length, checks }));
  console.log(`listening on ${port}`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
});
