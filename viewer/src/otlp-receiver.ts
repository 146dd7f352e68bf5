/**
 * The OTLP/HTTP trace receiver (`POST /v1/traces`), following the OTLP/HTTP
 * specification: JSON or binary protobuf bodies, optionally gzip-compressed;
 * the answer is an ExportTraceServiceResponse in the request's encoding, with
 * partial_success when some spans were rejected, and a google.rpc.Status for
 * every error.
 */
import { createGunzip } from 'node:zlib';
import { importMarkNotes } from '@lifeline/core';
import type { SpanStore, SpanWriterThread } from '@lifeline/store';
import { otlpToSpans, parseJsonExact, splitSharedIds } from '@lifeline/store';
import type { Request, RequestHandler, Response } from 'express';
import { HttpError } from './http-error.js';
import { checkJsonRequest, checkProtobufRequest, OtlpLimitError } from './otlp-limits.js';
import { exportTraceMessageToSpans } from './otlp-message-to-spans.js';
import {
  decodeExportTraceMessage,
  encodeExportTraceResponse,
  encodeStatus,
  exportTraceMessageToJson,
  OtlpDecodeError,
} from './otlp-protobuf.js';
import { endTimeNotes, spanTimeProblem } from './otlp-validation.js';
import { TurnLane } from './turn-lane.js';

/** google.rpc.Code values used in error bodies. */
const RPC_INVALID_ARGUMENT = 3;
const RPC_DEADLINE_EXCEEDED = 4;
const RPC_RESOURCE_EXHAUSTED = 8;
const RPC_INTERNAL = 13;
const RPC_UNAVAILABLE = 14;

/** Seconds a sender is asked to wait before retrying when the receiver is full. */
const RETRY_AFTER_SECONDS = 1;
/**
 * Milliseconds a request body may take to arrive, by default. OpenTelemetry
 * exporters give up on an export after 10 s (`OTEL_EXPORTER_OTLP_TIMEOUT`), so
 * a body still arriving after 30 s has no sender waiting for the answer, and
 * only holds a connection and its share of the {@link BodyBudget}.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

/** Seconds a sender is asked to wait before retrying when spans could not be stored. */
const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * The bytes that request bodies may hold at once across all requests: what
 * arrived and what gzip inflated, from the first byte until the answer. A
 * request that would take more than is left is answered 503 with
 * `Retry-After`, which OpenTelemetry exporters retry (OTLP/HTTP specification,
 * "Retryable response codes"), so that memory stays bounded whatever the
 * number of requests in flight.
 */
export class BodyBudget {
  /** Most bytes that bodies may hold at once. */
  readonly maxBytes: number;
  #used = 0;
  #peak = 0;

  /** @param maxBytes most bytes that bodies may hold at once, across requests. */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes held now. */
  get usedBytes(): number {
    return this.#used;
  }

  /** Most bytes held at once since this budget was made. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Takes `bytes` if they fit; returns false, taking nothing, when they do not. */
  tryTake(bytes: number): boolean {
    if (this.#used + bytes > this.maxBytes) return false;
    this.#used += bytes;
    if (this.#used > this.#peak) this.#peak = this.#used;
    return true;
  }

  /** Gives back `bytes` taken earlier. */
  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

/** What one request holds of the budget, given back in one go when it is answered. */
class Reservation {
  readonly #budget: BodyBudget;
  #held = 0;

  constructor(budget: BodyBudget) {
    this.#budget = budget;
  }

  /** @throws {HttpError} 503 when the budget has no room for `bytes` more. */
  take(bytes: number): void {
    if (!this.#budget.tryTake(bytes)) {
      throw receiverError(
        503,
        RPC_UNAVAILABLE,
        'the receiver is busy with other requests: retry later',
        RETRY_AFTER_SECONDS,
      );
    }
    this.#held += bytes;
  }

  releaseAll(): void {
    this.#budget.release(this.#held);
    this.#held = 0;
  }
}

type Encoding = 'json' | 'protobuf';

/** The receiver's refusals: an {@link HttpError} with the `google.rpc.Code` OTLP/HTTP answers with. */
function receiverError(status: number, rpcCode: number, message: string, retryAfterSeconds?: number): HttpError {
  return new HttpError(status, message, {
    rpcCode,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/**
 * The partial-success note for spans not stored because a different span
 * already held their ids. `examples` name some of them as
 * `span <span id> of trace <trace id>`; one span rejected twice in a request
 * (two variants of a stored span) is named once.
 */
function conflictMessage(count: number, examples: readonly string[]): string {
  const named = [...new Set(examples)];
  const why = 'the ids of a different span already stored or sent: kept the first';
  if (count === 1 && named.length === 1) return `${named[0]} has ${why}, rejected this one`;
  const list = named.length === 0 ? '' : ` (${named.join(', ')}${count > examples.length ? ', …' : ''})`;
  return `${count} spans have ${why}, rejected these${list}`;
}

/** Options of the receiver. */
export interface OtlpReceiverOptions {
  readonly store: SpanStore;
  /** When set, spans are written by this thread rather than on the receiving one. */
  readonly writer?: SpanWriterThread;
  /** Largest accepted body, compressed and after decompression alike. */
  readonly limitBytes: number;
  /**
   * Bytes that bodies may hold at once across all requests (default: four
   * times `limitBytes`, at least 64 MiB). Pass a shared {@link BodyBudget} to
   * read how much is in use.
   */
  readonly budget?: BodyBudget;
  /**
   * Milliseconds the whole body may take to arrive, from the request's
   * headers (default {@link DEFAULT_BODY_TIMEOUT_MS}); past it the answer is
   * 408 and the connection is closed.
   */
  readonly bodyTimeoutMs?: number;
  /** Called after spans were stored, so live listeners can be woken at once. */
  readonly onStored?: () => void;
}

/**
 * Builds the express handler for `POST /v1/traces`. It reads the body itself
 * (no body parser in front) so that size, encoding and type errors each get the
 * status the OTLP/HTTP specification names.
 */
export function otlpTraceReceiver(options: OtlpReceiverOptions): RequestHandler {
  const budget = options.budget ?? new BodyBudget(Math.max(4 * options.limitBytes, 64 * 1024 * 1024));
  // The promise stays here: every failure is answered inside receive(), so the
  // router is handed no promise to inspect or reject.
  const lane = new TurnLane();
  return (request, response) => {
    const reservation = new Reservation(budget);
    void receive(options, lane, reservation, request, response).finally(() => reservation.releaseAll());
  };
}

async function receive(
  options: OtlpReceiverOptions,
  lane: TurnLane,
  reservation: Reservation,
  request: Request,
  response: Response,
): Promise<void> {
  {
    const encoding = requestEncoding(request);
    if (encoding === undefined) {
      // The body is unread: closing lets the client stop sending a large payload.
      response.setHeader('Connection', 'close');
      sendError(response, 'json', receiverError(415, RPC_INVALID_ARGUMENT, unsupportedTypeMessage(request)));
      return;
    }
    try {
      const body = await readBody(
        request,
        options.limitBytes,
        options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
        reservation,
      );
      const { spans, rejected, firstError } = await lane.run(() =>
        encoding === 'json' ? convertSpans(checkedJson(parseJsonRequest(body))) : fromProtobuf(body),
      );
      if (spans.length === 0 && rejected > 0) {
        throw receiverError(400, RPC_INVALID_ARGUMENT, `invalid OTLP trace data: ${firstError}`);
      }
      // B3 data relayed by a Collector: a server span under its client's id is that call's server half, kept too.
      splitSharedIds(spans);
      let conflicts = 0;
      let conflictExamples: readonly string[] = [];
      if (spans.length > 0) {
        try {
          // Answered only once committed: a 200 tells the sender it may forget the spans.
          // Handed over in a turn of its own (copying spans to the writer thread takes a
          // while), but the commit is awaited outside the lane: the next body is decoded meanwhile.
          const { written: pending } = await lane.run(() => ({
            written:
              options.writer === undefined
                ? Promise.resolve(options.store.writeSpans(spans))
                : options.writer.writeReporting(spans),
          }));
          const written = await pending;
          conflicts = written.conflicts;
          conflictExamples = written.conflictExamples;
        } catch (error) {
          // A full disk, a locked or read-only file: the sender keeps the spans
          // and retries a 503 (OTLP/HTTP "Retryable response codes"); a 500 it drops.
          throw receiverError(
            503,
            RPC_UNAVAILABLE,
            `could not store spans: ${(error as Error).message}`,
            STORE_RETRY_AFTER_SECONDS,
          );
        }
        options.onStored?.();
      }
      // Spans kept but odd (an unknown kind, a NaN double): OTLP's partial_success carries
      // warnings too, with rejected_spans 0, so the sender hears of them. A span whose ids a
      // different span already holds is not stored: it is rejected, and the message says
      // which. Exact copies (a retried export) are accepted: the store has them.
      const messages: string[] = [];
      const received = rejected + spans.length;
      if (rejected > 0 && conflicts > 0) {
        // Both kinds at once: the total first, so that it reads as rejectedSpans says.
        messages.push(
          `${rejected + conflicts} of ${received} spans were rejected: ${rejected} invalid (first problem: ${firstError}); ${conflictMessage(conflicts, conflictExamples)}`,
        );
      } else if (rejected > 0) {
        messages.push(`${rejected} of ${received} spans were rejected; first problem: ${firstError}`);
      } else if (conflicts > 0) messages.push(conflictMessage(conflicts, conflictExamples));
      messages.push(...endTimeNotes(spans), ...importMarkNotes(spans));
      const partial =
        messages.length > 0 ? { rejectedSpans: rejected + conflicts, errorMessage: messages.join('; ') } : undefined;
      sendSuccess(response, encoding, partial);
    } catch (error) {
      if (error instanceof HttpError) sendError(response, encoding, error);
      else if (error instanceof OtlpDecodeError || error instanceof OtlpLimitError) {
        sendError(response, encoding, receiverError(400, RPC_INVALID_ARGUMENT, error.message));
      } else {
        sendError(response, encoding, receiverError(500, RPC_INTERNAL, `internal error: ${(error as Error).message}`));
      }
    }
  }
}

function requestEncoding(request: Request): Encoding | undefined {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-protobuf') return 'protobuf';
  return undefined;
}

function unsupportedTypeMessage(request: Request): string {
  const type = request.headers['content-type'];
  return `unsupported Content-Type ${type === undefined ? '(none)' : JSON.stringify(type)}: send application/json or application/x-protobuf`;
}

/**
 * Reads the whole body, enforcing the limit while it arrives and while gzip
 * inflates it, and taking every byte it holds from the shared budget. A body
 * that has not arrived within `timeoutMs` is refused with 408: a sender that
 * stalls (or trickles) would otherwise hold its connection and its share of
 * the budget for as long as it likes.
 */
async function readBody(
  request: Request,
  limitBytes: number,
  timeoutMs: number,
  reservation: Reservation,
): Promise<Buffer> {
  const contentEncoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (contentEncoding !== 'identity' && contentEncoding !== 'gzip') {
    throw receiverError(
      415,
      RPC_INVALID_ARGUMENT,
      `unsupported Content-Encoding "${contentEncoding}": use gzip or none`,
    );
  }
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    discardRest(request);
    throw tooLarge(limitBytes);
  }
  if (Number.isFinite(declared) && declared > 0) {
    try {
      reservation.take(declared);
    } catch (error) {
      discardRest(request);
      throw error;
    }
  }
  let reserved = Number.isFinite(declared) && declared > 0 ? declared : 0;
  // Listeners rather than for-await: leaving a for-await loop early destroys the
  // request, and with it the socket the 413 has to travel on.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const received: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      request.off('data', onData);
      // The rest of the body is not awaited: the connection ends with the answer.
      request.res?.setHeader('Connection', 'close');
      request.res?.once('finish', () => request.destroy());
      reject(
        receiverError(
          408,
          RPC_DEADLINE_EXCEEDED,
          `the request body did not arrive within ${timeoutMs / 1000} s (${size} bytes received): send it again, or smaller`,
        ),
      );
    }, timeoutMs);
    request.once('close', () => clearTimeout(timer));
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        request.off('data', onData);
        discardRest(request);
        clearTimeout(timer);
        reject(tooLarge(limitBytes));
        return;
      }
      if (size > reserved) {
        // A body without Content-Length (chunked) takes its bytes as they come.
        try {
          reservation.take(size - reserved);
          reserved = size;
        } catch (error) {
          request.off('data', onData);
          discardRest(request);
          clearTimeout(timer);
          reject(error);
          return;
        }
      }
      received.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => {
      clearTimeout(timer);
      resolve(received);
    });
    request.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  const raw = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks);
  if (contentEncoding === 'identity') return raw;
  return inflate(raw, limitBytes, reservation);
}

/**
 * Inflates a gzip body piece by piece, stopping at the limit (a small gzip
 * bomb) or when the shared budget runs out, so no request builds more output
 * than it was allowed.
 */
function inflate(raw: Buffer, limitBytes: number, reservation: Reservation): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const out: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      reject(error);
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limitBytes) {
        fail(tooLarge(limitBytes));
        return;
      }
      try {
        reservation.take(chunk.length);
      } catch (error) {
        fail(error);
        return;
      }
      out.push(chunk);
    });
    gunzip.on('end', () => {
      if (settled) return;
      settled = true;
      try {
        // The joined copy is held too, until the request is answered.
        if (out.length > 1) reservation.take(size);
        resolve(out.length === 1 && out[0] !== undefined ? out[0] : Buffer.concat(out, size));
      } catch (error) {
        reject(error);
      }
    });
    gunzip.on('error', (error) =>
      fail(receiverError(400, RPC_INVALID_ARGUMENT, `body is not valid gzip: ${error.message}`)),
    );
    gunzip.end(raw);
  });
}

/** Lets the rest of a refused body flow away unread; the answer closes the connection. */
function discardRest(request: Request): void {
  request.resume();
  request.res?.setHeader('Connection', 'close');
}

function tooLarge(limitBytes: number): HttpError {
  return receiverError(413, RPC_RESOURCE_EXHAUSTED, `request body exceeds the limit of ${limitBytes} bytes`);
}

function parseJsonRequest(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseJsonExact(body.toString('utf8'));
  } catch (error) {
    throw receiverError(400, RPC_INVALID_ARGUMENT, `body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw receiverError(400, RPC_INVALID_ARGUMENT, 'body must be a JSON object (ExportTraceServiceRequest)');
  }
  const resourceSpans = (parsed as Record<string, unknown>).resourceSpans;
  if (resourceSpans !== undefined && !Array.isArray(resourceSpans)) {
    throw receiverError(400, RPC_INVALID_ARGUMENT, 'resourceSpans must be an array');
  }
  return parsed as Record<string, unknown>;
}

type OtlpRequestJson = Parameters<typeof otlpToSpans>[0];

/**
 * Converts with the store's OTLP converter. The whole request is tried first;
 * only when it fails is each span converted on its own (wrapped with its
 * resource and scope), so that good spans are kept and bad ones counted for
 * partial_success, as OTLP/HTTP asks of a receiver.
 */
/** Spans of a protobuf body: straight from the decoded message, or by the OTLP/JSON path when that gives up. */
function fromProtobuf(body: Buffer): ReturnType<typeof convertSpans> {
  // Counted on the raw bytes first: decoding is where a small body can become gigabytes.
  checkProtobufRequest(body);
  const message = decodeExportTraceMessage(body);
  const spans = exportTraceMessageToSpans(message);
  if (spans !== undefined) return { spans, rejected: 0, firstError: undefined };
  return convertSpans(exportTraceMessageToJson(message));
}

function checkedJson(payload: Record<string, unknown>): Record<string, unknown> {
  checkJsonRequest(payload);
  return payload;
}

function convertSpans(payload: Record<string, unknown>): {
  spans: ReturnType<typeof otlpToSpans>;
  rejected: number;
  firstError: string | undefined;
} {
  let wholeError: string | undefined;
  // The time rule first: the converter takes a start of 0 and rejects an absent
  // one with a message naming no field, so a span it names is refused here.
  if (!someSpan(payload, (span, place) => spanTimeProblem(span, place) !== undefined)) {
    try {
      return { spans: otlpToSpans(payload as OtlpRequestJson), rejected: 0, firstError: undefined };
    } catch (error) {
      wholeError = (error as Error).message;
    }
  }
  const spans: ReturnType<typeof otlpToSpans> = [];
  let rejected = 0;
  let firstSpanError: string | undefined;
  someSpan(payload, (span, place, resourceSpans, scopeKey, scopeSpans) => {
    const timeProblem = spanTimeProblem(span, place);
    if (timeProblem !== undefined) {
      rejected++;
      firstSpanError ??= timeProblem;
      return false;
    }
    const single = {
      resourceSpans: [{ resource: resourceSpans.resource, [scopeKey]: [{ ...scopeSpans, spans: [span] }] }],
    };
    try {
      spans.push(...otlpToSpans(single as unknown as OtlpRequestJson));
    } catch (spanError) {
      rejected++;
      // Name the span by its place in the original request, not in the wrapper.
      const message = (spanError as Error).message;
      const wrapperPlace = `resourceSpans[0].${scopeKey}[0].spans[0]`;
      firstSpanError ??= message.includes(wrapperPlace)
        ? message.split(wrapperPlace).join(place)
        : `${place}: ${message}`;
    }
    return false;
  });
  // A structural error outside any span (e.g. a malformed resource) with no spans at all.
  if (spans.length === 0 && rejected === 0) rejected = 1;
  return { spans, rejected, firstError: firstSpanError ?? wholeError };
}

/**
 * Calls `visit` with each span of an OTLP/JSON request and its place
 * (`resourceSpans[i].scopeSpans[j].spans[k]`), until it returns true;
 * returns whether one did.
 */
function someSpan(
  payload: Record<string, unknown>,
  visit: (
    span: unknown,
    place: string,
    resourceSpans: Record<string, unknown>,
    scopeKey: string,
    scopeSpans: Record<string, unknown>,
  ) => boolean,
): boolean {
  for (const [i, resourceSpans] of list(payload.resourceSpans).entries()) {
    const scopeKey = resourceSpans.scopeSpans !== undefined ? 'scopeSpans' : 'instrumentationLibrarySpans';
    for (const [j, scopeSpans] of list(resourceSpans[scopeKey]).entries()) {
      const raw = Array.isArray(scopeSpans.spans) ? (scopeSpans.spans as unknown[]) : [];
      for (const [k, span] of raw.entries()) {
        if (visit(span, `resourceSpans[${i}].${scopeKey}[${j}].spans[${k}]`, resourceSpans, scopeKey, scopeSpans)) {
          return true;
        }
      }
    }
  }
  return false;
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item) => typeof item === 'object' && item !== null) : [];
}

function sendSuccess(
  response: Response,
  encoding: Encoding,
  partial: { rejectedSpans: number; errorMessage: string } | undefined,
): void {
  response.status(200);
  if (encoding === 'protobuf') {
    response.type('application/x-protobuf').send(Buffer.from(encodeExportTraceResponse(partial)));
  } else {
    // OTLP/JSON writes 64-bit integers as decimal strings.
    const body =
      partial === undefined
        ? {}
        : { partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } };
    response.type('application/json').send(JSON.stringify(body));
  }
}

function sendError(response: Response, encoding: Encoding, error: HttpError): void {
  if (response.headersSent) return;
  response.status(error.status);
  if (error.retryAfterSeconds !== undefined) response.setHeader('Retry-After', String(error.retryAfterSeconds));
  if (encoding === 'protobuf') {
    response
      .type('application/x-protobuf')
      .send(Buffer.from(encodeStatus({ code: error.rpcCode ?? RPC_INTERNAL, message: error.message })));
  } else {
    response
      .type('application/json')
      .send(JSON.stringify({ code: error.rpcCode ?? RPC_INTERNAL, message: error.message }));
  }
}
