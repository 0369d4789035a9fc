import { chainWasmBase64 } from './generated/chain-wasm.js';

/**
 * The one step of the backward chain that costs H² per offset:
 * `out[j] = Σ_i Wh[i][j] · scaled[i]` in float32, in order i (spec, step 4).
 * It runs in WebAssembly (src/engine/chain.wat), whose f32 SIMD lanes round
 * every multiply and add exactly as the spec asks, four columns at a time.
 *
 * `scaled` and `out` are views into the kernel's memory: write `scaled`, call
 * `run()`, read `out`. `out` may be read while `scaled` is written, so the
 * caller can keep the current b in `out` and compute `scaled` from it.
 */
export interface ChainKernel {
  readonly scaled: Float32Array;
  readonly out: Float32Array;
  run(): void;
}

const WASM_PAGE_BYTES = 65536;
let compiledChain: WebAssembly.Module | undefined;

function chainModule(): WebAssembly.Module {
  compiledChain ??= new WebAssembly.Module(Uint8Array.from(atob(chainWasmBase64), (ch) => ch.charCodeAt(0)));
  return compiledChain;
}

/** A kernel holding its own copy of Wh (row-major, H×H). */
export function createChainKernel(wh: Float32Array, hidden: number): ChainKernel {
  const H = hidden;
  const instance = new WebAssembly.Instance(chainModule());
  const memory = instance.exports.memory as WebAssembly.Memory;
  const chain = instance.exports.chain as (wh: number, scaled: number, out: number, H: number) => void;
  const bytesNeeded = 4 * (H * H + 2 * H);
  const pages = Math.ceil(bytesNeeded / WASM_PAGE_BYTES);
  if (pages > 1) memory.grow(pages - 1);
  const whView = new Float32Array(memory.buffer, 0, H * H);
  whView.set(wh);
  const scaledOffset = 4 * H * H;
  const outOffset = scaledOffset + 4 * H;
  return {
    scaled: new Float32Array(memory.buffer, scaledOffset, H),
    out: new Float32Array(memory.buffer, outOffset, H),
    run: () => chain(0, scaledOffset, outOffset, H),
  };
}
