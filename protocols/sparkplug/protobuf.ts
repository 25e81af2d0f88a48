/**
 * The slice of the protocol buffers wire format that Sparkplug B needs:
 * varints (64-bit, as BigInt where the value can exceed 2^53), fixed32 /
 * fixed64 floats, length-delimited fields, and skipping of anything unknown.
 * Pure, no dependencies.
 *
 * The reader never reads past its end: a truncated or malformed buffer
 * throws a ProtobufError with the offset, which the caller turns into a
 * `decode error` for the message as a whole.
 */

export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufError';
  }
}

export const WireType = { varint: 0, fixed64: 1, bytes: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

const TWO_32 = 0x1_0000_0000;

export class ProtoReader {
  pos: number;
  readonly end: number;
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** a field key: field number and wire type */
  tag(): { field: number; wire: number } {
    const key = this.uint32();
    const field = key >>> 3;
    if (field === 0) throw new ProtobufError(`field number 0 at offset ${this.pos}`);
    return { field, wire: key & 7 };
  }

  /** a varint as two unsigned 32-bit halves (protobuf allows at most 10 bytes) */
  private varint64(): [lo: number, hi: number] {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError(`truncated varint at offset ${this.pos}`);
      const b = this.buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw new ProtobufError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  /** the low 32 bits of a varint, unsigned (protobuf truncates wider values the same way) */
  uint32(): number {
    return this.varint64()[0];
  }

  /** a uint64 varint as a number; exact up to 2^53 */
  uint64Number(): number {
    const [lo, hi] = this.varint64();
    return hi * TWO_32 + lo;
  }

  /** a uint64 varint, exact */
  uint64(): bigint {
    const [lo, hi] = this.varint64();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  bool(): boolean {
    const [lo, hi] = this.varint64();
    return lo !== 0 || hi !== 0;
  }

  float(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** the bounds of a length-delimited field, moving past it */
  delimited(): { start: number; end: number } {
    const len = this.uint32();
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return { start, end: this.pos };
  }

  bytes(): Uint8Array {
    const { start, end } = this.delimited();
    return this.buf.subarray(start, end);
  }

  string(): string {
    const { start, end } = this.delimited();
    return decoder.decode(this.buf.subarray(start, end));
  }

  /** a reader over a length-delimited field (an embedded message) */
  message(): ProtoReader {
    const { start, end } = this.delimited();
    return new ProtoReader(this.buf, start, end);
  }

  skip(wire: number): void {
    switch (wire) {
      case WireType.varint:
        this.varint64();
        return;
      case WireType.fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.bytes:
        this.delimited();
        return;
      case WireType.fixed32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        // groups are deprecated and never used by Sparkplug; anything else is not protobuf
        throw new ProtobufError(`unsupported wire type ${wire} at offset ${this.pos}`);
    }
  }

  /** throws unless the field has the wire type the schema gives it */
  expect(wire: number, expected: number, field: string): void {
    if (wire !== expected) throw new ProtobufError(`${field}: wire type ${wire}, expected ${expected}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new ProtobufError(`truncated: ${n} bytes needed at offset ${this.pos}, ${this.end - this.pos} left`);
    }
  }
}

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** Builds a protobuf message; nested messages are written with `message()`. */
export class ProtoWriter {
  private chunks: number[] = [];

  private key(field: number, wire: number): void {
    this.rawVarint(BigInt(field * 8 + wire));
  }

  private rawVarint(v: bigint): void {
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      this.chunks.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.chunks.push(Number(x));
  }

  /** a varint field; negative values are written as 64-bit two's complement, as protobuf does */
  varint(field: number, v: number | bigint | boolean): this {
    this.key(field, WireType.varint);
    this.rawVarint(typeof v === 'boolean' ? (v ? 1n : 0n) : typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
    return this;
  }

  /** a uint32 field: the value's low 32 bits, as protobuf writes an int cast to uint32 */
  uint32(field: number, v: number): this {
    this.key(field, WireType.varint);
    this.rawVarint(BigInt(v >>> 0));
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, WireType.fixed32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.chunks.push(...b);
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, WireType.fixed64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.chunks.push(...b);
    return this;
  }

  bytes(field: number, v: Uint8Array): this {
    this.key(field, WireType.bytes);
    this.rawVarint(BigInt(v.length));
    for (const b of v) this.chunks.push(b);
    return this;
  }

  string(field: number, v: string): this {
    return this.bytes(field, encoder.encode(v));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}
