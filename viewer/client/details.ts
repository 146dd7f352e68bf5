/**
 * The span details panel: what one arrow (or timeline row) stands for, with
 * its timing, attributes, events and the full query text.
 */
import { type Child, h } from './dom.js';
import { attributeEntries, formatDuration, nsToMs } from './format.js';
import { withSource } from './source.js';
import type { SentSpanClass, Span } from './types.js';

/** Context for the details of one span. */
export interface DetailsContext {
  readonly span: Span;
  readonly cls: SentSpanClass | undefined;
  /** Start of the trace, for offsets. */
  readonly traceStartNs: number;
  /** The arrow that was clicked, when the panel was opened from the diagram. */
  readonly arrow?: { number: number; kind: string };
  /**
   * When the arrow stands for a batch (a Redis MULTI or pipeline drawn as one
   * call), its commands in order, each selectable.
   */
  readonly batch?: readonly { readonly spanId: string; readonly label: string }[];
  readonly onSelectSpan?: (spanId: string) => void;
}

function attributeTable(entries: [string, string][], caption: string): HTMLElement {
  if (entries.length === 0) return h('p', { className: 'muted' }, `No ${caption.toLowerCase()}.`);
  return h(
    'table',
    { className: 'kv' },
    h('caption', { className: 'visually-hidden' }, caption),
    h(
      'tbody',
      null,
      ...entries.map(([key, value]) =>
        h(
          'tr',
          null,
          h('th', { attrs: { scope: 'row' } }, key),
          h('td', null, h('span', { className: 'kv-value' }, value)),
        ),
      ),
    ),
  );
}

function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { className: 'details-section' }, h('h3', null, title), ...children);
}

/** Builds the panel content for one span. */
export function renderDetails(context: DetailsContext): HTMLElement {
  const { span, cls, traceStartNs, arrow, batch, onSelectSpan } = context;
  const durationMs = span.endTimeNs === undefined ? undefined : nsToMs(span.endTimeNs - span.startTimeNs);
  const facts: [string, Child][] = [
    ['Service', span.serviceName],
    ['Kind', `${span.kind}${cls === undefined ? '' : ` · ${cls.category}`}`],
    ['Starts at', `+${formatDuration(nsToMs(span.startTimeNs - traceStartNs))}`],
    ['Duration', durationMs === undefined ? 'never ended' : formatDuration(durationMs)],
    [
      'Status',
      h(
        'span',
        { className: span.status.code === 'error' ? 'status status-5xx' : 'status status-ok' },
        span.status.code + (span.status.message ? `: ${span.status.message}` : ''),
      ),
    ],
    ['Span id', h('code', null, span.spanId)],
  ];
  if (cls?.target !== undefined) facts.splice(2, 0, ['Calls', cls.target.name]);
  if (cls?.statusCode !== undefined) facts.push(['HTTP status', String(cls.statusCode)]);
  if (span.scope !== undefined) {
    facts.push(['Instrumentation', `${span.scope.name}${span.scope.version ? ` ${span.scope.version}` : ''}`]);
  }

  // The API sends the query text once, in the span's attribute the class names.
  const queryAttribute = cls?.queryTextAttribute;
  const queryValue = queryAttribute === undefined ? undefined : span.attributes[queryAttribute];
  const query = typeof queryValue === 'string' ? queryValue : undefined;
  return h(
    'div',
    { className: 'details' },
    h(
      'header',
      { className: 'details-head' },
      arrow === undefined
        ? null
        : h('span', { className: 'arrow-number', attrs: { title: `${arrow.kind} arrow` } }, String(arrow.number)),
      h(
        'div',
        null,
        h('h2', { className: 'details-title' }, cls?.label ?? span.name),
        cls?.label !== span.name ? h('p', { className: 'muted details-name' }, span.name) : null,
      ),
    ),
    h('dl', { className: 'facts' }, ...facts.flatMap(([term, value]) => [h('dt', null, term), h('dd', null, value)])),
    batch === undefined || batch.length === 0
      ? null
      : section(
          `Batch: one round trip (${batch.length} spans)`,
          h(
            'ol',
            { className: 'links' },
            ...batch.map((member) =>
              h(
                'li',
                null,
                onSelectSpan === undefined
                  ? member.label
                  : h(
                      'button',
                      {
                        className: 'linklike',
                        attrs: { type: 'button' },
                        on: { click: () => onSelectSpan(member.spanId) },
                      },
                      member.label,
                    ),
              ),
            ),
          ),
        ),
    query === undefined ? null : section('Query', h('pre', { className: 'query' }, query)),
    section('Attributes', attributeTable(attributeEntries(span.attributes), 'Attributes')),
    span.events.length === 0
      ? null
      : section(
          `Events (${span.events.length})`,
          h(
            'ol',
            { className: 'events' },
            ...span.events.map((event) =>
              h(
                'li',
                null,
                h(
                  'div',
                  { className: 'event-head' },
                  h('strong', null, event.name),
                  h('span', { className: 'muted' }, ` +${formatDuration(nsToMs(event.timeNs - traceStartNs))}`),
                ),
                attributeTable(attributeEntries(event.attributes), 'Event attributes'),
              ),
            ),
          ),
        ),
    span.links.length === 0
      ? null
      : section(
          'Links',
          h(
            'ul',
            { className: 'links' },
            ...span.links.map((link) =>
              h(
                'li',
                null,
                h(
                  'a',
                  { attrs: { href: withSource(`/traces/${encodeURIComponent(link.traceId)}`) } },
                  `trace ${link.traceId.slice(0, 12)}…`,
                ),
                ` span ${link.spanId}`,
              ),
            ),
          ),
        ),
    h(
      'details',
      { className: 'details-section' },
      h('summary', null, 'Resource'),
      attributeTable(attributeEntries(span.resource), 'Resource attributes'),
    ),
  );
}
