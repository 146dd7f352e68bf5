/**
 * The one error the viewer throws to answer a request with a status other
 * than 2xx: a query parameter that failed validation (400, naming it), an
 * OTLP request the receiver refuses (4xx or 5xx, with its `google.rpc.Code`
 * and, when worth retrying, a `Retry-After`). The viewer runs on express,
 * which has no such class of its own; this plays the part of Hono's
 * `HTTPException`: a status and a message, plus what the answer needs.
 */

/** What an {@link HttpError} carries besides its status and message. */
export interface HttpErrorDetails {
  /** The query parameter at fault, named in a 400 answer of the JSON API. */
  readonly parameter?: string;
  /** The `google.rpc.Code` of an OTLP answer (OTLP/HTTP sends a `Status` message). */
  readonly rpcCode?: number;
  /** Seconds for the `Retry-After` header of a retryable answer. */
  readonly retryAfterSeconds?: number;
}

/** A request answered with `status` and `message`; see the module comment. */
export class HttpError extends Error {
  /** HTTP status code of the answer, 400 to 599. */
  readonly status: number;
  readonly parameter: string | undefined;
  readonly rpcCode: number | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, message: string, details: HttpErrorDetails = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.parameter = details.parameter;
    this.rpcCode = details.rpcCode;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}
