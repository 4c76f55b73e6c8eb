/**
 * Views of the guest's linear memory that survive `memory.grow` (which detaches
 * the old ArrayBuffer): every accessor re-creates its view when the buffer changed.
 * Out-of-bounds accesses throw RangeError, which `errnoOf` maps to EFAULT.
 */
const utf8 = new TextDecoder("utf-8", { fatal: false });

export class GuestMemory {
  private dv = new DataView(new ArrayBuffer(0));
  private bytes = new Uint8Array(0);
  memory: WebAssembly.Memory | undefined;

  private refresh(): void {
    const buf = this.memory!.buffer;
    if (this.dv.buffer !== buf) {
      this.dv = new DataView(buf);
      this.bytes = new Uint8Array(buf);
    }
  }
  get view(): DataView {
    this.refresh();
    return this.dv;
  }
  get u8(): Uint8Array {
    this.refresh();
    return this.bytes;
  }

  /** `len` bytes at `ptr`, without copying (valid until memory grows). Throws RangeError when out of bounds. */
  slice(ptr: number, len: number): Uint8Array {
    const b = this.u8;
    if (ptr < 0 || len < 0 || ptr + len > b.length) throw new RangeError(`guest range [${ptr}, ${ptr + len}) out of bounds`);
    return b.subarray(ptr, ptr + len);
  }
  string(ptr: number, len: number): string {
    return utf8.decode(this.slice(ptr, len));
  }
  u32(ptr: number, v?: number): number {
    if (v === undefined) return this.view.getUint32(ptr, true);
    this.view.setUint32(ptr, v, true);
    return v;
  }
  u64(ptr: number, v: bigint | number): void {
    this.view.setBigUint64(ptr, BigInt(v), true);
  }

  /**
   * The buffers of an iovec/ciovec array: `count` structs of 8 bytes,
   * `buf: u32` at offset 0 and `buf_len: u32` at offset 4.
   */
  iovecs(ptr: number, count: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const p = ptr + 8 * i;
      out.push(this.slice(this.u32(p), this.u32(p + 4)));
    }
    return out;
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
