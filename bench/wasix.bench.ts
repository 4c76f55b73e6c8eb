// wasix: the WASIX context API on JSPI against native ucontext and Emscripten fibers (Asyncify).
//
//   switch round trip @ depth D   bench/wasix/switch.c: main and a coroutine each sit D
//                                 non-inlined frames deep and ping-pong; ns per round trip
//                                 (two switches). ours: clang wasm32-wasi + greenwasm (Node 26);
//                                 peers: the same C with swapcontext (gcc -O2, native) and with
//                                 emscripten_fiber_swap (emcc -O2 -sASYNCIFY, run on Node 26).
//   CPU loop                      bench/wasix/cpu.c: calls that could reach a switch through a
//                                 function pointer. ours: the plain clang binary (greenwasm needs
//                                 no instrumentation); peers: emcc with and without -sASYNCIFY.
//   code size                     cpu.c: the binary greenwasm runs (after its export rewrite)
//                                 relative to the plain build, vs Asyncify's relative to plain.
//
// Toolchains: clang-16/wasi-libc (required), gcc and Debian's emscripten 3.1.6 (rows skipped
// with a note when missing). Emscripten's old optimizer needs NODE_PATH=/usr/share/nodejs.

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkWasmToolchain, compileWasm } from '../scripts/build-wasix-tests.ts';
import { runWasix } from '../src/wasix/index.ts';
import { exposeGuest, inspectGuest } from '../src/wasix/binary.ts';
import { median, NODE, ROOT, sh, type Bench, type BenchContext, type Row } from './lib.ts';

const SRC = join(ROOT, 'bench', 'wasix');
const OUT = join(ROOT, '.cache', 'bench', 'wasix');
const DEPTHS = [0, 50, 200];
const ROUNDS = { ours: 200_000, ucontext: 1_000_000, asyncify: 100_000 };
const CPU_N = 50_000_000;
const EMCC_ENV = { ...process.env, NODE_PATH: '/usr/share/nodejs' };

const has = (cmd: string) => {
  try {
    sh('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
};
const newer = (out: string, src: string) => existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs;

function emcc(src: string, out: string, flags: string[]): void {
  if (!newer(out, src)) sh('emcc', ['-O2', ...flags, src, '-o', out], { cwd: OUT, env: EMCC_ENV });
}

function build(log: (m: string) => void): { gcc: boolean; emcc: boolean } {
  checkWasmToolchain();
  mkdirSync(OUT, { recursive: true });
  // Emscripten 3.1.6 emits CommonJS .js; the repo's package.json says "type": "module".
  writeFileSync(join(OUT, 'package.json'), '{ "type": "commonjs" }\n');
  const header = join(ROOT, 'tests', 'wasix', 'wasix_context.h');
  compileWasm(join(SRC, 'switch.c'), join(OUT, 'switch.wasm'), ['-DUSE_WASIX'], [header]);
  compileWasm(join(SRC, 'cpu.c'), join(OUT, 'cpu.wasm'), ['-DUSE_WASIX'], [header]);
  const gcc = has('gcc');
  if (gcc && !newer(join(OUT, 'switch-ucontext'), join(SRC, 'switch.c'))) {
    sh('gcc', ['-O2', '-DUSE_UCONTEXT', '-o', join(OUT, 'switch-ucontext'), join(SRC, 'switch.c')]);
  }
  const em = has('emcc');
  if (em) {
    log('building Emscripten variants (first time takes a while)');
    const fiber = ['-DUSE_EMFIBER', '-sASYNCIFY', '-sASYNCIFY_STACK_SIZE=1048576'];
    emcc(join(SRC, 'switch.c'), 'switch-emfiber.js', [...fiber, '-sSINGLE_FILE=1']);
    emcc(join(SRC, 'cpu.c'), 'cpu-asyncify.js', [...fiber, '-sSINGLE_FILE=1']);
    emcc(join(SRC, 'cpu.c'), 'cpu-plain.js', ['-sSINGLE_FILE=1']);
    // Separate .wasm outputs, for code size only.
    emcc(join(SRC, 'cpu.c'), 'size-asyncify.js', fiber);
    emcc(join(SRC, 'cpu.c'), 'size-plain.js', []);
  }
  return { gcc, emcc: em };
}

const field = (out: string, key: string): number => {
  const m = new RegExp(`${key}=([\\d.]+)`).exec(out);
  if (!m) throw new Error(`no ${key}= in output: ${out}`);
  return Number(m[1]);
};

async function ours(file: string, args: string[]): Promise<string> {
  let out = '';
  const r = await runWasix(join(OUT, file), { args, stdout: (b) => { out += new TextDecoder().decode(b); } });
  if (r.exitCode !== 0) throw new Error(`${file} exited ${r.exitCode}: ${out}`);
  return out;
}

async function samples(ctx: BenchContext, fn: () => Promise<number> | number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    const x = await fn();
    if (i >= ctx.warmup) xs.push(x);
  }
  return median(xs);
}

const bench: Bench = {
  name: 'wasix',
  description: 'WASIX context switch (JSPI) vs native ucontext and Emscripten Asyncify fibers; CPU cost; code size',
  async run(ctx) {
    const tools = build(ctx.log);
    const rows: Row[] = [];
    const missing = (what: string) => `${what} not installed: apt-get install ${what === 'gcc' ? 'gcc' : 'emscripten'}`;
    // Samples of the three backends are interleaved, so a change of machine load hits all alike.
    for (const d of DEPTHS) {
      const xs: [number[], number[], number[]] = [[], [], []];
      for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
        const o = field(await ours('switch.wasm', [String(ROUNDS.ours), String(d)]), 'ns_per_roundtrip');
        const uc = tools.gcc ? field(sh(join(OUT, 'switch-ucontext'), [String(ROUNDS.ucontext), String(d)]), 'ns_per_roundtrip') : NaN;
        const em = tools.emcc ? field(sh(NODE, [join(OUT, 'switch-emfiber.js'), String(ROUNDS.asyncify), String(d)]), 'ns_per_roundtrip') : NaN;
        if (i >= ctx.warmup) [o, uc, em].forEach((x, k) => xs[k]!.push(x));
      }
      const [o, uc, em] = xs.map((x) => median(x)) as [number, number, number];
      ctx.log(`depth ${d}: ours ${o.toFixed(0)} ns, ucontext ${uc.toFixed(0)} ns, asyncify ${em.toFixed(0)} ns`);
      const base = { metric: `switch round trip @ depth ${d}`, unit: 'ns', better: 'lower' as const, ours: o };
      rows.push({ ...base, peer: 'native swapcontext (gcc -O2)', peerValue: uc, ...(tools.gcc ? {} : { note: missing('gcc') }) });
      rows.push({ ...base, peer: 'Emscripten fibers (Asyncify, Node 26)', peerValue: em, ...(tools.emcc ? {} : { note: missing('emcc') }) });
    }
    const cpu = await samples(ctx, async () => field(await ours('cpu.wasm', [String(CPU_N)]), 'ms'));
    for (const [file, peer] of [['cpu-asyncify.js', 'emcc -O2 -sASYNCIFY (can switch)'], ['cpu-plain.js', 'emcc -O2, no Asyncify (cannot switch)']]) {
      const v = tools.emcc ? await samples(ctx, () => field(sh(NODE, [join(OUT, file!), String(CPU_N)]), 'ms')) : NaN;
      rows.push({ metric: 'CPU loop (5e7 call chains)', unit: 'ms', better: 'lower', ours: cpu, peer: peer!, peerValue: v, ...(tools.emcc ? {} : { note: missing('emcc') }) });
    }
    const plain = readFileSync(join(OUT, 'cpu.wasm'));
    const rewritten = exposeGuest(plain, inspectGuest(plain)).bytes.length;
    const size = (f: string) => statSync(join(OUT, f)).size;
    rows.push({
      metric: 'code size vs uninstrumented build (cpu.c)', unit: '×', better: 'lower',
      ours: rewritten / plain.length, peer: 'Asyncify: -sASYNCIFY / plain (emcc)',
      peerValue: tools.emcc ? size('size-asyncify.wasm') / size('size-plain.wasm') : NaN,
      note: `ours ${plain.length} B clang (+${rewritten - plain.length} B of exports added at load); emcc ${tools.emcc ? `${size('size-plain.wasm')} B plain, ${size('size-asyncify.wasm')} B Asyncify` : 'missing'}`,
    });
    return rows;
  },
};

export default bench;
