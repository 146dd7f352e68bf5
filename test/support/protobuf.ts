/**
 * Protobuf framing by hand, so a receiver test sends exactly the bytes it
 * means (a truncated field, an unknown wire type), which no encoder would
 * produce.
 */

/** A base-128 varint. */
export function varint(value: number): Buffer {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out.push(byte);
  } while (rest > 0);
  return Buffer.from(out);
}

/** A length-delimited protobuf field (wire type 2). */
export function field(number: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
}

/** A fixed64 protobuf field (wire type 1), little-endian. */
export function fixed64(number: number, value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return Buffer.concat([varint(number * 8 + 1), bytes]);
}
