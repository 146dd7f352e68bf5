/**
 * Whether a span failed, read from its own status, attributes and events
 * alone: what the span class keeps of every span (`SpanClass.failed`) and
 * what outcome.ts builds the outcome of a call from.
 */
import { numberAttribute, stringAttribute } from './attributes.js';
import type { Span } from './trace.js';

/**
 * Failure markers that instrumentations record instead of an error status.
 * A span with status unset that carries one of these failed, and its text is
 * the error message.
 */
export interface KnownErrorMarker {
  /** The instrumentation that records it. */
  readonly instrumentation: string;
  /** Name of the span event that marks the failure. */
  readonly event: string;
  /** Event attribute holding the error text. */
  readonly messageAttribute: string;
  /** Where the behaviour is defined. */
  readonly source: string;
}

/** The known failure markers, see {@link KnownErrorMarker}. */
export const KNOWN_ERROR_MARKERS: readonly KnownErrorMarker[] = [
  {
    // Worker.handleFailed adds this event to the `process <queue>` consumer
    // span of every failed attempt (retried or final) and never sets the
    // status, as the processor's error is caught before the span ends.
    instrumentation: 'BullMQ telemetry (bullmq-otel)',
    event: 'job failed',
    messageAttribute: 'bullmq.job.failed.reason',
    source:
      'bullmq src/classes/worker.ts handleFailed; TelemetryAttributes.JobFailedReason in src/enums/telemetry-attributes.ts',
  },
];

// Constants rather than literals at the call: these are read for every span classified.
export const HTTP_STATUS_KEYS = ['http.response.status_code', 'http.status_code'];
const GRPC_STATUS_KEYS = ['rpc.grpc.status_code', 'rpc.status_code', 'rpc.response.status_code'];
const RPC_SYSTEM_KEYS = ['rpc.system', 'rpc.system.name'];
const ERROR_TYPE_KEYS = ['error.type'];

/** gRPC status codes by name, https://grpc.github.io/grpc/core/md_doc_statuscodes.html */
export const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/**
 * The gRPC codes that make a SERVER span an error
 * (https://opentelemetry.io/docs/specs/semconv/rpc/grpc/#grpc-status): UNKNOWN,
 * DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. The
 * others are the client's fault, so only its span is an error.
 */
const GRPC_SERVER_ERRORS: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/**
 * Whether a span failed, by the rules of OpenTelemetry's conventions and of
 * the tracers Lifeline imports from:
 * - status `error` → failed; status `ok` → not failed;
 * - status unset: an HTTP status of 500 or more on a SERVER span, 400 or more on
 *   a CLIENT span (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#status);
 *   a gRPC status other than OK on a CLIENT span, or one of the server error codes
 *   on a SERVER span (https://opentelemetry.io/docs/specs/semconv/rpc/grpc/#grpc-status);
 *   `error.type` set (the HTTP and database conventions set it exactly when the
 *   operation failed, https://opentelemetry.io/docs/specs/semconv/attributes-registry/error/);
 *   an `error` tag that is `true` or a non-empty string other than `false`
 *   (Zipkin, Jaeger, OpenTracing); a {@link KNOWN_ERROR_MARKERS} event.
 *
 * Exception events never decide it, and neither does a missing response
 * status: a client span with status unset and no HTTP status code did not
 * fail by the conventions (outcome.ts's `endedWithoutResponse` tells it apart).
 *
 * Read once per span, while it is classified (`SpanClass.failed`); outcome.ts's
 * `spanFailed` answers from the class where the caller has it.
 */
export function spanRecordsFailure(span: Span): boolean {
  const status = span.status?.code;
  if (status === 'error') return true;
  if (status === 'ok') return false;
  const http = numberAttribute(span, HTTP_STATUS_KEYS);
  if (http !== undefined && http >= (span.kind === 'client' ? 400 : 500)) return true;
  const grpc = grpcStatus(span);
  if (grpc !== undefined && grpc !== 0) {
    if (span.kind === 'client' || GRPC_SERVER_ERRORS.has(grpc)) return true;
  }
  if (errorType(span) !== undefined) return true;
  if (errorTag(span) !== undefined) return true;
  return knownMarkerMessage(span) !== undefined;
}

/** `error.type` when set to something (`_OTHER` included), as text. */
export function errorType(span: Span): string | undefined {
  const type = stringAttribute(span, ERROR_TYPE_KEYS);
  return type !== undefined && type.trim() !== '' ? type : undefined;
}

/** The Zipkin/Jaeger `error` tag when it marks a failure: `true` or a non-empty string other than `false`. */
export function errorTag(span: Span): string | undefined {
  const tag = span.attributes.error;
  if (tag === true) return 'true';
  if (typeof tag === 'string' && tag.trim() !== '' && tag.trim().toLowerCase() !== 'false') return tag;
  return undefined;
}

/** The name of a span's gRPC status when it is other than OK (`NOT_FOUND`), else undefined. */
export function grpcStatusName(span: Span): string | undefined {
  const code = grpcStatus(span);
  if (code === undefined || code === 0) return undefined;
  return Object.keys(GRPC_CODES).find((name) => GRPC_CODES[name] === code) ?? `gRPC ${code}`;
}

/** The gRPC status code as a number, from the numeric or the named attribute forms. */
export function grpcStatus(span: Span): number | undefined {
  const a = span.attributes;
  const system = stringAttribute(span, RPC_SYSTEM_KEYS);
  if (a['rpc.grpc.status_code'] === undefined && system?.toLowerCase() !== 'grpc') return undefined;
  const value = stringAttribute(span, GRPC_STATUS_KEYS);
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  return GRPC_CODES[value.toUpperCase()];
}

/** The reason text of the first known failure marker on a span ('' when it gives none), or undefined. */
export function knownMarkerMessage(span: Span): string | undefined {
  if (span.events.length === 0) return undefined;
  for (const marker of KNOWN_ERROR_MARKERS) {
    for (const event of span.events) {
      if (event?.name !== marker.event) continue;
      const text = event.attributes?.[marker.messageAttribute];
      return typeof text === 'string' ? text : '';
    }
  }
  return undefined;
}
