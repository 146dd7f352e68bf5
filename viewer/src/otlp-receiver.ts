/**
 * The OTLP/HTTP trace receiver (`POST /v1/traces`), following the OTLP/HTTP
 * specification: JSON or binary protobuf bodies, optionally gzip-compressed;
 * the answer is an ExportTraceServiceResponse in the request's encoding, with
 * partial_success when some spans were rejected, and a google.rpc.Status for
 * every error.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { SpanStore, SpanWriterThread } from '@lifeline/store';
import { otlpToSpans, parseJsonExact } from '@lifeline/store';
import type { Request, RequestHandler, Response } from 'express';
import { exportTraceMessageToSpans } from './otlp-direct.js';
import {
  decodeExportTraceMessage,
  encodeExportTraceResponse,
  encodeStatus,
  exportTraceMessageToJson,
  OtlpDecodeError,
} from './otlp-protobuf.js';

const gunzipAsync = promisify(gunzip);

/** google.rpc.Code values used in error bodies. */
const RPC_INVALID_ARGUMENT = 3;
const RPC_RESOURCE_EXHAUSTED = 8;
const RPC_INTERNAL = 13;

type Encoding = 'json' | 'protobuf';

class ReceiverError extends Error {
  readonly status: number;
  readonly rpcCode: number;

  constructor(status: number, rpcCode: number, message: string) {
    super(message);
    this.status = status;
    this.rpcCode = rpcCode;
  }
}

/** Options of the receiver. */
export interface OtlpReceiverOptions {
  readonly store: SpanStore;
  /** When set, spans are written by this thread rather than on the receiving one. */
  readonly writer?: SpanWriterThread;
  /** Largest accepted body, compressed and after decompression alike. */
  readonly limitBytes: number;
  /** Called after spans were stored, so live listeners can be woken at once. */
  readonly onStored?: () => void;
}

/**
 * Builds the express handler for `POST /v1/traces`. It reads the body itself
 * (no body parser in front) so that size, encoding and type errors each get the
 * status the OTLP/HTTP specification names.
 */
export function otlpTraceReceiver(options: OtlpReceiverOptions): RequestHandler {
  // The promise stays here: every failure is answered inside receive(), so the
  // router is handed no promise to inspect or reject.
  return (request, response) => {
    void receive(options, request, response);
  };
}

async function receive(options: OtlpReceiverOptions, request: Request, response: Response): Promise<void> {
  {
    const encoding = requestEncoding(request);
    if (encoding === undefined) {
      // The body is unread: closing lets the client stop sending a large payload.
      response.setHeader('Connection', 'close');
      sendError(response, 'json', new ReceiverError(415, RPC_INVALID_ARGUMENT, unsupportedTypeMessage(request)));
      return;
    }
    try {
      const body = await readBody(request, options.limitBytes);
      const { spans, rejected, firstError } =
        encoding === 'json' ? convertSpans(parseJsonRequest(body)) : fromProtobuf(body);
      if (spans.length === 0 && rejected > 0) {
        throw new ReceiverError(400, RPC_INVALID_ARGUMENT, `invalid OTLP trace data: ${firstError}`);
      }
      if (spans.length > 0) {
        try {
          if (options.writer === undefined) options.store.writeSpans(spans);
          // Answered only once committed: a 200 tells the sender it may forget the spans.
          else await options.writer.writeSpans(spans);
        } catch (error) {
          throw new ReceiverError(500, RPC_INTERNAL, `could not store spans: ${(error as Error).message}`);
        }
        options.onStored?.();
      }
      const partial =
        rejected > 0
          ? {
              rejectedSpans: rejected,
              errorMessage: `${rejected} of ${rejected + spans.length} spans were rejected; first problem: ${firstError}`,
            }
          : undefined;
      sendSuccess(response, encoding, partial);
    } catch (error) {
      if (error instanceof ReceiverError) sendError(response, encoding, error);
      else if (error instanceof OtlpDecodeError) {
        sendError(response, encoding, new ReceiverError(400, RPC_INVALID_ARGUMENT, error.message));
      } else {
        sendError(
          response,
          encoding,
          new ReceiverError(500, RPC_INTERNAL, `internal error: ${(error as Error).message}`),
        );
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

/** Reads the whole body, enforcing the limit while it arrives and after gunzip. */
async function readBody(request: Request, limitBytes: number): Promise<Buffer> {
  const contentEncoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (contentEncoding !== 'identity' && contentEncoding !== 'gzip') {
    throw new ReceiverError(
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
  // Listeners rather than for-await: leaving a for-await loop early destroys the
  // request, and with it the socket the 413 has to travel on.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const received: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        request.off('data', onData);
        discardRest(request);
        reject(tooLarge(limitBytes));
        return;
      }
      received.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => resolve(received));
    request.once('error', reject);
  });
  const raw = Buffer.concat(chunks);
  if (contentEncoding === 'identity') return raw;
  try {
    // maxOutputLength stops a small gzip bomb from inflating past the limit.
    return await gunzipAsync(raw, { maxOutputLength: limitBytes });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limitBytes);
    throw new ReceiverError(400, RPC_INVALID_ARGUMENT, `body is not valid gzip: ${(error as Error).message}`);
  }
}

/** Lets the rest of a refused body flow away unread; the answer closes the connection. */
function discardRest(request: Request): void {
  request.resume();
  request.res?.setHeader('Connection', 'close');
}

function tooLarge(limitBytes: number): ReceiverError {
  return new ReceiverError(413, RPC_RESOURCE_EXHAUSTED, `request body exceeds the limit of ${limitBytes} bytes`);
}

function parseJsonRequest(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseJsonExact(body.toString('utf8'));
  } catch (error) {
    throw new ReceiverError(400, RPC_INVALID_ARGUMENT, `body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ReceiverError(400, RPC_INVALID_ARGUMENT, 'body must be a JSON object (ExportTraceServiceRequest)');
  }
  const resourceSpans = (parsed as Record<string, unknown>).resourceSpans;
  if (resourceSpans !== undefined && !Array.isArray(resourceSpans)) {
    throw new ReceiverError(400, RPC_INVALID_ARGUMENT, 'resourceSpans must be an array');
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
/** Spans of a protobuf body: straight from the decoded message, or by the careful path when that gives up. */
function fromProtobuf(body: Buffer): ReturnType<typeof convertSpans> {
  const message = decodeExportTraceMessage(body);
  const spans = exportTraceMessageToSpans(message);
  if (spans !== undefined) return { spans, rejected: 0, firstError: undefined };
  return convertSpans(exportTraceMessageToJson(message));
}

function convertSpans(payload: Record<string, unknown>): {
  spans: ReturnType<typeof otlpToSpans>;
  rejected: number;
  firstError: string | undefined;
} {
  try {
    return { spans: otlpToSpans(payload as OtlpRequestJson), rejected: 0, firstError: undefined };
  } catch (error) {
    const spans: ReturnType<typeof otlpToSpans> = [];
    let rejected = 0;
    let firstError: string | undefined = (error as Error).message;
    let firstSpanError: string | undefined;
    const resourceList = list(payload.resourceSpans);
    resourceList.forEach((resourceSpans, i) => {
      const scopeKey = resourceSpans.scopeSpans !== undefined ? 'scopeSpans' : 'instrumentationLibrarySpans';
      list(resourceSpans[scopeKey]).forEach((scopeSpans, j) => {
        const raw = Array.isArray(scopeSpans.spans) ? (scopeSpans.spans as unknown[]) : [];
        raw.forEach((span, k) => {
          const single = {
            resourceSpans: [{ resource: resourceSpans.resource, [scopeKey]: [{ ...scopeSpans, spans: [span] }] }],
          };
          try {
            spans.push(...otlpToSpans(single as unknown as OtlpRequestJson));
          } catch (spanError) {
            rejected++;
            // Name the span by its place in the original request, not in the wrapper.
            const place = `resourceSpans[${i}].${scopeKey}[${j}].spans[${k}]`;
            const message = (spanError as Error).message;
            const wrapperPlace = `resourceSpans[0].${scopeKey}[0].spans[0]`;
            firstSpanError ??= message.includes(wrapperPlace)
              ? message.split(wrapperPlace).join(place)
              : `${place}: ${message}`;
          }
        });
      });
    });
    if (firstSpanError !== undefined) firstError = firstSpanError;
    // A structural error outside any span (e.g. a malformed resource) with no spans at all.
    if (spans.length === 0 && rejected === 0) rejected = 1;
    return { spans, rejected, firstError };
  }
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

function sendError(response: Response, encoding: Encoding, error: ReceiverError): void {
  if (response.headersSent) return;
  response.status(error.status);
  if (encoding === 'protobuf') {
    response
      .type('application/x-protobuf')
      .send(Buffer.from(encodeStatus({ code: error.rpcCode, message: error.message })));
  } else {
    response.type('application/json').send(JSON.stringify({ code: error.rpcCode, message: error.message }));
  }
}
