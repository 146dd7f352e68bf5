import type { AttributeValue, SpanKind, SpanStatus } from '@lifeline/core';

const kinds: Readonly<Record<string, SpanKind>> = {
  server: 'server',
  client: 'client',
  producer: 'producer',
  consumer: 'consumer',
  internal: 'internal',
};

/** What Jaeger and Zipkin put in tags that Lifeline keeps as span fields. */
export interface TagFields {
  readonly kind?: SpanKind;
  /** A `span.kind` tag naming no kind Lifeline knows, as written; the span is read as internal. */
  readonly unknownKind?: string;
  readonly status: SpanStatus;
  readonly scope?: { readonly name: string; readonly version?: string };
  readonly attributes: Record<string, AttributeValue>;
}

/**
 * Separates the tags that encode span fields in Jaeger and Zipkin data
 * (`span.kind`, `error`, `otel.status_code`, `otel.status_description`,
 * `otel.scope.name`, `otel.library.name` …) from ordinary attributes.
 */
export function splitTags(tags: Readonly<Record<string, AttributeValue>>): TagFields {
  const attributes: Record<string, AttributeValue> = {};
  let kind: SpanKind | undefined;
  let unknownKind: string | undefined;
  let errorFlag = false;
  let errorText: string | undefined;
  let otelStatus: string | undefined;
  let description: string | undefined;
  let scopeName: string | undefined;
  let scopeVersion: string | undefined;
  for (const [key, value] of Object.entries(tags)) {
    const text = typeof value === 'string' ? value : undefined;
    switch (key) {
      case 'span.kind':
        kind = text === undefined ? undefined : kinds[text.toLowerCase()];
        if (kind === undefined) unknownKind = text ?? JSON.stringify(value);
        break;
      case 'error':
        // Jaeger tags error=true; Zipkin puts the error message (or "") in it.
        errorFlag = value !== false && value !== 'false';
        if (text !== undefined && text !== '' && text !== 'true') errorText = text;
        break;
      case 'otel.status_code':
        otelStatus = text?.toUpperCase();
        break;
      case 'otel.status_description':
        description = text;
        break;
      case 'otel.scope.name':
      case 'otel.library.name':
        scopeName = text;
        break;
      case 'otel.scope.version':
      case 'otel.library.version':
        scopeVersion = text;
        break;
      default:
        attributes[key] = value;
    }
  }
  let status: SpanStatus = { code: 'unset' };
  if (otelStatus === 'ERROR' || errorFlag) {
    const message = description ?? errorText;
    status = message === undefined ? { code: 'error' } : { code: 'error', message };
  } else if (otelStatus === 'OK') {
    status = { code: 'ok' };
  }
  const fields: { -readonly [K in keyof TagFields]: TagFields[K] } = { status, attributes };
  if (kind !== undefined) fields.kind = kind;
  if (unknownKind !== undefined) fields.unknownKind = unknownKind;
  if (scopeName !== undefined && scopeName !== '') {
    fields.scope = scopeVersion === undefined ? { name: scopeName } : { name: scopeName, version: scopeVersion };
  }
  return fields;
}

const NUMERIC_TAG = /(^|\.|_)(status_code|port|code)$/;

/** Zipkin tags are all strings; well-known numeric ones (status codes, ports) become numbers, as OTel records them. */
export function typedZipkinTag(key: string, value: string): AttributeValue {
  return NUMERIC_TAG.test(key) && /^\d{1,15}$/.test(value) ? Number(value) : value;
}
