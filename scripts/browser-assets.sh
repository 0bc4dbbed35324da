#!/usr/bin/env bash
# Builds the gateway's static assets for the demo page's "run in my browser" switch into build/assets
# (wrangler.toml [assets]; git-ignored), idempotently: the house model as ONNX (python -m runner export
# --format onnx: skipped when its inputs are unchanged), the page's script bundled with esbuild (tokenizers.js
# and onnxruntime-web inside, no CDN), onnxruntime-web's wasm runtimes (the WebGPU one in parts, as one
# static asset may not pass 25 MiB) and the cache headers. Called by scripts/setup.sh; run alone with
#   bash scripts/browser-assets.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out=build/assets/browser
mkdir -p "$out/ort"

(cd gpu-runner && OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" ../.venv/bin/python -m runner export --format onnx \
  --model ../models/house --out "../$out/model" 2> >(grep -v -e '^\[torch.onnx\]' -e 'Warning' -e '^W[0-9]' -e '^ ' >&2)) >/dev/null

npx esbuild src/demo/browser/main.ts --bundle --format=esm --splitting --minify --target=es2022 \
  --outdir="$out" --entry-names=app --chunk-names='chunk-[hash]' --log-level=warning

node - "$out/ort" <<'JS'
// onnxruntime-web's runtimes: the wasm one as it is; the WebGPU one split under the 25 MiB asset cap,
// listed with its parts' SRI hashes in runtime.json (src/demo/browser/model.ts reassembles it).
const fs = require("node:fs"), path = require("node:path"), crypto = require("node:crypto");
const dir = process.argv[2], dist = "node_modules/onnxruntime-web/dist";
fs.copyFileSync(path.join(dist, "ort-wasm-simd-threaded.wasm"), path.join(dir, "ort-wasm-simd-threaded.wasm"));
const big = fs.readFileSync(path.join(dist, "ort-wasm-simd-threaded.asyncify.wasm"));
const PART = 20 * 2 ** 20, parts = [];
for (let at = 0; at < big.length; at += PART) {
  const data = big.subarray(at, at + PART);
  const sha = crypto.createHash("sha256").update(data).digest();
  const name = `ort-webgpu-${sha.toString("hex").slice(0, 16)}.part`;
  fs.writeFileSync(path.join(dir, name), data);
  parts.push({ name, bytes: data.length, integrity: "sha256-" + sha.toString("base64") });
}
for (const f of fs.readdirSync(dir)) if (f.endsWith(".part") && !parts.some((p) => p.name === f)) fs.rmSync(path.join(dir, f));
fs.writeFileSync(path.join(dir, "runtime.json"), JSON.stringify({ parts }, null, 1));
JS

# Workers static assets read _headers (every matching rule applies, in order; "! Name" drops what an
# earlier rule set): content-named files never change, the rest is revalidated.
cat > build/assets/_headers <<'HEADERS'
/browser/*
  Cache-Control: public, max-age=300, must-revalidate
/browser/model/*
  ! Cache-Control
  Cache-Control: public, max-age=31536000, immutable
/browser/ort/*.part
  ! Cache-Control
  Cache-Control: public, max-age=31536000, immutable
/browser/chunk-*
  ! Cache-Control
  Cache-Control: public, max-age=31536000, immutable
/browser/model/manifest.json
  ! Cache-Control
  Cache-Control: no-cache
HEADERS
echo "browser assets: $(du -sh build/assets | cut -f1) in build/assets"
