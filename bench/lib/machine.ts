import { cpus, totalmem } from 'node:os';
import type { MachineInfo } from './report.ts';

/** Describes the machine the benchmarks run on, for the report header. */
export function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? 'unknown CPU',
    cores: cores.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    nodeVersion: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
