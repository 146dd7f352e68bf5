/**
 * Traces seeded into the store for the browser tests: the viewer's realistic
 * request traces, plus one whose every name and attribute is hostile.
 */
import type { Span } from '@lifeline/core';
import { articleTrace, newTraceId, spanAt } from '@lifeline/test-support/scenes';

export {
  articleTrace,
  createArticleTrace,
  healthTrace,
  housekeepingTrace,
  startUpTrace,
} from '@lifeline/test-support/scenes';

/** Strings that try to break out of Mermaid text, HTML, or both. */
export const HOSTILE = {
  script: '<script>window.__lifelinePwned = 1</script>',
  image: '<img src=x onerror="window.__lifelinePwned = 2">',
  endBlock: '"; end',
  directive: '%%{init: {"securityLevel": "loose", "theme": "forest"}}%%',
  arrow: 'A-->>B: forged arrow',
  newline: 'first line\nsecond line\r\nthird',
  long: `L${'o'.repeat(10_000)}ng`,
} as const;

const MS = 1e6;

/**
 * A request whose route, span names, service name, attributes, events and
 * error message are all hostile. Nothing of it may run, inject markup or
 * break the diagram.
 */
export function hostileTrace(options: { startNs?: number } = {}): Span[] {
  const traceId = newTraceId();
  const base = options.startNs ?? Date.now() * MS;
  const service = `evil-svc ${HOSTILE.script}`;
  const root = spanAt(base, {
    traceId,
    name: `GET ${HOSTILE.image}`,
    kind: 'server',
    service,
    startMs: 0,
    durationMs: 60,
    attributes: {
      'http.request.method': 'GET',
      'http.route': `/search/${HOSTILE.image}`,
      'http.response.status_code': 500,
      'user.note': HOSTILE.long,
    },
    error: `${HOSTILE.endBlock} ${HOSTILE.script}`,
  });
  const spans: Span[] = [root];
  const names = [HOSTILE.script, HOSTILE.endBlock, HOSTILE.directive, HOSTILE.arrow, HOSTILE.newline, HOSTILE.long];
  names.forEach((name, index) => {
    spans.push(
      spanAt(base, {
        traceId,
        parentSpanId: root.spanId,
        name,
        kind: 'client',
        service,
        startMs: 2 + index * 8,
        durationMs: 6,
        attributes: {
          'db.system.name': 'postgresql',
          'db.namespace': `shop ${HOSTILE.endBlock}`,
          'db.query.text': `SELECT '${name}' AS payload -- ${HOSTILE.directive}`,
          'db.query.summary': name,
        },
        events: [
          {
            name: HOSTILE.script,
            timeNs: BigInt(base) + BigInt((3 + index * 8) * MS),
            attributes: { 'exception.message': HOSTILE.image },
          },
        ],
        ...(index === 1 ? { error: HOSTILE.arrow } : {}),
      }),
    );
  });
  // An outgoing call to a host whose name is itself hostile.
  spans.push(
    spanAt(base, {
      traceId,
      parentSpanId: root.spanId,
      name: 'GET',
      kind: 'client',
      service,
      startMs: 52,
      durationMs: 5,
      attributes: {
        'http.request.method': 'GET',
        'url.full': 'http://evil.example/%3Cscript%3E',
        'server.address': `evil.example ${HOSTILE.arrow}`,
        'http.response.status_code': 200,
      },
    }),
  );
  return spans;
}

/** A realistic request with more overlap: two caches and a query at once. */
export function overlapTrace(options: { startNs?: number } = {}): Span[] {
  return articleTrace({ ...options, comments: 5, articleId: 7 });
}

/**
 * A request with `count` different queries, some overlapping: large enough
 * that the core's size guard has to fold the diagram to stay under Mermaid's
 * 50,000-character limit.
 */
export function largeTrace(options: { startNs?: number; count?: number } = {}): Span[] {
  const traceId = newTraceId();
  const base = options.startNs ?? Date.now() * MS;
  const count = options.count ?? 1200;
  const root = spanAt(base, {
    traceId,
    name: 'POST /reports',
    kind: 'server',
    service: 'reporting',
    startMs: 0,
    durationMs: count * 2 + 10,
    attributes: { 'http.request.method': 'POST', 'http.route': '/reports', 'http.response.status_code': 200 },
  });
  const spans: Span[] = [root];
  for (let i = 0; i < count; i++) {
    spans.push(
      spanAt(base, {
        traceId,
        parentSpanId: root.spanId,
        name: `SELECT report_part_${i}`,
        kind: 'client',
        service: 'reporting',
        // Pairs overlap, so the diagram has par blocks all the way down.
        startMs: 1 + Math.floor(i / 2) * 4 + (i % 2),
        durationMs: 3,
        attributes: {
          'db.system.name': 'postgresql',
          'db.namespace': 'reports',
          'db.query.text': `SELECT * FROM report_part_${i} WHERE report_id = $1`,
        },
      }),
    );
  }
  return spans;
}
