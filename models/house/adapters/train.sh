#!/usr/bin/env bash
# Recipe of the house model's adapters: trains LoRA and DoRA, plain and MacDrop, seeds 0-2 (12 runs, all at
# once: the house model is far too small to fill one GPU), then compares plain vs MacDrop per method through
# the runner (held-out perplexity, multiple-choice accuracy, X+massive-zero at k=3). Seed 0's four runs are
# the served adapters lora, macdrop, dora and dora-macdrop. Run from gpu-runner/ (about 5 minutes on one H200):
#   bash ../models/house/adapters/train.sh OUTDIR [MODEL] [DATA]
set -euo pipefail
out="$1"
model="${2:-../models/house}"
data="${3:-../models/house/instructions/wordnet.jsonl}"
py="${PYTHON:-python3}"
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$out/logs"
declare -A pids
for method in lora dora; do
  pids[$method]=""
  for seed in 0 1 2; do
    for arm in plain macdrop; do
      flag=""
      [ "$arm" = macdrop ] && flag="--macdrop"
      name="$method-$arm-s$seed"
      $py -m runner train --model "$model" --data "$data" --method "$method" $flag --seed "$seed" \
        --out "$out/$method/adapters/$name" --no-progress >"$out/logs/$name.log" 2>&1 &
      pids[$method]+=" $!"
    done
  done
done
for method in lora dora; do
  for pid in ${pids[$method]}; do wait "$pid"; done
  # every run card exists now, so compare-training only evaluates
  $py -m runner compare-training --model "$model" --data "$data" --method "$method" --seeds 0,1,2 \
    --out "$out/$method" --no-progress >"$out/$method/table.md" 2>"$out/logs/compare-$method.log"
  cat "$out/$method/table.md"
done
