// Just enough of the protobuf wire format for the videocall messages: no schema compiler,
// no reflection, nothing read that routing does not need. Runs in browsers and Node.

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

export const enum WireType {
  VARINT = 0,
  FIXED64 = 1,
  LEN = 2,
  FIXED32 = 5,
}

/** One field as it sits in the buffer: `start..end` covers tag and value. */
export interface RawField {
  readonly field: number;
  readonly wireType: WireType;
  readonly start: number;
  readonly end: number;
  /** For VARINT: the value; for FIXED64/FIXED32: the raw bits. */
  readonly int?: bigint;
  /** For LEN: where the payload starts (it ends at `end`). */
  readonly valueStart?: number;
}

const MAX_VARINT_BYTES = 10;

export function readVarint(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos + i >= buf.length) throw new CodecError(`truncated varint at byte ${pos}`);
    const b = buf[pos + i];
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value: value & 0xffff_ffff_ffff_ffffn, next: pos + i + 1 };
    shift += 7n;
  }
  throw new CodecError(`varint longer than ${MAX_VARINT_BYTES} bytes at byte ${pos}`);
}

/** Reads a varint of at most 4 bytes (< 2^28: tags, lengths, enums) as a number; -1 when it is longer or truncated. */
function shortVarint(buf: Uint8Array, pos: number): number {
  let value = 0;
  for (let i = 0; i < 4 && pos + i < buf.length; i++) {
    const b = buf[pos + i];
    value |= (b & 0x7f) << (7 * i);
    if (b < 0x80) return value;
  }
  return -1;
}

/** Bytes taken by the varint at `pos` (short: 1–4; else counted), with readVarint's errors. */
function varintLength(buf: Uint8Array, pos: number): number {
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos + i >= buf.length) throw new CodecError(`truncated varint at byte ${pos}`);
    if (buf[pos + i] < 0x80) return i + 1;
  }
  throw new CodecError(`varint longer than ${MAX_VARINT_BYTES} bytes at byte ${pos}`);
}

/**
 * Walks the top-level fields of one message without allocating per field: `next()` moves to the
 * next field and sets `field`, `wireType`, `start`, `end` and (LEN) `valueStart`; values are read
 * only when asked for. Short varints stay plain numbers; BigInt is used only where 64 bits may
 * be needed. Throws CodecError on anything malformed.
 */
export class FieldReader {
  field = 0;
  wireType: WireType = WireType.VARINT;
  /** where the field's tag starts */
  start = 0;
  /** where the field ends */
  end = 0;
  /** where the value starts (after the tag, and for LEN after the length) */
  valueStart = 0;

  constructor(private readonly buf: Uint8Array) {}

  next(): boolean {
    const buf = this.buf;
    const start = this.end;
    if (start >= buf.length) return false;
    let pos: number;
    let field: number;
    let wireType: number;
    const tag = shortVarint(buf, start);
    if (tag >= 0) {
      pos = start + varintLength(buf, start);
      field = tag >>> 3;
      wireType = tag & 7;
    } else {
      const t = readVarint(buf, start);
      pos = t.next;
      field = Number(t.value >> 3n);
      wireType = Number(t.value & 7n);
    }
    if (field === 0 || field > 536_870_911) throw new CodecError(`invalid field number ${field} at byte ${start}`);
    let valueStart = pos;
    switch (wireType) {
      case WireType.VARINT:
        pos += varintLength(buf, pos);
        break;
      case WireType.FIXED64:
      case WireType.FIXED32: {
        const size = wireType === WireType.FIXED64 ? 8 : 4;
        if (pos + size > buf.length) throw new CodecError(`truncated fixed${size * 8} field ${field} at byte ${start}`);
        pos += size;
        break;
      }
      case WireType.LEN: {
        const short = shortVarint(buf, pos);
        const len = short >= 0 ? short : readVarint(buf, pos).value;
        valueStart = pos + varintLength(buf, pos);
        const remain = buf.length - valueStart;
        if (len > remain) throw new CodecError(`field ${field} claims ${len} bytes, ${remain} remain`);
        pos = valueStart + Number(len);
        break;
      }
      default:
        throw new CodecError(`unsupported wire type ${wireType} for field ${field} at byte ${start}`);
    }
    this.field = field;
    this.wireType = wireType;
    this.start = start;
    this.end = pos;
    this.valueStart = valueStart;
    return true;
  }

  /** VARINT: the value (64 bits); FIXED64/FIXED32: the raw bits. */
  int(): bigint {
    if (this.wireType === WireType.VARINT) return readVarint(this.buf, this.valueStart).value;
    let bits = 0n;
    for (let i = this.end - 1; i >= this.valueStart; i--) bits = (bits << 8n) | BigInt(this.buf[i]);
    return bits;
  }

  /** VARINT as a protobuf int32/enum: the low 32 bits, signed (a plain number on the short path). */
  int32(): number {
    const short = shortVarint(this.buf, this.valueStart);
    return short >= 0 ? short : Number(BigInt.asIntN(32, this.int()));
  }

  /** LEN: the payload, without copying. */
  bytes(): Uint8Array {
    return this.buf.subarray(this.valueStart, this.end);
  }
}

/** Walks the top-level fields of one message; throws CodecError on anything malformed. */
export function* fields(buf: Uint8Array): Generator<RawField> {
  const r = new FieldReader(buf);
  while (r.next()) {
    const { field, wireType, start, end } = r;
    yield wireType === WireType.LEN ? { field, wireType, start, end, valueStart: r.valueStart } : { field, wireType, start, end, int: r.int() };
  }
}

export function expectWireType(f: Pick<RawField, 'field' | 'wireType'>, wireType: WireType, message: string, name: string): void {
  if (f.wireType !== wireType) {
    throw new CodecError(`${message}.${name} (field ${f.field}) has wire type ${f.wireType}, expected ${wireType}`);
  }
}

export function fixed64ToDouble(bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits, true);
  return view.getFloat64(0, true);
}

/** Appends fields in the order called; proto3 defaults (0, empty) are skipped. */
export class Writer {
  private chunks: number[] = [];

  varint(field: number, value: bigint | number): this {
    const v = BigInt(value);
    if (v === 0n) return this;
    this.tag(field, WireType.VARINT);
    this.rawVarint(BigInt.asUintN(64, v));
    return this;
  }

  bytes(field: number, value: Uint8Array | string | undefined): this {
    if (value === undefined) return this;
    const b = typeof value === 'string' ? utf8.encode(value) : value;
    if (b.length === 0) return this;
    this.tag(field, WireType.LEN);
    this.rawVarint(BigInt(b.length));
    for (const x of b) this.chunks.push(x);
    return this;
  }

  double(field: number, value: number | undefined): this {
    if (value === undefined || (value === 0 && !Object.is(value, -0))) return this;
    this.tag(field, WireType.FIXED64);
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.chunks.push(view.getUint8(i));
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  private tag(field: number, wireType: WireType): void {
    this.rawVarint(BigInt((field << 3) | wireType));
  }

  private rawVarint(v: bigint): void {
    while (v > 0x7fn) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
  }
}

export function encodeVarint(value: bigint): Uint8Array {
  const v = BigInt.asUintN(64, value);
  // two 32-bit halves as numbers: one BigInt split instead of BigInt arithmetic per byte
  let lo = Number(v & 0xffff_ffffn);
  let hi = Number(v >> 32n);
  const out = new Uint8Array(MAX_VARINT_BYTES);
  let n = 0;
  while (hi > 0 || lo > 0x7f) {
    out[n++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[n++] = lo;
  return out.slice(0, n);
}

/**
 * A uint64 varint as its two 32-bit halves, for writing in place (stamping a frame): one BigInt
 * split, no intermediate arrays. `length` is how many bytes `writeVarintHalves` writes.
 */
export function varintHalves(value: bigint): { lo: number; hi: number; length: number } {
  const v = BigInt.asUintN(64, value);
  const lo = Number(v & 0xffff_ffffn);
  const hi = Number(v >> 32n);
  let length = 1;
  for (let l = lo, h = hi; h > 0 || l > 0x7f; length++) {
    l = ((l >>> 7) | (h << 25)) >>> 0;
    h >>>= 7;
  }
  return { lo, hi, length };
}

export function writeVarintHalves(out: Uint8Array, offset: number, lo: number, hi: number): void {
  let n = offset;
  while (hi > 0 || lo > 0x7f) {
    out[n++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[n] = lo;
}

type PooledAllocator = { allocUnsafe(size: number): Uint8Array };
const nodeBuffer = (globalThis as { Buffer?: PooledAllocator }).Buffer;

/**
 * `size` bytes the caller overwrites completely. In Node a fresh Uint8Array of a frame's size gets
 * its own off-heap backing store (about 3 µs for 1 KB, more than reading and stamping the frame);
 * Buffer.allocUnsafe carves small ones out of a shared pool instead. Browsers get a Uint8Array.
 */
export function allocBytes(size: number): Uint8Array {
  return nodeBuffer !== undefined ? nodeBuffer.allocUnsafe(size) : new Uint8Array(size);
}

/** Byte-for-byte equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
export const utf8 = {
  encode: (s: string): Uint8Array => encoder.encode(s),
  decode: (b: Uint8Array): string => decoder.decode(b),
};
