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

/** Walks the top-level fields of one message; throws CodecError on anything malformed. */
export function* fields(buf: Uint8Array): Generator<RawField> {
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const tag = readVarint(buf, pos);
    pos = tag.next;
    const field = Number(tag.value >> 3n);
    const wireType = Number(tag.value & 7n);
    if (field === 0 || field > 536_870_911) throw new CodecError(`invalid field number ${field} at byte ${start}`);
    switch (wireType) {
      case WireType.VARINT: {
        const v = readVarint(buf, pos);
        pos = v.next;
        yield { field, wireType, start, end: pos, int: v.value };
        break;
      }
      case WireType.FIXED64:
      case WireType.FIXED32: {
        const size = wireType === WireType.FIXED64 ? 8 : 4;
        if (pos + size > buf.length) throw new CodecError(`truncated fixed${size * 8} field ${field} at byte ${start}`);
        let bits = 0n;
        for (let i = size - 1; i >= 0; i--) bits = (bits << 8n) | BigInt(buf[pos + i]);
        pos += size;
        yield { field, wireType, start, end: pos, int: bits };
        break;
      }
      case WireType.LEN: {
        const len = readVarint(buf, pos);
        const valueStart = len.next;
        if (len.value > BigInt(buf.length - valueStart)) {
          throw new CodecError(`field ${field} claims ${len.value} bytes, ${buf.length - valueStart} remain`);
        }
        pos = valueStart + Number(len.value);
        yield { field, wireType, start, end: pos, valueStart };
        break;
      }
      default:
        throw new CodecError(`unsupported wire type ${wireType} for field ${field} at byte ${start}`);
    }
  }
}

export function expectWireType(f: RawField, wireType: WireType, message: string, name: string): void {
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
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
export const utf8 = {
  encode: (s: string): Uint8Array => encoder.encode(s),
  decode: (b: Uint8Array): string => decoder.decode(b),
};
