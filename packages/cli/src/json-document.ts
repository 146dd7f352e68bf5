/**
 * Reading one large JSON trace document (an OTLP request `{"resourceSpans":
 * […]}`, a Jaeger download `{"data": […]}`, a Tempo `{"batches": […]}` or a
 * top-level array of Zipkin spans) a span at a time with a streaming JSON
 * parser, so that importing it holds a batch of spans, not the file: V8
 * cannot hold a string above ~512 MiB, and `JSON.parse` of a file costs
 * several times its size. A resource or a trace of any number of spans is
 * read in batches too.
 *
 * The parser is @streamparser/json: its `write()` is synchronous and calls
 * back for every completed span, which fits a loop that reads a chunk, parses
 * it and commits what it completed before reading on. It is asked for the
 * spans and for the few keys of the objects around them that the importers
 * read (an OTLP resource's `resource` and its scope's `scope`, a Jaeger
 * trace's `processes`): with `keepStack: false` every value is dropped once
 * read, so what is held is a batch of spans and those keys of the resource,
 * scope or trace being read, which travel with each batch of its spans.
 *
 * A span is converted with what its containers say, so it waits until those
 * keys have been read: normally they come first (OTLP writers put `resource`
 * before `scopeSpans`), but Jaeger writes a trace's `processes` after its
 * `spans`. Up to one batch of spans waits in memory; when more would, the
 * spans of those containers are dropped, the containers' keys are kept once
 * read (within {@link KEPT_CONTEXT_BYTES}) and the file is read again for
 * those containers' spans alone.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Tokenizer, TokenParser } from '@streamparser/json';

/** How spans sit in one shape of document. */
interface SpanList {
  /** Path of the spans: keys, with `*` for every item of a list; the last `*` is a span. */
  readonly path: readonly string[];
  /**
   * For each container (the root, then the item each `*` before the last
   * names), the keys of which one holds what its spans are read with: a span
   * waits for one of them (or for its container's end). Empty: nothing to wait for.
   */
  readonly tables: readonly (readonly string[])[];
  /** For each container, the keys read from it and passed on with its spans (`tables` among them). */
  readonly keys: readonly (readonly string[])[];
  /** Whether a span carries what its containers would give it (a Jaeger span with its own `process`). */
  readonly selfContained?: (span: unknown) => boolean;
}

const SCOPE_TABLES = ['scope', 'instrumentationLibrary', 'instrumentation_library'];
const SCHEMA_KEYS = ['schemaUrl', 'schema_url'];
const JAEGER_TRACE_KEYS = ['traceID', 'processes'];

function hasOwnProcess(span: unknown): boolean {
  return typeof span === 'object' && span !== null && 'process' in span;
}

/** OTLP `ResourceSpans` lists by where they sit, in OTLP/JSON's and protobuf's field names. */
function otlpLists(prefix: readonly string[]): SpanList[] {
  const lists: SpanList[] = [];
  for (const scopes of ['scopeSpans', 'instrumentationLibrarySpans', 'scope_spans', 'instrumentation_library_spans']) {
    lists.push({
      path: [...prefix, '*', scopes, '*', 'spans', '*'],
      tables: [[], ['resource'], SCOPE_TABLES],
      keys: [[], ['resource', ...SCHEMA_KEYS], [...SCOPE_TABLES, ...SCHEMA_KEYS]],
    });
  }
  return lists;
}

/** The lists streamed in a document that is an object. */
const OBJECT_LISTS: readonly SpanList[] = [
  ...otlpLists(['resourceSpans']),
  ...otlpLists(['resource_spans']),
  ...otlpLists(['batches']),
  ...otlpLists(['result', 'resourceSpans']),
  ...otlpLists(['trace', 'resourceSpans']),
  ...otlpLists(['trace', 'batches']),
  // A Jaeger download, and one Jaeger trace: its spans name a process in `processes`, or carry their own.
  {
    path: ['data', '*', 'spans', '*'],
    tables: [[], ['processes']],
    keys: [[], JAEGER_TRACE_KEYS],
    selfContained: hasOwnProcess,
  },
  { path: ['spans', '*'], tables: [['processes']], keys: [JAEGER_TRACE_KEYS], selfContained: hasOwnProcess },
];

/** A top-level array of Zipkin spans, or of traces (arrays of spans). */
const SPANS_ARRAY: SpanList = { path: ['*'], tables: [[]], keys: [[]] };
const TRACES_ARRAY: SpanList = { path: ['*', '*'], tables: [[], []], keys: [[], []] };

/** Bytes (as JSON text) of containers' keys kept across a read of the file, for the spans that waited on them. */
export const KEPT_CONTEXT_BYTES = 16 * 1024 * 1024;

/** A batch of spans, wrapped as a small document of the file's shape. */
export interface DocumentBatch {
  /** `{"resourceSpans": [{resource, scopeSpans: [{scope, spans}]}]}`, `{"data": [{…, spans}]}`, … or an array of spans. */
  readonly document: unknown;
  /** Where the batch's first span is in the file: `resourceSpans[0].scopeSpans[0].spans[2000]`, `data[3].spans[0]`, `[5000]`. */
  readonly place: string;
  /** Spans the batch holds. */
  readonly spans: number;
  /**
   * A place in {@link document} (a JSON path as the importers name them, in
   * OTLP/JSON's field names) as the same place in the file.
   */
  readonly placeInFile: (place: string) => string;
}

/** Options of {@link readDocumentBatches}. */
export interface ReadDocumentOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  readonly chunkBytes?: number;
  /**
   * A batch is handed on at the end of a resource, scope or trace once it
   * holds this many spans (default 2,000), or at twice as many inside one (a
   * larger one is split); as many may wait for their containers' keys.
   */
  readonly batchSpans?: number;
  /** Bytes of containers' keys kept for a later read of the file (default {@link KEPT_CONTEXT_BYTES}). */
  readonly keptContextBytes?: number;
}

/** What {@link readDocumentBatches} did. */
export interface DocumentStats {
  /** Spans read from the document. */
  parts: number;
  batches: number;
  /** Times the file was read: 1, more when spans came before what they are read with. */
  passes: number;
  /** Most spans held at once: waiting for their containers' keys, or in a batch not yet handed on. */
  peakHeldSpans: number;
}

/**
 * Integers beyond float64's exact range (nanosecond times written as JSON
 * numbers) keep their digits, as `parseJsonExact` keeps them for a whole file.
 */
class ExactTokenizer extends Tokenizer {
  override parseNumber(numberStr: string): number {
    const n = Number(numberStr);
    if (Number.isSafeInteger(n) || !/^-?\d+$/.test(numberStr)) return n;
    // The parser hands the value on untouched; its type says number because a plain parser only makes numbers.
    return numberStr as unknown as number;
  }
}

/** The first two bytes of the document that are not white space or a byte-order mark (0 when absent). */
function firstBytes(path: string): [number, number] {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    const text = buffer
      .subarray(0, read)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .replace(/\s+/g, '');
    return [text.charCodeAt(0) || 0, text.charCodeAt(1) || 0];
  } finally {
    closeSync(fd);
  }
}

function lowerCamelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** The keys read so far from a container (see {@link SpanList.keys}). */
type Container = Record<string, unknown>;

/** The containers of one span: the root, then each item of a list above the span's. */
interface Chain {
  readonly list: SpanList;
  /** Index in its list of each container after the root. */
  readonly indexes: readonly number[];
  readonly containers: readonly Container[];
  /** The path of each container after the root as text (`resourceSpans.3`, …): a container has ended when the next span's differs. */
  readonly prefixes: readonly string[];
  /** Which containers these are: the path of the deepest. */
  readonly key: string;
}

/** Spans of one chain, with their indexes in their list. */
interface Group {
  readonly chain: Chain;
  /** The containers' keys that travel with the spans. */
  readonly contexts: readonly Container[];
  readonly indexes: number[];
  readonly spans: unknown[];
}

/** Positions in `path` of the `*` segments before the last: where the containers after the root are. */
function containerPositions(path: readonly string[]): number[] {
  const positions: number[] = [];
  for (let p = 0; p < path.length - 1; p++) if (path[p] === '*') positions.push(p);
  return positions;
}

function snapshot(chain: Chain): Group['contexts'] {
  return chain.containers.map((container) => ({ ...container }));
}

/** Whether the keys a span waits for are there (or their container has ended without them). */
function hasTables(chain: Chain, span: unknown, ended: (level: number) => boolean): boolean {
  if (chain.list.selfContained?.(span) === true) return true;
  return chain.list.tables.every((keys, level) => {
    if (keys.length === 0 || ended(level)) return true;
    const container = chain.containers[level] as Container;
    return keys.some((key) => key in container);
  });
}

/** A segment of a place as the importers write it: `[3]` for an item, `key` or `.key` (OTLP/JSON's name) for a key. */
function placeSegment(segment: string, pos: number, index: number): string {
  if (segment === '*') return `[${index}]`;
  return `${pos === 0 ? '' : '.'}${lowerCamelCase(segment)}`;
}

/** Wraps groups of spans as a document of the file's shape, and maps places in it back to the file. */
function wrapGroups(groups: readonly Group[]): DocumentBatch {
  const { path } = (groups[0] as Group).chain.list;
  const deepest = containerPositions(path).length;
  // Index path in the document (one per `*`) → index in the file.
  const fileIndexes = new Map<string, number>();
  let spans = 0;
  const valueAt = (pos: number, level: number, run: readonly Group[], at: readonly number[]): unknown => {
    if (path[pos] !== '*') {
      // A container (the root, or a list's item) carries its keys; an object between two keys only the next.
      const context = pos === 0 || path[pos - 1] === '*' ? (run[0] as Group).contexts[level] : undefined;
      return { ...context, [path[pos] as string]: valueAt(pos + 1, level, run, at) };
    }
    if (pos === path.length - 1) {
      const items: unknown[] = [];
      for (const group of run) {
        group.spans.forEach((span, i) => {
          fileIndexes.set([...at, items.length].join(','), group.indexes[i] as number);
          items.push(span);
        });
      }
      spans += items.length;
      return items;
    }
    // Groups of one container, next to each other, share one item.
    const items: unknown[] = [];
    for (let start = 0; start < run.length; ) {
      const index = (run[start] as Group).chain.indexes[level] as number;
      let end = start + 1;
      if (level + 1 === deepest) {
        const key = (run[start] as Group).chain.key;
        while (end < run.length && (run[end] as Group).chain.key === key) end++;
      } else {
        while (end < run.length && (run[end] as Group).chain.indexes[level] === index) end++;
      }
      const item = [...at, items.length];
      fileIndexes.set(item.join(','), index);
      items.push(valueAt(pos + 1, level + 1, run.slice(start, end), item));
      start = end;
    }
    return items;
  };
  const document = valueAt(0, 0, groups, []);
  const placeInFile = (place: string): string => {
    let at = 0;
    let out = '';
    const indexes: number[] = [];
    for (const [pos, segment] of path.entries()) {
      if (segment === '*') {
        const match = /^\[(\d+)\]/.exec(place.slice(at));
        if (match === null) break;
        indexes.push(Number(match[1]));
        const file = fileIndexes.get(indexes.join(','));
        if (file === undefined) break;
        out += `[${file}]`;
        at += match[0].length;
      } else {
        const key = placeSegment(segment, pos, 0);
        if (!place.startsWith(key, at)) break;
        out += key;
        at += key.length;
      }
    }
    return out + place.slice(at);
  };
  const firstPlace = placeInFile(path.map((segment, pos) => placeSegment(segment, pos, 0)).join(''));
  return { document, place: firstPlace, spans, placeInFile };
}

/** What one read of the file is to do. */
interface PassPlan {
  /** The first read takes every span; the later ones those of the containers below. */
  readonly first: boolean;
  /** Containers whose spans are taken in this read, with their keys kept from the last, by chain key. */
  readonly known: Map<string, Group['contexts']>;
  /** Containers still to be read whose keys were not kept (past the budget): they are kept in this read. */
  readonly unknown: Set<string>;
}

/**
 * Calls `onBatch` with the spans of the document, a batch at a time, in
 * order (except spans that waited for their containers' keys, which come
 * once those are read). Returns undefined, having called `onBatch` never,
 * when the document holds none of the lists it streams (an object of another
 * shape): the caller then reads it whole.
 *
 * @throws {Error} the parser's error (with the byte offset) when the file is
 * not valid JSON, what `fs` throws when it cannot be read, and what `onBatch` throws.
 */
export function readDocumentBatches(
  path: string,
  onBatch: (batch: DocumentBatch) => void,
  options: ReadDocumentOptions = {},
): DocumentStats | undefined {
  const limits = {
    chunkBytes: options.chunkBytes ?? 1024 * 1024,
    batchSpans: options.batchSpans ?? 2000,
    keptBytes: options.keptContextBytes ?? KEPT_CONTEXT_BYTES,
  };
  const [first, second] = firstBytes(path);
  if (first !== 0x5b /* [ */ && first !== 0x7b /* { */) return undefined;
  const lists = first === 0x7b ? OBJECT_LISTS : [second === 0x5b ? TRACES_ARRAY : SPANS_ARRAY];
  const stats: DocumentStats = { parts: 0, batches: 0, passes: 0, peakHeldSpans: 0 };
  let plan: PassPlan = { first: true, known: new Map(), unknown: new Set() };
  for (;;) {
    stats.passes++;
    plan = readPass(path, lists, plan, limits, stats, onBatch);
    if (stats.parts === 0) return undefined;
    if (plan.known.size === 0 && plan.unknown.size === 0) return stats;
  }
}

/** One read of the file; returns what the next is to do. */
function readPass(
  path: string,
  lists: readonly SpanList[],
  plan: PassPlan,
  limits: { readonly chunkBytes: number; readonly batchSpans: number; readonly keptBytes: number },
  stats: DocumentStats,
  onBatch: (batch: DocumentBatch) => void,
): PassPlan {
  const { chunkBytes, batchSpans, keptBytes } = limits;
  const next: PassPlan = { first: false, known: new Map(), unknown: new Set() };
  let keptSoFar = 0;
  const tokenizer = new ExactTokenizer({ stringBufferSize: 64 * 1024, numberBufferSize: 64 });
  // The spans, and the keys of their containers: with keepStack false every value is dropped once read,
  // so no list grows; what is asked for is handed to onValue first.
  const contextPaths = lists.flatMap((list) =>
    [-1, ...containerPositions(list.path)].flatMap((p, level) =>
      (list.keys[level] ?? []).map((key) => ({ path: [...list.path.slice(0, p + 1), key], level })),
    ),
  );
  const paths = new Set([...lists, ...contextPaths].map((each) => ['$', ...each.path].join('.')));
  const parser = new TokenParser({ paths: [...paths], keepStack: false });
  tokenizer.onToken = parser.write.bind(parser);
  parser.onError = tokenizer.error.bind(tokenizer);

  let batch: Group[] = [];
  let held = 0;
  // Spans whose containers' keys have not been read yet.
  let waiting: Group[] = [];
  let waitingSpans = 0;
  // Containers whose spans are left to a later read, until their keys are read.
  let deferred: Chain[] = [];
  const skipped = new Set<string>();

  const flush = (): void => {
    if (batch.length === 0) return;
    const wrapped = wrapGroups(batch);
    held -= wrapped.spans;
    batch = [];
    stats.batches++;
    onBatch(wrapped);
  };
  const add = (chain: Chain, contexts: Group['contexts'], index: number, span: unknown): void => {
    // A batch is wrapped in the shape of one list (a document mixing OTLP and Jaeger is two kinds of batch).
    if (batch[0] !== undefined && batch[0].chain.list !== chain.list) flush();
    const last = batch.at(-1);
    if (last?.chain.key === chain.key) {
      last.indexes.push(index);
      last.spans.push(span);
    } else {
      // Cut between resources or traces where the batch is full: ids are matched within a batch
      // (a Zipkin-style shared client and server id, a 64-bit trace id), so one that fits a batch is never split.
      if (held >= batchSpans) flush();
      batch.push({ chain, contexts, indexes: [index], spans: [span] });
    }
    held++;
    stats.peakHeldSpans = Math.max(stats.peakHeldSpans, held + waitingSpans);
    // Spans straight in the root (a Zipkin array) have no container to keep whole.
    if (held >= (chain.indexes.length === 0 ? batchSpans : 2 * batchSpans)) flush();
  };
  /** Whether `chain`'s container at `level` has ended, now that a span of `current` is read (undefined: the document ended). */
  const endedBy =
    (chain: Chain, current: Chain | undefined) =>
    (level: number): boolean =>
      current === undefined || (level > 0 && current.prefixes[level - 1] !== chain.prefixes[level - 1]);
  const keep = (chain: Chain): void => {
    const contexts = snapshot(chain);
    const size = JSON.stringify(contexts).length;
    // Past the budget the keys are read again next time; one container always goes, so each read makes progress.
    if (keptSoFar > 0 && keptSoFar + size > keptBytes) {
      next.unknown.add(chain.key);
      return;
    }
    keptSoFar += size;
    next.known.set(chain.key, contexts);
  };
  /** Passes on what waited and can go now that a span of `current` is read. */
  const settle = (current: Chain | undefined): void => {
    if (waiting.length > 0) {
      const still: Group[] = [];
      for (const group of waiting) {
        if (!hasTables(group.chain, undefined, endedBy(group.chain, current))) {
          still.push(group);
          continue;
        }
        waitingSpans -= group.spans.length;
        const contexts = snapshot(group.chain);
        group.spans.forEach((span, i) => {
          add(group.chain, contexts, group.indexes[i] as number, span);
        });
      }
      waiting = still;
    }
    if (deferred.length > 0) {
      const still: Chain[] = [];
      for (const chain of deferred) {
        if (hasTables(chain, undefined, endedBy(chain, current))) keep(chain);
        else still.push(chain);
      }
      deferred = still;
    }
  };
  const wait = (chain: Chain, index: number, span: unknown): void => {
    const last = waiting.at(-1);
    if (last?.chain.key === chain.key) {
      last.indexes.push(index);
      last.spans.push(span);
    } else {
      waiting.push({ chain, contexts: [], indexes: [index], spans: [span] });
    }
    waitingSpans++;
    stats.peakHeldSpans = Math.max(stats.peakHeldSpans, held + waitingSpans);
    if (waitingSpans <= batchSpans) return;
    // Too many wait: drop them, and read these containers' spans again once their keys are known.
    for (const group of waiting) {
      if (skipped.has(group.chain.key)) continue;
      skipped.add(group.chain.key);
      deferred.push(group.chain);
    }
    waiting = [];
    waitingSpans = 0;
  };

  // The keys read from the containers being read, one per level: a container's record is made at its first key or span.
  const current: { prefix: string; record: Container }[] = [];
  const recordAt = (level: number, prefix: string): Container => {
    const at = current[level];
    if (at?.prefix === prefix) return at.record;
    const record: Container = {};
    current[level] = { prefix, record };
    return record;
  };
  const matches = (path: readonly string[], keys: readonly unknown[]): boolean =>
    path.length === keys.length &&
    path.every((segment, i) => (segment === '*' ? typeof keys[i] === 'number' : segment === keys[i]));
  let lastList: SpanList | undefined;
  let lastChain: Chain | undefined;
  const positionsOf = new Map(lists.map((list) => [list, containerPositions(list.path)]));
  const chainOf = (list: SpanList, positions: readonly number[], keys: readonly unknown[]): Chain => {
    const prefixes = positions.map((p) => keys.slice(0, p + 1).join('.'));
    return {
      list,
      indexes: positions.map((p) => keys[p] as number),
      containers: [recordAt(0, ''), ...prefixes.map((prefix, i) => recordAt(i + 1, prefix))],
      prefixes,
      key: prefixes.at(-1) ?? list.path.slice(0, -1).join('.'),
    };
  };

  parser.onValue = ({ value, key, stack }) => {
    const keys = [...stack.slice(1).map((element) => element.key), key];
    if (typeof key === 'string') {
      const context = contextPaths.find((each) => matches(each.path, keys));
      if (context !== undefined) {
        const prefix = context.level === 0 ? '' : keys.slice(0, -1).join('.');
        recordAt(context.level, prefix)[key] = value;
      }
      return;
    }
    const list =
      lastList !== undefined && matches(lastList.path, keys)
        ? lastList
        : lists.find((each) => matches(each.path, keys));
    if (list === undefined) return;
    lastList = list;
    const positions = positionsOf.get(list) as number[];
    // Most spans are in the containers of the span before: the same chain, nothing to build.
    const previous = lastChain;
    const chain =
      previous?.list === list && positions.every((p, i) => keys[p] === previous.indexes[i])
        ? previous
        : chainOf(list, positions, keys);
    lastChain = chain;
    const index = key as number;
    settle(chain);
    if (!plan.first) {
      const contexts = plan.known.get(chain.key);
      if (contexts !== undefined) {
        add(chain, contexts, index, value);
      } else if (plan.unknown.has(chain.key) && !skipped.has(chain.key)) {
        skipped.add(chain.key);
        deferred.push(chain);
      }
      return;
    }
    stats.parts++;
    if (skipped.has(chain.key)) return;
    if (hasTables(chain, value, () => false)) add(chain, snapshot(chain), index, value);
    else wait(chain, index, value);
  };

  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(chunkBytes);
    let start = true;
    for (;;) {
      const read = readSync(fd, buffer, 0, chunkBytes, null);
      if (read === 0) break;
      let chunk = buffer.subarray(0, read);
      // The parser does not skip a byte-order mark.
      if (start && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      start = false;
      // A copy: the parser may keep a part of the chunk while a string or number goes on in the next.
      tokenizer.write(Uint8Array.from(chunk));
    }
    if (!tokenizer.isEnded) tokenizer.end();
    // A file cut short (a copy interrupted) ends inside the document: the parser waits for more.
    if (!parser.isEnded) throw new Error('the file ends before the JSON document does (truncated?)');
    settle(undefined);
    flush();
  } finally {
    closeSync(fd);
  }
  return next;
}
