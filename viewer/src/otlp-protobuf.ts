/**
 * OTLP protobuf <-> the OTLP/JSON shape. Decoding uses protobufjs static code
 * generated from the official opentelemetry-proto definitions
 * (`viewer/generated/otlp.cjs`, rebuilt by `scripts/generate-otlp.mjs`), so no
 * wire format is parsed by hand here.
 */
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

/** The slice of a protobufjs generated message type that this module uses. */
interface GeneratedType {
  decode(reader: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  toObject(message: object, options: Record<string, unknown>): Record<string, unknown>;
}

interface TraceCollectorV1 {
  readonly ExportTraceServiceRequest: GeneratedType;
  readonly ExportTraceServiceResponse: GeneratedType;
}

// The generated module is CommonJS (protobufjs' runtime is), one directory
// above src/ and dist/ alike; createRequire loads it the same way under Node,
// Vitest and a built dist/.
const require = createRequire(import.meta.url);
const root = require('../generated/otlp.cjs') as {
  opentelemetry: { proto: { collector: { trace: { v1: TraceCollectorV1 } } } };
};
const collector = root.opentelemetry.proto.collector.trace.v1;

/**
 * google.rpc.Status, the body OTLP/HTTP prescribes for every 4xx/5xx answer.
 * It is not part of opentelemetry-proto, so it is declared through protobufjs
 * reflection (code = 1, message = 2; the optional details are never sent).
 */
const StatusType = new protobuf.Type('Status')
  .add(new protobuf.Field('code', 1, 'int32'))
  .add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(StatusType);

/** Thrown when a protobuf body cannot be decoded as an ExportTraceServiceRequest. */
export class OtlpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpDecodeError';
  }
}

/** A decoded ExportTraceServiceRequest: protobufjs message objects, read by the functions below. */
export type ExportTraceMessage = { readonly __brand: 'ExportTraceServiceRequest' };

/** Decodes a binary ExportTraceServiceRequest; throws OtlpDecodeError on a malformed body. */
export function decodeExportTraceMessage(body: Uint8Array): ExportTraceMessage {
  try {
    return collector.ExportTraceServiceRequest.decode(body) as ExportTraceMessage;
  } catch (error) {
    throw new OtlpDecodeError(`invalid protobuf ExportTraceServiceRequest: ${(error as Error).message}`);
  }
}

/**
 * A decoded request in the OTLP/JSON shape: trace and span ids as lowercase
 * hex, other bytes as base64, 64-bit integers as decimal strings and enums as
 * numbers, exactly as OTLP/JSON writes them.
 */
export function exportTraceMessageToJson(message: ExportTraceMessage): Record<string, unknown> {
  const object = collector.ExportTraceServiceRequest.toObject(message, {
    longs: String,
    enums: Number,
    bytes: String,
    defaults: false,
    arrays: true,
  });
  for (const resourceSpans of asArray(object.resourceSpans)) {
    for (const scopeSpans of asArray(resourceSpans.scopeSpans)) {
      for (const span of asArray(scopeSpans.spans)) {
        idsToHex(span, ['traceId', 'spanId', 'parentSpanId']);
        for (const link of asArray(span.links)) idsToHex(link, ['traceId', 'spanId']);
      }
    }
  }
  return object;
}

/**
 * Encodes a request given in its protobuf JSON mapping (ids and bytes as
 * base64, 64-bit integers as strings) as a binary ExportTraceServiceRequest.
 * Lets tests build requests no SDK would send.
 */
export function encodeExportTraceRequestJson(json: Record<string, unknown>): Uint8Array {
  const type = collector.ExportTraceServiceRequest as GeneratedType & { fromObject(object: object): object };
  return type.encode(type.fromObject(json)).finish();
}

/** Encodes an ExportTraceServiceResponse, with partial_success when spans were rejected. */
export function encodeExportTraceResponse(partial?: { rejectedSpans: number; errorMessage: string }): Uint8Array {
  const message = partial === undefined ? {} : { partialSuccess: partial };
  return collector.ExportTraceServiceResponse.encode(message).finish();
}

/** Decodes an ExportTraceServiceResponse (used by tests and clients of the receiver). */
export function decodeExportTraceResponse(body: Uint8Array): {
  partialSuccess?: { rejectedSpans?: string; errorMessage?: string };
} {
  const message = collector.ExportTraceServiceResponse.decode(body);
  return collector.ExportTraceServiceResponse.toObject(message, { longs: String, defaults: false });
}

/** Encodes a google.rpc.Status error body. */
export function encodeStatus(status: { code: number; message: string }): Uint8Array {
  return StatusType.encode(StatusType.create(status)).finish();
}

/** Decodes a google.rpc.Status error body. */
export function decodeStatus(body: Uint8Array): { code?: number; message?: string } {
  return StatusType.toObject(StatusType.decode(body), { defaults: false }) as { code?: number; message?: string };
}

function asArray(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
}

function idsToHex(target: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of keys) {
    const value = target[key];
    if (typeof value === 'string') target[key] = Buffer.from(value, 'base64').toString('hex');
  }
}
