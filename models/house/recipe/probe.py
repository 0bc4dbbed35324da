# The paper's analysis on the house model, during training and after export, through the runner's own
# functions (one detection rule, one set of variants, one mask hook, one perplexity): nothing is re-derived
# here. Used by train.py at checkpoints and by evaluate.py on the shipped folder.
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "gpu-runner"))  # the runner, where not installed
from runner import massive  # noqa: E402
from runner.adapters import Adapters  # noqa: E402
from runner.engine import Engine  # noqa: E402
from runner.evaluate import perplexity  # noqa: E402
from runner.load import Loaded  # noqa: E402
from runner.variants import Registry  # noqa: E402

VARIANTS = ("base", "massive-zero", "massive-retain", "random-zero")


def loaded_from(hf, name: str = "house") -> Loaded:
    """Wrap an in-memory Hugging Face Llama (fp32, eval) as the runner's Loaded."""
    p = next(hf.parameters())
    return Loaded(hf, None, name, "llama", type(hf).__name__, p.device, p.dtype)


@torch.no_grad()
def probe(loaded: Loaded, windows: torch.Tensor, k: int = 5, seed: int = 0, threshold: float = 100.0) -> dict:
    """windows: [N, T] token ids, each starting with BOS. The first is the reference text of the detection."""
    p = massive.profile_ids(loaded, windows[0].tolist())
    det = massive.detect(p, k, threshold)
    out = {
        "massive_layer": det["massive_layer"],
        "massive_dims": det["massive_dims"][:3],
        "top_k": det["top_k"],
    }
    L = len(loaded.layers)
    sink = massive.attention_on_first(loaded, windows[:4], from_pos=8)
    mid = list(range(L // 4, L - L // 4))
    out |= {
        "sink_per_layer": [round(s, 3) for s in sink],
        "sink_middle": round(sum(sink[i] for i in mid) / len(mid), 3),
    }
    if det["massive_dims"]:
        dim = det["massive_dims"][0]["dim"]
        out["ffn_write_per_layer"] = [round(float(w[dim]), 2) for w in p.write]
    registry = Registry(loaded, Adapters(loaded.model))
    registry.add_builtins(det["massive_layer"], det["top_k"]["indices"], seed)
    engine = Engine(loaded, registry.adapters, pad_id=0)
    seqs = windows.tolist()
    ppl = {}
    for name in VARIANTS:
        if name in registry.variants:
            ppl[name] = perplexity(engine, registry.resolve(name), seqs)["ppl"]
    out["perplexity"] = ppl
    out["ppl_ratio"] = {n: round(v / ppl["base"], 3) for n, v in ppl.items()}
    if det["massive_layer"] is not None and det["massive_dims"]:
        layer, top = det["massive_layer"], det["top_k"]["indices"]
        inter = p.inter[layer].float()
        contrib = loaded.ffn(layer).down.weight[dim].float() * inter  # each row's write to the dim at BOS
        out["topk_share_of_write"] = round(float(contrib[top].sum() / contrib.sum()), 3)
    out["val_loss"] = math.log(ppl["base"])
    return out
