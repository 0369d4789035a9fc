// The forward pass's kernel (src/engine/chain.wat): `out[j] = start[j] + Σ_i M[i][j] · v[i]`
// in float32, in order i, on M = Whᵀ and v = h_{t-1} onto out = bh + Wx[:, x_t]
// (the spec's `s`, summed in order j), whose f32 SIMD lanes round every multiply
// and add exactly as the spec asks, four columns at a time; then fdlibm tanhf
// (as src/engine/tanhf.ts), four lanes at a time. The backward chain is in the
// trace kernel (trace.wat).
import { chainWasmBase64 } from './generated/chain-wasm.js';

const WASM_PAGE_BYTES = 65536;
let compiledChain: WebAssembly.Module | undefined;

function chainModule(): WebAssembly.Module {
  compiledChain ??= new WebAssembly.Module(Uint8Array.from(atob(chainWasmBase64), (ch) => ch.charCodeAt(0)));
  return compiledChain;
}

/**
 * tanhf of every value as the forward pass computes a row (chain.wat `tanhRow`:
 * four lanes at a time, the remainder one at a time). For tests: it must equal
 * kernelTanhf value by value.
 */
export function kernelTanhRow(values: Float32Array): Float32Array {
  const instance = new WebAssembly.Instance(chainModule());
  const memory = instance.exports.memory as WebAssembly.Memory;
  const tanhRow = instance.exports.tanhRow as (out: number, v: number, n: number) => void;
  const bytes = 8 * values.length;
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / WASM_PAGE_BYTES));
  new Float32Array(memory.buffer, 0, values.length).set(values);
  tanhRow(0, 4 * values.length, values.length);
  return new Float32Array(memory.buffer, 4 * values.length, values.length).slice();
}

let tanhInstance: ((x: number) => number) | undefined;

/** fdlibm tanhf as the kernel computes it (for tests: it must equal tanhf of tanhf.ts bit for bit). */
export function kernelTanhf(x: number): number {
  tanhInstance ??= new WebAssembly.Instance(chainModule()).exports.tanhf as (x: number) => number;
  return tanhInstance(x);
}

/** The forward pass of one model in the kernel, its weights laid out once: `states(bytes)` for each window. */
export interface ForwardKernel {
  /**
   * h_t for t = 0 .. N-1 of `bytes` as one N×H array, row t at t·H, from
   * h_{-1} = `initial` (H floats; zeros when absent): a long sequence is
   * computed piece by piece, each from the last state of the one before, with
   * the same values as in one pass.
   */
  states(bytes: Uint8Array, initial?: Float32Array): Float32Array;
}

/**
 * The whole forward pass in the kernel (its `forward`) for the model whose blocks
 * are `wh`, `bh`, `wx` (Wx[i][c] at i·256 + c): Whᵀ, bh and Wx by byte are laid
 * out once, so a thread that computes many windows of a model does not lay them
 * out again for each.
 */
export function createForwardKernel(wh: Float32Array, bh: Float32Array, wx: Float32Array, hidden: number): ForwardKernel {
  const H = hidden;
  const instance = new WebAssembly.Instance(chainModule());
  const memory = instance.exports.memory as WebAssembly.Memory;
  const forward = instance.exports.forward as (v: number, out: number, H: number, bh: number, wx: number, bytes: number, n: number, states: number) => void;
  const matrix = 0;
  const v = matrix + 4 * H * H;
  const out = v + 4 * H;
  const bias = out + 4 * H;
  const inputs = bias + 4 * H;
  const statesOffset = inputs + 4 * 256 * H;
  const grow = (end: number): void => {
    const have = memory.buffer.byteLength;
    if (end > have) memory.grow(Math.ceil((end - have) / WASM_PAGE_BYTES));
  };
  grow(statesOffset);
  new Float32Array(memory.buffer, matrix, H * H).set(transpose(wh, H));
  new Float32Array(memory.buffer, bias, H).set(bh.subarray(0, H));
  const wxByByte = new Float32Array(memory.buffer, inputs, 256 * H);
  for (let i = 0; i < H; i++) {
    for (let c = 0; c < 256; c++) wxByByte[c * H + i] = wx[i * 256 + c];
  }
  return {
    states(bytes: Uint8Array, initial?: Float32Array): Float32Array {
      const N = bytes.length;
      const bytesOffset = statesOffset + 4 * N * H;
      grow(bytesOffset + N);
      const start = new Float32Array(memory.buffer, v, H);
      if (initial === undefined) start.fill(0); // h_{-1} = 0
      else start.set(initial.subarray(0, H));
      new Uint8Array(memory.buffer, bytesOffset, N).set(bytes);
      forward(v, out, H, bias, inputs, bytesOffset, N, statesOffset);
      return new Float32Array(memory.buffer, statesOffset, N * H).slice();
    },
  };
}

/** Mᵀ of a row-major H×H matrix. */
export function transpose(matrix: Float32Array, hidden: number): Float32Array {
  const H = hidden;
  const transposed = new Float32Array(H * H);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < H; j++) transposed[j * H + i] = matrix[i * H + j];
  }
  return transposed;
}
