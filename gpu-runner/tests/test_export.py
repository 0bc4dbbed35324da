"""Export: the ablation as a rank-k PEFT LoRA; PEFT (and our runner) serving it equals the masked variant."""

import json
import os

import pytest
import torch

from runner.__main__ import main
from runner.config import RunnerConfig
from runner.service import Runner


@pytest.mark.parametrize(
    "family,variant",
    [(f, "massive-zero") for f in ("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3")]
    + [("llama", "massive-retain")],
)
def test_exported_adapter_under_peft_equals_the_masked_variant(
    model_dir, runner_for, tmp_path, family, variant
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = str(tmp_path / "export")
    assert (
        main(["export", "--model", model_dir(family), "--variant", variant, "--format", "peft", "--out", out])
        == 0
    )
    cfg = json.load(open(os.path.join(out, "adapter_config.json")))
    r = runner_for(family)
    k = len(r.detection["top_k"]["indices"])
    if variant == "massive-zero":
        assert cfg["r"] == (2 * k if family == "phi3" else k)
    base = AutoModelForCausalLM.from_pretrained(model_dir(family), dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base, out).eval()
    ids = r.tokens.encode("The cat sat on the mat.")
    with torch.no_grad():
        ref = torch.log_softmax(peft_model(input_ids=torch.tensor([ids])).logits[0, :-1], -1)
    ours = r.engine.logprobs_of([ids], [r.registry.resolve(variant)])[0]
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_runner_serves_the_exported_adapter_like_the_mask(model_dir, tmp_path):
    adapters = tmp_path / "adapters"
    assert (
        main(
            [
                "export",
                "--model",
                model_dir("llama"),
                "--variant",
                "massive-zero",
                "--out",
                str(adapters / "mz"),
            ]
        )
        == 0
    )
    r = Runner(RunnerConfig(model=model_dir("llama"), adapters_dir=str(adapters), device="cpu"))
    try:
        ids = r.tokens.encode("Winter is cold.")
        a, b = r.engine.logprobs_of(
            [ids, ids], [r.registry.resolve("mz"), r.registry.resolve("massive-zero")]
        )
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    finally:
        r.close()


def test_export_refuses_a_variant_with_nothing_to_export(model_dir, tmp_path, capsys):
    assert (
        main(["export", "--model", model_dir("llama"), "--variant", "base", "--out", str(tmp_path / "x")])
        == 2
    )
    assert "nothing to export" in capsys.readouterr().err


def test_a_bad_adapter_in_the_folder_stops_start_up_with_its_name(model_dir, tmp_path, capsys):
    bad = tmp_path / "adapters" / "broken"
    bad.mkdir(parents=True)
    (bad / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2}')
    assert main(["analyse", "--model", model_dir("llama"), "--device", "cpu"]) == 0
    capsys.readouterr()
    from runner.__main__ import runner_from

    class Args:
        model, device, dtype, k, adapters = model_dir("llama"), "cpu", None, 5, str(tmp_path / "adapters")

    with pytest.raises(ValueError, match="adapter folder 'broken'.*adapter_model.safetensors"):
        runner_from(Args())
