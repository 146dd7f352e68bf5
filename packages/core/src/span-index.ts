/**
 * Span ids to the tree's nodes, for traces of any size.
 *
 * Why not a plain `Map<string, SpanNode>`: each lookup in a string-keyed Map
 * reads the hash, and on a collision the characters, of every id string on
 * its probe chain, and those strings lie wherever the spans were read into
 * the heap. Once a trace no longer fits the CPU cache (about 100,000 spans)
 * each of those reads is a trip to memory: the Map's lookups and inserts took
 * a quarter of the span tree's time there, four times their share at 10,000
 * spans. Here an id in the W3C Trace Context form (16 lowercase hex digits,
 * https://www.w3.org/TR/trace-context/#parent-id) is kept as two 32-bit
 * halves in an open-addressing table beside the node's index, so a lookup
 * reads the id it is given and, mostly, one slot of the table, never another
 * span's id. Any other id (uppercase hex, another length, a hostile string)
 * goes in an ordinary Map, as does every id of a small trace, where the
 * arrays would cost more than they save.
 *
 * The span tree fills the index and resolves every parent link in bulk
 * ({@link SpanIndex.build}, {@link SpanIndex.positionsOf}): one at a time, the
 * ids of a 100,000-span trace hit the 4 MB table in random order, a cache
 * miss each, and the two passes cost the tree about 10 ms more than ten
 * traces of 10,000 spans did (`node bench/core-diagram.ts`, CPU profile).
 * In bulk, the ids are first sorted by the region of the table their slot
 * falls in (a counting sort on the slot's top bits), so that the probes walk
 * the table from one end to the other.
 */

/** Traces with fewer spans than this use only the Map (see the file comment). */
const SMALL = 512;

/**
 * Regions of the table the bulk operations sort their ids into: 256, so a
 * region of the 4 MB table of a 100,000-span trace is 16 KB, which stays in
 * the CPU's first-level cache while its probes run.
 */
const REGION_BITS = 8;

// The halves of the last id parsed by `parseHalves`: module scratch, so parsing allocates nothing.
let parsedHi = 0;
let parsedLo = 0;

/**
 * Parses a 16-digit lowercase hex id into `parsedHi` and `parsedLo`. Returns
 * false, leaving them unspecified, for anything else: uppercase digits are
 * refused because `'00AB…'` and `'00ab…'` are different ids to a Map, and so
 * must they be here.
 */
function parseHalves(id: string): boolean {
  if (id.length !== 16) return false;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 16; i++) {
    const c = id.charCodeAt(i);
    let digit: number;
    if (c >= 48 && c <= 57) digit = c - 48;
    else if (c >= 97 && c <= 102) digit = c - 87;
    else return false;
    if (i < 8) hi = hi * 16 + digit;
    else lo = lo * 16 + digit;
  }
  parsedHi = hi >>> 0;
  parsedLo = lo >>> 0;
  return true;
}

/**
 * Span ids gathered for {@link SpanIndex.build} and
 * {@link SpanIndex.positionsOf}, each parsed into its halves as it is added:
 * the span tree adds a span's id and its parent's id while it reads the span,
 * when both strings are in the CPU cache, rather than in a later pass that
 * would find them in memory.
 */
export class SpanIdList {
  /** The ids as added (`undefined` stands for none: it is found nowhere). */
  readonly ids: (string | undefined)[] = [];
  /** High and low halves of each id in the table's form, where `parsed` is 1. */
  his: Uint32Array;
  los: Uint32Array;
  parsed: Uint8Array;

  /** @param capacity - the ids expected (more may be added: the arrays grow) */
  constructor(capacity: number) {
    const size = Math.max(16, capacity);
    this.his = new Uint32Array(size);
    this.los = new Uint32Array(size);
    this.parsed = new Uint8Array(size);
  }

  add(id: string | undefined): void {
    const at = this.ids.length;
    if (at === this.parsed.length) {
      const grow = <T extends Uint32Array | Uint8Array>(from: T, to: T): T => {
        to.set(from);
        return to;
      };
      this.his = grow(this.his, new Uint32Array(at * 2));
      this.los = grow(this.los, new Uint32Array(at * 2));
      this.parsed = grow(this.parsed, new Uint8Array(at * 2));
    }
    this.ids.push(id);
    if (typeof id === 'string' && parseHalves(id)) {
      this.his[at] = parsedHi;
      this.los[at] = parsedLo;
      this.parsed[at] = 1;
    }
  }
}

/**
 * A read-only map from span id to node with `Map`'s semantics (exact string
 * keys, insertion order), filled once by {@link SpanIndex.add} while the
 * tree is built.
 */
export class SpanIndex<N> implements ReadonlyMap<string, N> {
  readonly #keys: string[] = [];
  readonly #values: N[] = [];
  /** Ids outside the fast form, and every id of a small trace: id → position in #keys. */
  readonly #other = new Map<string, number>();
  /**
   * Open-addressing table, linear probing, four words a slot: position + 1
   * (0 = empty), the id's high half, its low half, unused. A probe compares
   * ids within the one 16-byte slot it reads, so it costs one cache line.
   * Undefined for a small trace.
   */
  readonly #table: Uint32Array | undefined;
  readonly #shift: number;
  readonly #capacity: number;

  /** @param capacity - the most ids that will be added (the number of spans read). */
  constructor(capacity: number) {
    this.#capacity = capacity;
    if (capacity < SMALL) {
      this.#shift = 0;
      return;
    }
    // At most half the slots used: a power of two, so a probe wraps with a mask.
    const bits = Math.ceil(Math.log2(capacity * 2));
    this.#table = new Uint32Array(4 * 2 ** bits);
    this.#shift = 32 - bits;
  }

  /** The slot a parsed id starts probing at: Fibonacci hashing of both halves, so sequential ids spread too. */
  #slot(hi: number, lo: number): number {
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.#shift;
  }

  /** The table index of the slot holding a parsed id, or of the empty slot where it would go. */
  #probe(table: Uint32Array, hi: number, lo: number, first = this.#slot(hi, lo)): number {
    const mask = (table.length >>> 2) - 1;
    for (let slot = first; ; slot = (slot + 1) & mask) {
      const at = slot << 2;
      if (table[at] === 0 || (table[at + 1] === hi && table[at + 2] === lo)) return at;
    }
  }

  /**
   * Adds `id → value` unless `id` is already present.
   *
   * @returns false, changing nothing, when `id` is present.
   * @throws RangeError when more ids are added than the capacity given.
   */
  add(id: string, value: N): boolean {
    const position = this.#keys.length;
    const table = this.#table;
    if (table !== undefined && parseHalves(id)) {
      const at = this.#probe(table, parsedHi, parsedLo);
      if (table[at] !== 0) return false;
      if (position >= this.#capacity) throw new RangeError('SpanIndex: more ids than its capacity');
      table[at] = position + 1;
      table[at + 1] = parsedHi;
      table[at + 2] = parsedLo;
    } else {
      if (this.#other.has(id)) return false;
      if (position >= this.#capacity) throw new RangeError('SpanIndex: more ids than its capacity');
      this.#other.set(id, position);
    }
    this.#keys.push(id);
    this.#values.push(value);
    return true;
  }

  /**
   * Builds the index of `ids[i] → values[i]`, keeping the first of equal ids
   * as {@link SpanIndex.add} one at a time would (same positions, same
   * iteration order), with the table filled in the order of its slots (see
   * the file comment).
   *
   * @param list - the ids, in input order (none `undefined`)
   * @param values - one value per id
   * @returns the index, and for each id whether it was kept (1) or repeats an earlier one (0)
   * @throws RangeError when `values` is shorter than the list, or the list holds `undefined`
   */
  static build<N>(list: SpanIdList, values: readonly N[]): { index: SpanIndex<N>; kept: Uint8Array } {
    const ids = list.ids;
    const n = ids.length;
    if (values.length < n) throw new RangeError('SpanIndex.build: fewer values than ids');
    if (ids.includes(undefined)) throw new RangeError('SpanIndex.build: an id is undefined');
    const index = new SpanIndex<N>(n);
    const kept = new Uint8Array(n);
    const table = index.#table;
    if (table === undefined) {
      for (let i = 0; i < n; i++) if (index.add(ids[i] as string, values[i] as N)) kept[i] = 1;
      return { index, kept };
    }
    const { his, los } = list;
    const slots = index.#slots(list);
    // The table and the Map hold input index + 1 (the Map, input index) until the duplicates are known.
    const other = index.#other;
    for (let i = 0; i < n; i++) {
      if (slots[i] !== -1) continue;
      const id = ids[i] as string;
      if (!other.has(id)) {
        other.set(id, i);
        kept[i] = 1;
      }
    }
    // Of equal ids (the same slot, so the same region), the earliest comes first: the sort is stable.
    const order = index.#bySlotRegion(slots);
    for (let j = 0; j < order.length; j++) {
      const i = order[j] as number;
      const hi = his[i] as number;
      const lo = los[i] as number;
      const at = index.#probe(table, hi, lo, slots[i] as number);
      if (table[at] !== 0) continue;
      table[at] = i + 1;
      table[at + 1] = hi;
      table[at + 2] = lo;
      kept[i] = 1;
    }
    let keptCount = 0;
    for (let i = 0; i < n; i++) {
      if (kept[i] === 0) continue;
      keptCount++;
      index.#keys.push(ids[i] as string);
      index.#values.push(values[i] as N);
    }
    if (keptCount < n) {
      // Positions count kept ids only: renumber what the table and the Map hold.
      const positionOf = new Int32Array(n);
      for (let i = 0, position = 0; i < n; i++) if (kept[i] === 1) positionOf[i] = position++;
      for (let at = 0; at < table.length; at += 4) {
        const entry = table[at] as number;
        if (entry !== 0) table[at] = (positionOf[entry - 1] as number) + 1;
      }
      for (const [id, i] of other) other.set(id, positionOf[i] as number);
    }
    return { index, kept };
  }

  /**
   * The positions (in insertion order: the index of the value among
   * {@link SpanIndex.values}) of many ids at once, looked up in the order of
   * the table's slots (see the file comment); -1 for an id not present and
   * for `undefined`.
   */
  positionsOf(list: SpanIdList): Int32Array {
    const ids = list.ids;
    const out = new Int32Array(ids.length).fill(-1);
    const table = this.#table;
    if (table === undefined) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (id !== undefined) out[i] = this.#position(id);
      }
      return out;
    }
    const { his, los } = list;
    const slots = this.#slots(list);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (slots[i] === -1 && typeof id === 'string') out[i] = this.#other.get(id) ?? -1;
    }
    const order = this.#bySlotRegion(slots);
    for (let j = 0; j < order.length; j++) {
      const i = order[j] as number;
      out[i] = (table[this.#probe(table, his[i] as number, los[i] as number, slots[i] as number)] as number) - 1;
    }
    return out;
  }

  /** The first slot of each id of the list in the table's form; -1 for any other id (and `undefined`). */
  #slots(list: SpanIdList): Int32Array {
    const { his, los, parsed } = list;
    const slots = new Int32Array(list.ids.length);
    for (let i = 0; i < slots.length; i++)
      slots[i] = parsed[i] === 1 ? this.#slot(his[i] as number, los[i] as number) : -1;
    return slots;
  }

  /**
   * The indexes of the entries with a slot (not -1), ordered by the region of
   * the table the slot lies in (its top {@link REGION_BITS} bits): a stable
   * counting sort, so entries of one region keep their input order.
   */
  #bySlotRegion(slots: Int32Array): Int32Array {
    const bits = 32 - this.#shift;
    const shift = Math.max(0, bits - REGION_BITS);
    const starts = new Int32Array((1 << REGION_BITS) + 1);
    let count = 0;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      if (slot === -1) continue;
      count++;
      const next = (slot >>> shift) + 1;
      starts[next] = (starts[next] as number) + 1;
    }
    for (let r = 0; r < 1 << REGION_BITS; r++) starts[r + 1] = (starts[r + 1] as number) + (starts[r] as number);
    const order = new Int32Array(count);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      if (slot === -1) continue;
      const region = slot >>> shift;
      order[starts[region] as number] = i;
      starts[region] = (starts[region] as number) + 1;
    }
    return order;
  }

  #position(id: string): number {
    if (typeof id !== 'string') return -1;
    const table = this.#table;
    if (table !== undefined && parseHalves(id)) return (table[this.#probe(table, parsedHi, parsedLo)] as number) - 1;
    return this.#other.get(id) ?? -1;
  }

  get(id: string): N | undefined {
    const at = this.#position(id);
    return at < 0 ? undefined : this.#values[at];
  }

  has(id: string): boolean {
    return this.#position(id) >= 0;
  }

  get size(): number {
    return this.#keys.length;
  }

  forEach(callback: (value: N, key: string, map: ReadonlyMap<string, N>) => void, thisArg?: unknown): void {
    for (let i = 0; i < this.#keys.length; i++)
      callback.call(thisArg, this.#values[i] as N, this.#keys[i] as string, this);
  }

  *entries(): MapIterator<[string, N]> {
    for (let i = 0; i < this.#keys.length; i++) yield [this.#keys[i] as string, this.#values[i] as N];
  }

  keys(): MapIterator<string> {
    return this.#keys.values();
  }

  values(): MapIterator<N> {
    return this.#values.values();
  }

  [Symbol.iterator](): MapIterator<[string, N]> {
    return this.entries();
  }
}
