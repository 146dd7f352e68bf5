/**
 * The live-update stream. EventSource reconnects by itself and sends the last
 * event id back, so the server resumes without gaps.
 */
import { type TraceSummary, toClientSummary } from './types.js';

/** Subscribes to new and updated trace summaries; returns a function that closes the stream. */
export function connectLive(onTraces: (summaries: TraceSummary[]) => void): () => void {
  const status = document.getElementById('live-status');
  const setStatus = (text: string, state: 'live' | 'offline'): void => {
    if (status === null) return;
    status.textContent = text;
    status.dataset.state = state;
  };
  if (typeof EventSource === 'undefined') return () => {};
  const source = new EventSource('/api/events');
  source.addEventListener('ready', () => setStatus('live', 'live'));
  source.addEventListener('traces', (event) => {
    try {
      const summaries = JSON.parse((event as MessageEvent<string>).data) as unknown;
      if (Array.isArray(summaries)) onTraces(summaries.map(toClientSummary));
    } catch {
      // A malformed event is skipped; the next one carries the current state anyway.
    }
  });
  source.addEventListener('error', () => setStatus('reconnecting…', 'offline'));
  return () => source.close();
}
