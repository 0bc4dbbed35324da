"""One row never fails another: sampling does not raise for any number the contract accepts, and a row whose
own step fails (whatever the cause) ends alone with an error event while the rows beside it, in its own call
and in other clients' calls, finish as if it had never been there."""

import itertools
import time

import pytest
import torch

from runner import scheduler as scheduler_module
from runner.errors import ApiError
from runner.sampling import GREEDY_BELOW, make_generator, sample
from runner.wire import SMALLEST_NORMAL, GenerateRequest, ScoreRequest, parse

TEMPERATURES = [SMALLEST_NORMAL, 1e-300, 1e-30, 1e-6, GREEDY_BELOW, 1e-3, 0.5, 2.0]
TOP_PS = [0.0, SMALLEST_NORMAL, 1e-6, 0.5, 1.0]
SCALES = [1.0, 1e4, 1e30, 3e38]  # logits up to float32's largest


@pytest.mark.parametrize("scale", SCALES)
def test_sampling_gives_a_token_for_every_temperature_and_top_p_the_contract_accepts(scale):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(300, generator=g) * scale
    for t, p in itertools.product(TEMPERATURES, TOP_PS):
        token = sample(logits, t, p, make_generator(1))
        assert 0 <= token < 300, (t, p)
        if t < GREEDY_BELOW or p < 1e-6:  # the limit of sampling: a most likely token (+inf ties)
            assert logits[token] == logits.max(), (t, p)


@pytest.mark.parametrize("decode", ["dynamic", "static"])
def test_a_failing_row_fails_alone_and_every_other_row_finishes(runner_for, monkeypatch, decode):
    r = runner_for("llama", plant=False, decode=decode)
    real, calls = scheduler_module.sample, {"n": 0}

    def poisoned(logits, temperature, top_p, gen, **kw):  # the marked row fails at its third token
        if temperature == 0.777:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("probability tensor contains either inf, nan or element < 0")
        return real(logits, temperature, top_p, gen, **kw)

    monkeypatch.setattr(scheduler_module, "sample", poisoned)
    row = {"prompt": "hello", "max_tokens": 12}
    mine = r.generate(
        parse(GenerateRequest, {"requests": [row, {**row, "temperature": 0.777, "seed": 1}, row]})
    )
    theirs = r.generate(parse(GenerateRequest, {"requests": [row, {**row, "prompt": [5, 6, 7]}]}))
    their_results = theirs.results()
    assert [x["finish_reason"] for x in their_results] == ["length", "length"]
    last = {e["index"]: e for e in mine}
    assert last[0]["finish_reason"] == last[2]["finish_reason"] == "length"
    assert last[1]["error"]["status"] == 500 and "inf, nan" in last[1]["error"]["message"]
    # Alone, the healthy rows give the same tokens: the failure changed nothing for them.
    monkeypatch.setattr(scheduler_module, "sample", real)
    alone = r.generate(parse(GenerateRequest, {"requests": [row]})).results()[0]
    assert last[0]["tokens"] == last[2]["tokens"] == alone["tokens"]


@pytest.mark.parametrize("decode", ["dynamic", "static"])
def test_a_call_with_a_failed_row_answers_500_not_a_retryable_503(runner_for, monkeypatch, decode):
    r = runner_for("llama", plant=False, decode=decode)

    def broken(logits, temperature, top_p, gen, **kw):
        raise RuntimeError("broken sampler")

    monkeypatch.setattr(scheduler_module, "sample", broken)
    with pytest.raises(ApiError) as e:
        row = {"prompt": "hi", "max_tokens": 2, "temperature": 0.7, "seed": 1}  # sampled: sample() runs
        r.generate(parse(GenerateRequest, {"requests": [row]})).results()
    assert e.value.status == 500 and e.value.retry_after is None


def test_a_small_generate_beside_a_large_score_waits_for_a_chunk_not_the_whole_score(runner_for):
    """Scoring runs one chunk of rows per loop turn, between decode steps: a one-token generate sent just
    after a 32-row rolling score finishes first, and the score's results are those of scoring alone."""
    r = runner_for("llama", plant=False)
    body = {
        "rolling": [
            {"text": f"{i} " + "the quick brown fox jumps over the lazy dog " * 12} for i in range(32)
        ]
    }
    alone = r.score(parse(ScoreRequest, body)).result()["results"]
    done = {}
    big = r.score(parse(ScoreRequest, body))
    big.add_done_callback(lambda _: done.setdefault("score", time.perf_counter()))
    small = r.generate(parse(GenerateRequest, {"requests": [{"prompt": "hi", "max_tokens": 1}]})).results()
    done["generate"] = time.perf_counter()
    assert small[0]["finish_reason"] in ("length", "stop")
    assert big.result()["results"] == alone
    assert done["generate"] < done["score"]


@pytest.mark.parametrize("decode", ["dynamic", "static"])
def test_a_burst_arriving_within_batch_wait_is_prefilled_as_one_batch(runner_for, monkeypatch, decode):
    """Rows submitted one by one, 30 ms apart, by an idle runner that gathers for 1 s: one prefill of all
    four (every submit wakes the scheduler; it must keep gathering until its deadline, not admit at the
    first wake-up and split the burst into waves)."""
    r = runner_for("llama", plant=False, decode=decode, batch_wait_ms=1000.0)
    real, prefills = r.engine.prefill, []

    def counted(prompts, plans):
        prefills.append(len(prompts))
        return real(prompts, plans)

    monkeypatch.setattr(r.engine, "prefill", counted)
    gens = []
    for i in range(4):
        gens.append(
            r.generate(parse(GenerateRequest, {"requests": [{"prompt": f"{i} hi", "max_tokens": 2}]}))
        )
        time.sleep(0.03)
    assert all(len(g.results()[0]["tokens"]) == 2 for g in gens)
    assert prefills == [4]
