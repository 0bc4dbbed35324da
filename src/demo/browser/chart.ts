// The massive-activation chart's data from the browser's own run, in the shape of the runner's /v1/massive
// that the page already draws (src/demo/script.ts, drawChart): per layer, max |value| at the first token
// (BOS) over the median |value| of that layer's state over every position and dimension of the prompt, for
// the hidden state and the FFN intermediate state. The median is the lower middle value, as torch.median
// (gpu-runner/runner/massive.py) takes it.
import type { Manifest } from "./model";

function lowerMedian(a: Float32Array): number {
  const s = Float32Array.from(a, Math.abs).sort();
  return s[(s.length - 1) >> 1];
}

function ratio(state: Float32Array, layer: number, B: number, T: number, width: number): number | null {
  const row = state.subarray((layer * B + 0) * T * width, (layer * B + 0) * T * width + T * width); // row 0, [T, width]
  const med = lowerMedian(row);
  let top = 0;
  for (let i = 0; i < width; i++) top = Math.max(top, Math.abs(row[i])); // position 0: BOS
  return med > 0 ? top / med : null;
}

/** `hidden` [L, B, T, D] and `inter` [L, B, T, F] of the prefill; row 0 is charted. */
export function massiveFromRun(m: Manifest, hidden: Float32Array, inter: Float32Array, B: number, T: number) {
  const layers = Array.from({ length: m.config.layers }, (_, l) => ({
    layer: l,
    hidden: { ratio: ratio(hidden, l, B, T, m.config.d_model) },
    inter: { ratio: ratio(inter, l, B, T, m.config.d_ff) },
  }));
  return {
    bos: { layers },
    massive_layer: m.massive.layer,
    top_k: m.massive.top_k,
    threshold: m.massive.threshold,
  };
}
