/**
 * The live-update stream. EventSource reconnects by itself and sends the last
 * event id back, so the server resumes without gaps.
 */
import { currentSource } from './source.js';
import { type TraceSummary, toClientSummary } from './types.js';

/**
 * Subscribes to new and updated trace summaries; returns a function that
 * closes the stream. `onResync` runs when the server says this page fell too
 * far behind to be sent what it missed (a tab that was frozen): reload then.
 *
 * A page that reads a source (`?source=NAME`) is not subscribed: the stream
 * carries the recording database's spans, and a backend pushes nothing, so
 * the indicator says the list is not live instead.
 */
export function connectLive(onTraces: (summaries: TraceSummary[]) => void, onResync?: () => void): () => void {
  const status = document.getElementById('live-status');
  const setStatus = (text: string, state: 'live' | 'offline' | 'off', title = ''): void => {
    if (status === null) return;
    status.textContent = text;
    status.dataset.state = state;
    status.title = title;
  };
  const reading = currentSource();
  if (reading !== undefined) {
    // Rows arriving in the local database are not this page's rows: never show them here.
    setStatus('not live', 'off', `not live: reading ${reading}`);
    return () => {};
  }
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
  source.addEventListener('resync', () => onResync?.());
  source.addEventListener('error', () => setStatus('reconnecting…', 'offline'));
  return () => source.close();
}
