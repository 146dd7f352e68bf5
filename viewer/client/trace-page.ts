/**
 * The trace page (`/traces/:id`): the sequence diagram, the timeline, the
 * analysis and the details of whichever arrow or span is selected.
 */
import { renderAnalysis } from './analysis.js';
import { ApiError, type DiagramOptions, diagramOptionsFrom, diagramQuery, getTrace } from './api.js';
import { renderDetails } from './details.js';
import { drawSvg, onColorSchemeChange, type RenderedDiagram, renderDiagram, warmUpDiagrams } from './diagram.js';
import { h, replaceChildren } from './dom.js';
import { copyText, download, fileStem, summaryLine, svgText, svgToPng, toMarkdown } from './export.js';
import { displayName, formatDateTime, formatDuration, nsToMs } from './format.js';
import { getSpanPage, MAX_LOADED_SPANS, redrawInWorker, SPANS_PAGE } from './redraw.js';
import { withSource } from './source.js';
import { renderTimeline, type Timeline } from './timeline.js';
import { type Span, type TraceResponse, toClientSpan, toClientSummary } from './types.js';

/** The performance mark set when the trace page's diagram is first drawn and laid out. */
const DRAWN_MARK = 'lifeline:diagram-drawn';

/** Renders the trace page for `traceId` into `main`. */
export async function renderTracePage(main: HTMLElement, traceId: string): Promise<void> {
  document.title = 'Trace · Lifeline';
  const options = diagramOptionsFrom(location.search);
  // Mermaid loads its sequence diagram code on first use: that load overlaps the trace's request.
  warmUpDiagrams();
  let data: TraceResponse & { readonly wireSpans: readonly unknown[] };
  try {
    data = await getTrace(traceId, options);
  } catch (error) {
    const message =
      error instanceof ApiError && error.status === 404
        ? 'No trace with this id is stored (it may have been pruned).'
        : `Could not load the trace: ${error instanceof Error ? error.message : String(error)}`;
    replaceChildren(
      main,
      h('p', null, h('a', { className: 'back', attrs: { href: withSource('/') } }, '← Requests')),
      h('div', { className: 'callout callout-error', attrs: { role: 'alert' } }, message),
    );
    return;
  }

  // The diagram is drawn before the rest of the page is built: Mermaid
  // measures each of its labels in the page, and in a page holding little
  // else each measurement costs less (a 200-message diagram drew about a
  // tenth faster than into the finished page). A failure is drawDiagram's to
  // show, in the diagram's place.
  replaceChildren(main, h('p', { className: 'muted', attrs: { role: 'status' } }, 'Drawing the sequence diagram…'));
  let firstSvg: Promise<string> | undefined = drawSvg(data.sequence.mermaid);
  await firstSvg.catch(() => undefined);
  let spansById = new Map<string, Span>(data.spans.map((span) => [span.spanId, span]));
  let traceStartNs = data.spans.reduce((min, span) => Math.min(min, span.startTimeNs), Number.POSITIVE_INFINITY);
  // Every span of the trace; the server sends the earliest MAX_TRACE_SPANS of a larger one.
  const spanTotal = Math.max(data.spanCount ?? 0, data.spans.length);
  // Spans read beyond the first answer (see loadSpans): drawn in a worker, not by the server.
  let loadedMore = false;
  let diagram: RenderedDiagram | undefined;
  let timeline: Timeline | undefined;

  const toast = h('span', { className: 'toast', attrs: { role: 'status', 'aria-live': 'polite' } });
  let toastTimer: number | undefined;
  const say = (text: string): void => {
    toast.textContent = text;
    toast.classList.add('is-visible');
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(() => toast.classList.remove('is-visible'), 2500);
  };

  const detailsBody = h(
    'div',
    { className: 'details-empty muted', attrs: { id: 'span-details' } },
    'Click an arrow, its number or a timeline row to see that span: attributes, events, timing and the full query.',
  );
  const diagramBox = h('div', { className: 'diagram', attrs: { id: 'diagram' } });
  const diagramNotes = h('div', { className: 'diagram-notes' });
  const timelineBox = h('div', { attrs: { id: 'timeline' } });

  const showSpan = (
    spanId: string,
    arrow?: { number: number; kind: string; spanIds?: readonly string[] | undefined },
  ): void => {
    const span = spansById.get(spanId);
    if (span === undefined) return;
    const batch = arrow?.spanIds?.map((id) => ({
      spanId: id,
      label: data.classes[id]?.label || spansById.get(id)?.name || id,
    }));
    const details = renderDetails({
      span,
      cls: data.classes[spanId],
      traceStartNs,
      ...(arrow === undefined ? {} : { arrow: { number: arrow.number, kind: arrow.kind } }),
      ...(batch === undefined ? {} : { batch, onSelectSpan: (id: string) => showSpan(id) }),
    });
    details.id = 'span-details';
    panel.replaceChildren(details);
    timeline?.highlight([spanId]);
  };

  const selectArrow = (number: number): void => {
    const arrow = data.sequence.model.arrows.find((candidate) => candidate.number === number);
    diagram?.select(number);
    if (arrow !== undefined) {
      showSpan(arrow.spanId, { number: arrow.number, kind: arrow.kind, spanIds: arrow.spanIds });
    }
    // A batch arrow stands for all its commands: show them all in the timeline.
    if (arrow?.spanIds !== undefined) timeline?.highlight(arrow.spanIds);
  };

  const selectSpans = (spanIds: string[]): void => {
    const first = spanIds[0];
    if (first === undefined) return;
    showSpan(first);
    timeline?.highlight(spanIds);
    const arrow = data.sequence.model.arrows.find(
      (candidate) => candidate.spanId === first || candidate.spanIds?.includes(first) === true,
    );
    diagram?.select(arrow?.number);
  };

  const drawDiagram = async (): Promise<void> => {
    diagramBox.setAttribute('aria-busy', 'true');
    try {
      const drawn = firstSvg;
      firstSvg = undefined;
      diagram = await renderDiagram(diagramBox, data.sequence.mermaid, selectArrow, drawn);
      diagramBox.dataset.renderedMessages = String(diagram.messageCount);
      diagramBox.dataset.modelMessages = String(data.sequence.model.messageCount);
      if (performance.getEntriesByName(DRAWN_MARK).length === 0) {
        // When the diagram was first ready to show (laid out, as the browser
        // would before painting), for the browser benchmark and the browser's own tools.
        diagramBox.getBoundingClientRect();
        performance.mark(DRAWN_MARK);
      }
      const notes: string[] = [];
      if (data.sequence.folded) notes.push('Some calls were folded to keep the diagram under Mermaid’s size limit.');
      if (diagram.messageCount !== data.sequence.model.messageCount) {
        notes.push(
          `Mermaid drew ${diagram.messageCount} messages but the model has ${data.sequence.model.messageCount}; clicking an arrow may show the wrong span.`,
        );
      }
      for (const note of data.sequence.model.notes) notes.push(note);
      replaceChildren(diagramNotes, ...notes.map((note) => h('p', { className: 'callout' }, note)));
    } catch (error) {
      diagram = undefined;
      replaceChildren(
        diagramBox,
        h(
          'div',
          { className: 'callout callout-error', attrs: { role: 'alert' } },
          `Mermaid could not draw this diagram: ${error instanceof Error ? error.message : String(error)}`,
        ),
        h('pre', { className: 'mermaid-source' }, data.sequence.mermaid),
      );
    } finally {
      diagramBox.removeAttribute('aria-busy');
    }
  };

  const drawTimeline = (): void => {
    timeline = renderTimeline(data.spans, data.classes, (spanId) => selectSpans([spanId]));
    replaceChildren(timelineBox, timeline.element);
  };

  const reload = async (): Promise<void> => {
    const query = diagramQuery(options);
    history.replaceState(null, '', withSource(`/traces/${encodeURIComponent(data.traceId)}?${query.toString()}`));
    try {
      if (loadedMore) await redraw(data.wireSpans, data.classes);
      else {
        data = await getTrace(data.traceId, options);
        await drawDiagram();
      }
    } catch (error) {
      say(`Could not reload: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const toggle = (key: keyof DiagramOptions, label: string, hint: string): HTMLElement => {
    const input = h('input', {
      attrs: { type: 'checkbox', name: key, checked: options[key] },
      on: {
        change: () => {
          options[key] = input.checked;
          void reload();
        },
      },
    });
    return h('label', { className: 'toggle', attrs: { title: hint } }, input, h('span', null, label));
  };

  const action = (label: string, run: () => Promise<void> | void, name: string): HTMLButtonElement =>
    h(
      'button',
      {
        className: 'button',
        attrs: { type: 'button', 'data-action': name },
        on: {
          click: async () => {
            try {
              await run();
            } catch (error) {
              say(`${label} failed: ${error instanceof Error ? error.message : String(error)}`);
            }
          },
        },
      },
      label,
    );

  const requireDiagram = (): SVGSVGElement => {
    if (diagram === undefined) throw new Error('the diagram is not drawn');
    return diagram.svg;
  };
  const background = (): string => getComputedStyle(diagramBox).backgroundColor || '#ffffff';

  const toolbar = h(
    'div',
    { className: 'toolbar' },
    h(
      'div',
      { className: 'toolbar-group', attrs: { role: 'group', 'aria-label': 'Diagram options' } },
      toggle('timings', 'Timings', 'Show durations on response arrows (off gives byte-stable text for docs)'),
      toggle('internal', 'Internal spans', 'Draw internal spans as self-calls'),
      toggle('loops', 'Fold loops', 'Fold repeated identical calls into a loop block'),
    ),
    h(
      'div',
      { className: 'toolbar-group', attrs: { role: 'group', 'aria-label': 'Mermaid syntax' } },
      toggle(
        'shapes',
        'Mermaid 11 shapes',
        'Draw databases, caches and queues with participant shapes, in the diagram and in the copied or downloaded text. Off, the text also renders on Mermaid 10.9 (GitHub, GitLab, wikis); on, it needs Mermaid 11.13 or later.',
      ),
    ),
    h(
      'div',
      { className: 'toolbar-group', attrs: { role: 'group', 'aria-label': 'Export' } },
      action(
        'Copy Mermaid',
        async () => {
          await copyText(data.sequence.mermaid);
          say('Mermaid text copied');
        },
        'copy-mermaid',
      ),
      action(
        'Copy Markdown',
        async () => {
          await copyText(toMarkdown(data, options.timings));
          say('Markdown copied');
        },
        'copy-markdown',
      ),
      action(
        '.mmd',
        () => {
          download(new Blob([data.sequence.mermaid], { type: 'text/plain' }), `${fileStem(data.summary)}.mmd`);
        },
        'download-mmd',
      ),
      action(
        'SVG',
        () => {
          download(new Blob([svgText(requireDiagram())], { type: 'image/svg+xml' }), `${fileStem(data.summary)}.svg`);
        },
        'download-svg',
      ),
      action(
        'PNG',
        async () => {
          const png = await svgToPng(requireDiagram(), { scale: 2, background: background() });
          download(png, `${fileStem(data.summary)}.png`);
        },
        'download-png',
      ),
      action(
        'Permalink',
        async () => {
          await copyText(
            `${location.origin}${withSource(`/traces/${data.traceId}?${diagramQuery(options).toString()}`)}`,
          );
          say('Permalink copied');
        },
        'permalink',
      ),
    ),
    toast,
  );

  // Calls this request made: client and producer spans, across every service in the trace.
  const callCount = (): number =>
    data.spans.filter((span) => span.kind === 'client' || span.kind === 'producer').length;
  const summary = data.summary;
  const statusClass =
    summary.statusCode === undefined
      ? 'status-none'
      : summary.statusCode >= 500
        ? 'status-5xx'
        : summary.statusCode >= 400
          ? 'status-4xx'
          : 'status-ok';
  const fullTitle = summary.route ?? summary.rootName;
  // A route or span name can be any length and hold line breaks: the heading shows a clean line, its title the whole.
  const title = displayName(fullTitle, 300);
  document.title = `${summary.method ?? ''} ${displayName(fullTitle, 80)} · Lifeline`.trim();

  const panel = h('div', { className: 'card-body' }, detailsBody);
  const spanCountMeta = h('span', { attrs: { 'data-span-count': spanTotal } });
  const summaryText = h('p', { className: 'trace-summary muted' });
  const analysisBox = h('div');
  /** The figures above the diagram: drawn before it, so it does not move when they appear. */
  const drawHeadFigures = (): void => {
    spanCountMeta.textContent = `${spanTotal.toLocaleString('en-US')} ${spanTotal === 1 ? 'span' : 'spans'}`;
    summaryText.textContent = summaryLine(data.summary, { calls: callCount() });
  };
  /** The analysis panel, in the side column beside the diagram. */
  const drawAnalysis = (): void => {
    const analyzed = data.analyzedSpans ?? data.spans.length;
    replaceChildren(
      analysisBox,
      analyzed < spanTotal
        ? h(
            'p',
            { className: 'callout', attrs: { 'data-analyzed-spans': analyzed } },
            `Analysis of the earliest ${analyzed.toLocaleString('en-US')} of ${spanTotal.toLocaleString('en-US')} spans; \`lifeline export ${data.traceId} --format json\` analyzes every span.`,
          )
        : null,
      renderAnalysis(data.analysis, selectSpans),
    );
  };
  const drawFigures = (): void => {
    drawHeadFigures();
    drawAnalysis();
  };

  // A trace larger than the server sends at once: say so, and offer the rest.
  const sizeBanner = h('div', {
    className: 'callout trace-size',
    attrs: { id: 'trace-size', role: 'status', 'aria-live': 'polite' },
  });
  const drawSizeBanner = (busy?: string): void => {
    const loaded = data.wireSpans.length;
    if (loaded >= spanTotal && !loadedMore) {
      sizeBanner.hidden = true;
      return;
    }
    sizeBanner.hidden = false;
    const reachable = Math.min(spanTotal, MAX_LOADED_SPANS);
    const next = Math.min(SPANS_PAGE, reachable - loaded);
    const button = (label: string, name: string, upTo: number): HTMLButtonElement =>
      h(
        'button',
        {
          className: 'button',
          attrs: { type: 'button', 'data-action': name, disabled: busy !== undefined },
          on: { click: () => void loadSpans(upTo) },
        },
        label,
      );
    const shown =
      loaded >= spanTotal
        ? `Showing all ${spanTotal.toLocaleString('en-US')} spans.`
        : `Showing ${loaded.toLocaleString('en-US')} of ${spanTotal.toLocaleString('en-US')} spans, the earliest by start time: the diagram, timeline and analysis cover these.`;
    replaceChildren(
      sizeBanner,
      h('span', { className: 'trace-size-text' }, busy ?? shown),
      next > 0 ? button(`Load the next ${next.toLocaleString('en-US')}`, 'load-more', loaded + next) : null,
      next > 0 && reachable > loaded + next
        ? button(
            reachable < spanTotal
              ? `Load up to ${reachable.toLocaleString('en-US')}`
              : `Load all ${reachable.toLocaleString('en-US')}`,
            'load-all',
            reachable,
          )
        : null,
      loaded < spanTotal && next <= 0
        ? h(
            'span',
            { className: 'muted' },
            ` The page loads at most ${MAX_LOADED_SPANS.toLocaleString('en-US')}; \`lifeline export ${data.traceId} --format json\` has them all.`,
          )
        : null,
    );
    if (busy !== undefined) sizeBanner.setAttribute('aria-busy', 'true');
    else sizeBanner.removeAttribute('aria-busy');
  };

  /** Draws the diagram, timeline and analysis again from `wire` spans, in a worker. */
  const redraw = async (wire: readonly unknown[], classes: TraceResponse['classes']): Promise<void> => {
    const drawn = await redrawInWorker({ traceId: data.traceId, spans: wire, options: { ...options } });
    const spans = wire.map(toClientSpan);
    data = {
      ...data,
      wireSpans: wire,
      spans,
      classes,
      summary: toClientSummary(drawn.summary),
      analysis: drawn.analysis,
      analyzedSpans: drawn.analyzedSpans,
      sequence: drawn.sequence,
    };
    spansById = new Map(spans.map((span) => [span.spanId, span]));
    traceStartNs = spans.reduce((min, span) => Math.min(min, span.startTimeNs), Number.POSITIVE_INFINITY);
    await drawDiagram();
    drawTimeline();
    drawFigures();
  };

  /** Reads spans a page at a time until `upTo` are loaded (or the trace ends), then redraws. */
  const loadSpans = async (upTo: number): Promise<void> => {
    const wire = [...data.wireSpans];
    const classes = { ...data.classes };
    const target = Math.min(upTo, MAX_LOADED_SPANS, spanTotal);
    // A span stored meanwhile with an earlier start shifts the pages by one: never take a span twice.
    const have = new Set(data.spans.map((span) => span.spanId));
    try {
      let offset = wire.length;
      while (wire.length < target) {
        drawSizeBanner(`Loading spans… ${wire.length.toLocaleString('en-US')} of ${target.toLocaleString('en-US')}`);
        const page = await getSpanPage(data.traceId, offset, Math.min(SPANS_PAGE, target - wire.length));
        for (const span of page.spans) {
          const id = (span as { spanId: string }).spanId;
          if (have.has(id)) continue;
          have.add(id);
          wire.push(span);
        }
        Object.assign(classes, page.classes);
        offset += page.spans.length;
        if (page.nextOffset === undefined || page.spans.length === 0) break;
      }
      drawSizeBanner(`Drawing ${wire.length.toLocaleString('en-US')} spans…`);
      loadedMore = true;
      await redraw(wire, classes);
    } catch (error) {
      say(`Could not load more spans: ${error instanceof Error ? error.message : String(error)}`);
    }
    drawSizeBanner();
  };
  replaceChildren(
    main,
    h(
      'p',
      { className: 'crumbs' },
      h('a', { className: 'back', attrs: { href: withSource('/') } }, '← Requests'),
      h(
        'a',
        {
          className: 'compare-latest',
          attrs: { href: withSource(`/compare?before=${encodeURIComponent(data.traceId)}&after=latest`) },
        },
        'Compare with the latest request of this endpoint',
      ),
    ),
    h(
      'div',
      { className: 'trace-head' },
      h(
        'h1',
        null,
        summary.method === undefined ? null : h('span', { className: 'method' }, summary.method),
        h('span', { className: 'trace-title', attrs: { title: fullTitle } }, title),
      ),
      h(
        'div',
        { className: 'trace-meta' },
        h(
          'span',
          { className: `status ${statusClass}` },
          summary.statusCode === undefined ? 'no status' : String(summary.statusCode),
        ),
        h('span', { className: 'meta-strong' }, formatDuration(nsToMs(summary.durationNs))),
        h('span', { attrs: { title: summary.rootService } }, displayName(summary.rootService, 60)),
        h('span', null, formatDateTime(summary.startTimeNs)),
        spanCountMeta,
        h('code', { className: 'trace-id', attrs: { title: 'trace id' } }, data.traceId),
      ),
      summaryText,
    ),
    sizeBanner,
    toolbar,
    h(
      'div',
      { className: 'trace-grid' },
      h(
        'div',
        { className: 'trace-main' },
        h(
          'section',
          { className: 'card' },
          h('h2', { className: 'card-title' }, 'Sequence diagram'),
          diagramNotes,
          diagramBox,
        ),
        h('section', { className: 'card' }, h('h2', { className: 'card-title' }, 'Timeline'), timelineBox),
      ),
      h(
        'aside',
        { className: 'trace-side' },
        h('section', { className: 'card card-details' }, h('h2', { className: 'card-title' }, 'Span details'), panel),
        h('section', { className: 'card' }, h('h2', { className: 'card-title' }, 'Analysis'), analysisBox),
      ),
    ),
  );

  drawHeadFigures();
  drawSizeBanner();
  // The diagram (drawn above) goes in first, the analysis beside it and the
  // timeline below it right after: the page's main picture is not held up by
  // them, and neither moves it (the side column has a fixed width).
  await drawDiagram();
  drawAnalysis();
  drawTimeline();
  onColorSchemeChange(() => void drawDiagram());
}
