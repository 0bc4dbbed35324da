// The house model in the visitor's browser: download the files manifest.json lists (each checked against its
// Subresource Integrity hash, with progress), open the ONNX graph with onnxruntime-web (WebGPU where the
// browser has it, else wasm), and generate greedily for several variants at once: one batch, one row per
// variant, the rows told apart only by the massive layer's keep-mask (the graph written by
// gpu-runner/runner/onnx_export.py, whose docstring gives its inputs and outputs).
import type * as Ort from "onnxruntime-web";
import { textTokenizer, type TextTokenizer } from "./tokenizer";

export const BASE = "/browser/";

export interface Manifest {
  format: number;
  model: string;
  graph: string;
  external_data: string[];
  tokenizer: string;
  config: {
    layers: number;
    kv_heads: number;
    head_dim: number;
    d_model: number;
    d_ff: number;
    max_context: number;
    bos_token_id: number;
    eos_token_id: number;
  };
  massive: { layer: number; top_k: { indices: number[]; values: number[] }; threshold: number };
  variants: {
    name: string;
    description: string;
    mask: { indices: number[]; mode: "zero" | "retain" } | null;
  }[];
  files: Record<string, { bytes: number; sha256: string; integrity: string }>;
}

export interface Loaded {
  ort: typeof Ort;
  session: Ort.InferenceSession;
  manifest: Manifest;
  tokenizer: TextTokenizer;
  backend: "webgpu" | "wasm";
}

/** Fetch one file, reporting bytes as they arrive; the browser checks `integrity` before the body resolves. */
async function download(url: string, integrity: string, onBytes: (n: number) => void): Promise<Uint8Array> {
  const res = await fetch(url, { integrity });
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
  const parts: Uint8Array[] = [];
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    onBytes(value.length);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** Everything the page needs to run the model; `progress(done, total)` is in bytes. */
export async function load(progress: (done: number, total: number) => void): Promise<Loaded> {
  const manifest = (await (
    await fetch(BASE + "model/manifest.json", { cache: "no-cache" })
  ).json()) as Manifest;
  if (manifest.format !== 1) throw new Error(`model manifest format ${manifest.format} is not supported`);
  const gpu =
    "gpu" in navigator &&
    (await (navigator as { gpu: { requestAdapter(): Promise<unknown> } }).gpu.requestAdapter());
  const runtime = gpu ? (await fetch(BASE + "ort/runtime.json")).json() : null;
  const ort = (
    gpu ? await import("onnxruntime-web/webgpu") : await import("onnxruntime-web/wasm")
  ) as typeof Ort;
  const wasm = gpu
    ? ((await runtime) as { parts: { name: string; integrity: string; bytes: number }[] }).parts
    : [];
  const names = [manifest.graph, ...manifest.external_data, manifest.tokenizer];
  const total =
    names.reduce((n, f) => n + manifest.files[f].bytes, 0) + wasm.reduce((n, p) => n + p.bytes, 0);
  let done = 0;
  const tick = (n: number) => progress((done += n), total);
  const got = await Promise.all(
    names.map((f) => download(BASE + "model/" + f, manifest.files[f].integrity, tick)),
  );
  ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which the page does not ask for
  if (gpu) {
    // The WebGPU build of the runtime is over the 25 MiB static-asset cap: it is served in parts.
    const parts = await Promise.all(wasm.map((p) => download(BASE + "ort/" + p.name, p.integrity, tick)));
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (whole.set(p, at), at + p.length), 0);
    ort.env.wasm.wasmBinary = whole.buffer;
  } else {
    ort.env.wasm.wasmPaths = { wasm: BASE + "ort/ort-wasm-simd-threaded.wasm" }; // its glue is in the bundle
  }
  const session = await ort.InferenceSession.create(got[0], {
    executionProviders: gpu ? ["webgpu", "wasm"] : ["wasm"],
    externalData: manifest.external_data.map((path, i) => ({ path, data: got[i + 1] })),
  });
  const tokenizer = textTokenizer(JSON.parse(new TextDecoder().decode(got[got.length - 1])));
  return { ort, session, manifest, tokenizer, backend: gpu ? "webgpu" : "wasm" };
}

/** A variant's keep row: ones, zeros at its indices ("zero"), or ones only there ("retain"). */
export function keepRow(m: Manifest, name: string): Float32Array {
  const v = m.variants.find((x) => x.name === name);
  if (!v) throw new Error(`the browser model has no variant ${name}`);
  const row = new Float32Array(m.config.d_ff).fill(v.mask?.mode === "retain" ? 0 : 1);
  for (const i of v.mask?.indices ?? []) row[i] = v.mask!.mode === "retain" ? 1 : 0;
  return row;
}

export interface Step {
  /** generated ids per row so far (EOS not included) */
  ids: number[][];
  done: boolean[];
  /** ms from the start to the first token, and tokens per second of decoding (all rows) */
  ttftMs: number;
  tokensPerS: number;
  /** the prompt's prefill outputs of row 0, for the chart: [L, T, D] and [L, T, F] */
  prefill?: { hidden: Float32Array; inter: Float32Array; T: number };
}

/** Greedy generation for `variants` side by side, yielding after every step. */
export async function* generate(
  lm: Loaded,
  prompt: string,
  variants: string[],
  maxTokens: number,
): AsyncGenerator<Step> {
  const { ort, session, manifest: m, tokenizer } = lm;
  const c = m.config;
  const B = variants.length;
  const prompt_ids = [c.bos_token_id, ...tokenizer.encode(prompt)];
  const keep = new ort.Tensor("float32", new Float32Array(B * c.d_ff), [B, c.d_ff]);
  variants.forEach((v, b) => (keep.data as Float32Array).set(keepRow(m, v), b * c.d_ff));
  let input = new ort.Tensor("int64", BigInt64Array.from(variants.flatMap(() => prompt_ids.map(BigInt))), [
    B,
    prompt_ids.length,
  ]);
  let past: Ort.Tensor = new ort.Tensor("float32", new Float32Array(0), [
    c.layers,
    2,
    B,
    c.kv_heads,
    0,
    c.head_dim,
  ]);
  const ids: number[][] = variants.map(() => []);
  const done = variants.map(() => false);
  const t0 = performance.now();
  let ttftMs = 0;
  let tokensPerS = 0;
  const limit = Math.min(maxTokens, c.max_context - prompt_ids.length);
  for (let step = 0; step < limit && !done.every(Boolean); step++) {
    const out = await session.run({ input_ids: input, past, keep });
    const logits = (await out.logits.getData()) as Float32Array; // [B, V]
    const V = logits.length / B;
    const next = variants.map((_, b) => argmax(logits, b * V, V));
    next.forEach((t, b) => {
      if (done[b]) return;
      if (t === c.eos_token_id) done[b] = true;
      else ids[b].push(t);
    });
    past.dispose();
    past = out.present;
    input.dispose();
    input = new ort.Tensor("int64", BigInt64Array.from(next.map(BigInt)), [B, 1]);
    const now = performance.now();
    if (step === 0) ttftMs = now - t0;
    else tokensPerS = (step * B) / ((now - t0 - ttftMs) / 1000);
    const prefill =
      step === 0
        ? {
            hidden: (await out.hidden.getData()) as Float32Array,
            inter: (await out.inter.getData()) as Float32Array,
            T: prompt_ids.length,
          }
        : undefined;
    for (const k of ["logits", "hidden", "inter"]) out[k].dispose();
    yield { ids, done, ttftMs, tokensPerS, prefill };
  }
  past.dispose();
}

function argmax(a: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
  return best;
}
