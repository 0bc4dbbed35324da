"""Engine and scheduler: our logits and greedy generations equal Hugging Face's; batching (also rows that
join mid-flight) changes nothing for a row; sampling is seeded per row; stop strings and limits hold."""

import time

import pytest
import torch

from conftest import hf_logits
from runner.wire import GenerateRequest, parse

FAMILIES = ["llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3"]


def generate(r, specs: list[dict], stagger: float = 0.0) -> list[dict]:
    """Submit rows one call each (optionally `stagger` seconds apart, so later ones join a running batch),
    then iterate each call's events: its final event, with the text its deltas streamed as "streamed"."""
    calls = []
    for s in specs:
        calls.append(r.generate(parse(GenerateRequest, {"requests": [s]})))
        time.sleep(stagger)
    out = []
    for generation in calls:
        events = list(generation)
        final = events[-1]
        final["streamed"] = "".join(e.get("delta", "") for e in events[:-1])
        out.append(final)
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_our_logits_equal_hugging_faces(runner_for, family):
    r = runner_for(family)
    ids = r.tokens.encode("Summer is warm. Winter is cold.")
    ours = r.engine.logprobs_of([ids], [r.registry.resolve("base")])[0]
    ref = torch.log_softmax(hf_logits(r.loaded.model, ids)[:-1], -1)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_generation_equals_hugging_face_generate(runner_for, family):
    r = runner_for(family, plant=False)
    prompts = ["Once upon a time", "Hi", "The quick brown fox jumps"]
    out = generate(r, [{"prompt": p, "max_tokens": 12} for p in prompts])
    for p, o in zip(prompts, out):
        ids = r.tokens.encode(p)
        ref = r.loaded.model.generate(
            torch.tensor([ids]),
            max_new_tokens=12,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=r.tokens.pad_id,
        )[0, len(ids) :].tolist()
        if r.tokens.eos_id in ref:  # we stop at EOS (finish "stop"); HF was told not to
            ref = ref[: ref.index(r.tokens.eos_id)]
            assert o["finish_reason"] == "stop"
        else:
            assert o["finish_reason"] == "length"
        assert o["tokens"] == ref, family
        assert o["usage"] == {"prompt_tokens": len(ids), "completion_tokens": len(ref)}


@pytest.mark.parametrize("family", ["llama", "gemma3_text"])  # Gemma 3: sliding windows under left padding
def test_a_mixed_batch_generates_what_each_row_generates_alone(runner_for, family):
    r = runner_for(family)
    specs = [
        {"prompt": "Once upon a time", "variant": v, "max_tokens": 10}
        for v in ("base", "massive-zero", "massive-retain", "random-zero")
    ]
    together = generate(r, specs)
    alone = [generate(r, [s])[0] for s in specs]
    assert [t["tokens"] for t in together] == [a["tokens"] for a in alone]
    assert together[0]["tokens"] != together[1]["tokens"], "massive-zero should change this planted model"


@pytest.mark.parametrize("family", ["llama", "gemma3_text"])
def test_rows_joining_a_running_batch_get_the_same_tokens(runner_for, family):
    r = runner_for(family, plant=False)
    specs = [
        {"prompt": "A long story begins here and", "max_tokens": 40},
        {"prompt": "Hi", "variant": "base", "max_tokens": 8},
        {"prompt": "Yet another prompt of middling length", "max_tokens": 20},
    ]
    staggered = generate(r, specs, stagger=0.02)
    alone = [generate(r, [s])[0] for s in specs]
    assert [s["tokens"] for s in staggered] == [a["tokens"] for a in alone]


def test_seeded_sampling_is_reproducible_and_batch_independent(runner_for):
    r = runner_for("llama", plant=False)
    spec = {"prompt": "Hello", "max_tokens": 16, "temperature": 1.0, "top_p": 0.9, "seed": 7}
    a = generate(r, [spec])[0]["tokens"]
    b = generate(r, [{"prompt": "Other", "max_tokens": 5, "temperature": 1.0, "seed": 1}, spec])[1]["tokens"]
    c = generate(r, [{**spec, "seed": 8}])[0]["tokens"]
    assert a == b
    assert a != c


def test_stop_strings_cut_the_text_and_streamed_deltas_add_up(runner_for):
    r = runner_for("llama", plant=False)
    free = generate(r, [{"prompt": "Hello", "max_tokens": 20}])[0]
    text = free["text"]
    stop = text[5:7]
    assert stop and stop not in text[:5]
    cut = generate(r, [{"prompt": "Hello", "max_tokens": 20, "stop": [stop]}])[0]
    assert cut["finish_reason"] == "stop"
    assert cut["text"] == text[: text.index(stop)]
    assert cut["streamed"] == cut["text"]
    assert free["streamed"] == free["text"]


def test_logprobs_are_the_models_log_softmax(runner_for):
    r = runner_for("llama", plant=False)
    out = generate(r, [{"prompt": "Hello", "max_tokens": 3, "logprobs": 2}])[0]
    ids = r.tokens.encode("Hello") + out["tokens"]
    ref = torch.log_softmax(hf_logits(r.loaded.model, ids), -1)
    n = len(ids) - 3
    for i, t in enumerate(out["tokens"]):
        assert out["logprobs"]["token_logprobs"][i] == pytest.approx(float(ref[n - 1 + i, t]), abs=1e-4)
        assert len(out["logprobs"]["top_logprobs"][i]) <= 2


def test_leaving_a_generation_early_cancels_its_rows(runner_for):
    r = runner_for("llama", plant=False)
    generation = r.generate(parse(GenerateRequest, {"requests": [{"prompt": "x", "max_tokens": 400}]}))
    events = iter(generation)
    next(events)
    events.close()  # what a client that goes away does to the server's loop
    for _ in range(200):
        if not r.scheduler.running:
            break
        time.sleep(0.01)
    assert not r.scheduler.running
    assert len(generation.rows[0].out_ids) < 400


def test_chat_messages_without_a_template_become_a_plain_transcript(runner_for):
    r = runner_for("llama", plant=False)
    row = parse(GenerateRequest, {"requests": [{"messages": [{"role": "user", "content": "Hi"}]}]}).requests[
        0
    ]
    ids = r.prompt_ids(row, "t")
    assert r.tokens.decode(ids) == "<s>user: Hi\nassistant:"
