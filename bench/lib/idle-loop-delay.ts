/**
 * Baseline for the export event-loop delay figure: the delay an event loop
 * shows with the same 20 ms timer cadence and nothing else to do, measured
 * the same way (monitorEventLoopDelay, 1 ms resolution). Prints one JSON line.
 *
 * Usage: node bench/lib/idle-loop-delay.ts [ticks]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const ticks = Number(process.argv[2] ?? 200);
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
for (let i = 0; i < ticks; i++) await new Promise((resolve) => setTimeout(resolve, 20));
histogram.disable();
process.stdout.write(
  `${JSON.stringify({ delayP50Ms: histogram.percentile(50) / 1e6, delayP99Ms: histogram.percentile(99) / 1e6 })}\n`,
);
