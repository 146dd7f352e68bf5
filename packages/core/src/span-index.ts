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
 */

/** Traces with fewer spans than this use only the Map (see the file comment). */
const SMALL = 512;

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
  #probe(table: Uint32Array, hi: number, lo: number): number {
    const mask = (table.length >>> 2) - 1;
    for (let slot = this.#slot(hi, lo); ; slot = (slot + 1) & mask) {
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
