/**
 * C-stack regions for WASIX contexts, carved from linear memory that the
 * host grows itself.
 *
 * Why growing memory is safe: wasi-libc's allocator (dlmalloc) owns exactly
 * `[__heap_base, __heap_end)` (a link-time range) plus what its `sbrk` returns,
 * and `sbrk(n)` is `memory.grow(n / 64 KiB)`, which always hands out pages past
 * the *current* end of memory. Pages we grew earlier lie below that end, so the
 * allocator never sees them; it just gets a non-contiguous segment, which
 * dlmalloc supports. A program whose own allocator treats everything up to
 * `memory.size` as its own (not wasi-libc's) would clash; that is unsupported.
 *
 * Region layout (addresses grow upward; the stack grows downward from `top`):
 *
 *   start                 base        base+16                          top   start+size
 *   │ alignment slack     │ canary    │ usable stack  <── frames grow ── │ slack │
 *
 * Overflow: wasm has no guard pages, so a context that needs more than its region
 * writes below `base`: into the canary, then into the region or heap below. The
 * host checks the canary and the saved stack pointer every time a context
 * switches away or exits, and fails the program with `StackOverflowError`
 * before any other context runs. Overflow that skips the canary (a large
 * uninitialised array) and then crashes before switching is not caught here.
 */
import { makeRegion, type StackRegion } from "../engine/index.ts";
import { GreenwasmError } from "../common/errors.ts";

export const WASM_PAGE = 65536;
/** Bytes at the bottom of each region holding the canary. */
export const CANARY_BYTES = 16;
const CANARY = [0x57a5c0de, 0x8badf00d, 0x0ddba11, 0xfeedface] as const;

export class StackOverflowError extends GreenwasmError {
  constructor(message: string) {
    super(message);
    this.name = "StackOverflowError";
  }
}

export class StackPool {
  private readonly free: StackRegion[] = [];
  private u32 = new Uint32Array(0);
  /** Regions ever carved (for diagnostics). */
  carved = 0;

  /**
   * @param memory the guest memory to grow
   * @param size bytes per region (a multiple of 16, at least 4 KiB)
   */
  private readonly memory: WebAssembly.Memory;
  readonly size: number;

  constructor(memory: WebAssembly.Memory, size: number) {
    this.memory = memory;
    this.size = size;
  }

  private words(): Uint32Array {
    if (this.u32.buffer !== this.memory.buffer) this.u32 = new Uint32Array(this.memory.buffer);
    return this.u32;
  }

  /** A region with a fresh canary, or null when memory cannot grow. */
  alloc(): StackRegion | null {
    let r = this.free.pop();
    if (!r) {
      const pages = Math.ceil(this.size / WASM_PAGE);
      const perGrow = Math.max(1, Math.floor((pages * WASM_PAGE) / this.size));
      let old: number;
      try {
        old = this.memory.grow(pages);
      } catch {
        return null;
      }
      const start = old * WASM_PAGE;
      // Carve every region that fits in the new pages; hand out the lowest last.
      for (let i = perGrow - 1; i >= 1; i--) this.free.push(makeRegion(start + i * this.size, this.size));
      r = makeRegion(start, this.size);
      this.carved += perGrow;
    }
    const w = this.words(), at = r.base >>> 2;
    for (let i = 0; i < 4; i++) w[at + i] = CANARY[i]!;
    return r;
  }

  release(r: StackRegion): void {
    this.free.push(r);
  }

  /** Why the region looks overflowed with stack pointer `sp`, or null if intact. */
  damage(r: StackRegion, sp: number): string | null {
    if (sp < r.base + CANARY_BYTES) return `stack pointer ${sp} is below the region's usable bottom ${r.base + CANARY_BYTES}`;
    if (sp > r.top) return `stack pointer ${sp} is above the region's top ${r.top}`;
    const w = this.words(), at = r.base >>> 2;
    for (let i = 0; i < 4; i++) if (w[at + i] !== CANARY[i]) return `the canary at ${r.base} was overwritten`;
    return null;
  }
}
