/**
 * Sends one request to every endpoint of the blog API and reports the trace
 * each one was recorded under (from the `X-Lifeline-Trace` response header).
 * Run it against a running blog API: `node traffic.ts http://127.0.0.1:3000`.
 */

/** One example request and what its diagram shows. */
export interface ExampleRequest {
  /** File-name friendly name, e.g. `serial`. */
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** The route template the trace is listed under. */
  readonly route: string;
  readonly body?: unknown;
  /** One line: what to look at in the diagram. */
  readonly shows: string;
  /** The status the endpoint is meant to answer with. */
  readonly expectedStatus: number;
}

/** The example requests, in the order they are sent. */
export const exampleRequests: readonly ExampleRequest[] = [
  {
    name: 'serial',
    method: 'GET',
    path: '/articles/1/serial',
    route: '/articles/:id/serial',
    shows: 'two queries awaited one after the other: the request costs the sum of both',
    expectedStatus: 200,
  },
  {
    name: 'parallel',
    method: 'GET',
    path: '/articles/1/parallel',
    route: '/articles/:id/parallel',
    shows: 'the same two queries in a par block: the request costs only the longer one',
    expectedStatus: 200,
  },
  {
    name: 'n-plus-one',
    method: 'GET',
    path: '/articles',
    route: '/articles',
    shows: 'one query per article for its author, folded into a loop and flagged N+1',
    expectedStatus: 200,
  },
  {
    name: 'recommendations',
    method: 'GET',
    path: '/articles/2/recommendations',
    route: '/articles/:id/recommendations',
    shows: 'a call to a second traced service, with its own cache and database lifelines',
    expectedStatus: 200,
  },
  {
    name: 'comment',
    method: 'POST',
    path: '/articles/3/comments',
    route: '/articles/:id/comments',
    body: { author: 'Alan Turing', text: 'Which of these calls could have overlapped?' },
    shows: 'a job published to a queue and processed by the worker: async arrows',
    expectedStatus: 202,
  },
  {
    name: 'broken',
    method: 'GET',
    path: '/articles/4/broken',
    route: '/articles/:id/broken',
    shows: 'a query the database rejects, and the 500 it turns into',
    expectedStatus: 500,
  },
];

/** What happened to one example request. */
export interface TrafficResult {
  readonly request: ExampleRequest;
  readonly status: number;
  /** From the response's `X-Lifeline-Trace` header; absent when the API is not recorded. */
  readonly traceId?: string;
}

/**
 * Sends every example request once, one after another.
 *
 * @example
 * ```ts
 * for (const result of await sendTraffic('http://127.0.0.1:3000')) console.log(result.request.name, result.traceId);
 * ```
 */
export async function sendTraffic(baseUrl: string): Promise<TrafficResult[]> {
  const results: TrafficResult[] = [];
  for (const request of exampleRequests) {
    const response = await fetch(new URL(request.path, baseUrl), {
      method: request.method,
      ...(request.body !== undefined
        ? { body: JSON.stringify(request.body), headers: { 'content-type': 'application/json' } }
        : {}),
    });
    await response.arrayBuffer();
    const traceId = response.headers.get('x-lifeline-trace') ?? undefined;
    results.push({ request, status: response.status, ...(traceId ? { traceId } : {}) });
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const baseUrl = process.argv[2] ?? 'http://127.0.0.1:3000';
  for (const { request, status, traceId } of await sendTraffic(baseUrl)) {
    const mark = status === request.expectedStatus ? 'ok' : `expected ${request.expectedStatus}`;
    console.log(`${request.method} ${request.path} → ${status} (${mark}) trace ${traceId ?? '(not recorded)'}`);
  }
}
