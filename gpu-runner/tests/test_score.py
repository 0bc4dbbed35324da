"""Scoring agrees with a direct log-softmax; rolling perplexity is exp(mean NLL); echo has legacy shape."""

import math

import pytest
import torch

from conftest import hf_logits
from runner import score
from runner.errors import ApiError
from runner.wire import ScoreRequest, parse


def direct(r, ids):
    return torch.log_softmax(hf_logits(r.loaded.model, ids), -1)  # [T, V]


def test_loglikelihood_equals_a_direct_log_softmax(runner_for):
    r = runner_for("llama", plant=False)
    out = r.score(
        parse(ScoreRequest, {"requests": [{"context": "The cat sat", "continuation": " on the mat"}]})
    ).result()["results"][0]
    ctx, cont = score.split_context(r.tokens, "The cat sat", " on the mat")
    lp = direct(r, ctx + cont)
    want = sum(float(lp[len(ctx) - 1 + i, t]) for i, t in enumerate(cont))
    greedy = all(int(lp[len(ctx) - 1 + i].argmax()) == t for i, t in enumerate(cont))
    assert out["logprob"] == pytest.approx(want, abs=1e-4)
    assert out["is_greedy"] == greedy and out["tokens"] == len(cont)


def test_is_greedy_is_true_for_the_models_own_greedy_continuation(runner_for):
    r = runner_for("llama", plant=False)
    ids = r.tokens.encode("Once")
    lp = direct(r, ids)
    nxt = int(lp[-1].argmax())
    cont_text = r.tokens.decode([nxt])
    out = r.score(
        parse(ScoreRequest, {"requests": [{"context": "Once", "continuation": cont_text}]})
    ).result()["results"][0]
    assert out["is_greedy"] is True


def test_rolling_perplexity_equals_exp_mean_nll(runner_for):
    r = runner_for("llama", plant=False)
    text = "Summer is warm and winter is cold."
    out = r.score(parse(ScoreRequest, {"rolling": [{"text": text}]})).result()["results"][0]
    ids = r.tokens.encode(text)
    lp = direct(r, ids)
    nll = -sum(float(lp[i, t]) for i, t in enumerate(ids[1:]))
    assert out["tokens"] == len(ids) - 1
    assert out["logprob"] == pytest.approx(-nll, abs=1e-3)
    assert math.exp(-out["logprob"] / out["tokens"]) == pytest.approx(
        math.exp(nll / (len(ids) - 1)), rel=1e-4
    )


def test_rolling_windows_cover_every_token_once():
    ids = list(range(23))
    for max_len in (4, 5, 23, 64):
        wins = score.rolling_windows(ids, max_len)
        scored = [t for w, n in wins for t in w[1:][-n:]]
        assert scored == ids[1:]
        assert all(len(w) <= max_len for w, _ in wins)


def test_echo_gives_legacy_openai_logprobs(runner_for):
    r = runner_for("llama", plant=False)
    out = r.score(parse(ScoreRequest, {"echo": [{"prompt": "Hi there", "top_logprobs": 2}]})).result()[
        "results"
    ][0]
    ids = r.tokens.encode("Hi there")  # [BOS, ...]: the BOS conditions the scores but is not echoed
    lp = direct(r, ids)
    assert out["tokens"] == ids[1:] and out["token_logprobs"][0] is None and out["top_logprobs"][0] is None
    assert out["token_logprobs"][1] == pytest.approx(float(lp[1, ids[2]]), abs=1e-4)
    assert len(out["top_logprobs"][1]) == 2
    assert out["text_offset"][:2] == [0, len(out["token_strs"][0])]
    # Token ids without a BOS: the first token has nothing before it (OpenAI's null).
    bare = r.score(parse(ScoreRequest, {"echo": [{"prompt": ids[1:]}]})).result()["results"][0]
    assert bare["tokens"] == ids[1:] and bare["token_logprobs"][0] is None


@pytest.mark.parametrize(
    "body,status",
    [
        ({}, 400),
        ({"requests": [], "rolling": []}, 400),
        ({"requests": [{"context": "a"}]}, 400),
        ({"requests": [{"context": "a", "continuation": ""}]}, 422),
        ({"requests": [{"variant": "nope", "context": "a", "continuation": "b"}]}, 404),
        ({"rolling": [{"text": ""}]}, 422),
        ({"echo": [{"prompt": [1, 2, 10_000]}]}, 422),
        ({"requests": [{"context": "a", "continuation": "b"}] * 100}, 413),
    ],
)
def test_bad_score_requests_get_their_4xx(runner_for, body, status):
    r = runner_for("llama", plant=False)
    with pytest.raises(ApiError) as e:
        r.score(parse(ScoreRequest, body))
    assert e.value.status == status


def test_scoring_in_small_chunks_equals_one_big_batch(runner_for):
    r = runner_for("llama", plant=False)
    plan = r.registry.resolve("base")
    seqs = [r.tokens.encode("Summer is warm" * n) for n in (1, 2, 3, 5)]
    whole = r.engine.logprobs_of(seqs, [plan] * 4)
    tiny_budget = r.engine.logprobs_of(seqs, [plan] * 4, budget=1)  # one row per forward pass
    for a, b in zip(whole, tiny_budget):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_rolling_text_over_the_cap_is_413(runner_for):
    r = runner_for("llama", plant=False)
    with pytest.raises(ApiError) as e:
        r.score(parse(ScoreRequest, {"rolling": [{"text": "ab" * (33 * r.max_context)}]}))
    assert e.value.status == 413 and "at most" in e.value.message


@pytest.mark.parametrize("text", ["The cat sat on the mat.", "a<s>b</s>", " x", "0123456789" * 5])
def test_echo_scores_text_and_token_ids_alike_with_offsets_into_the_prompt(runner_for, text):
    """The BOS the runner adds to a text prompt is not echoed: the answer's tokens are the prompt's own, with
    offsets into its text from 0, and their log-probabilities are those of the same ids sent as tokens."""
    r = runner_for("llama", plant=False)
    bos, ids = r.tokens.bos_id, r.tokens.encode(text, add_bos=False)

    def echo(prompt):
        return r.score(parse(ScoreRequest, {"echo": [{"prompt": prompt}]})).result()["results"][0]

    by_text, by_ids = echo(text), echo([bos, *ids])
    assert by_text["tokens"] == ids and by_ids["tokens"] == [bos, *ids]
    assert by_text["token_logprobs"][0] is None  # OpenAI's shape: nothing scores the first echoed token
    assert by_text["token_logprobs"][1:] == by_ids["token_logprobs"][2:]
    assert "".join(by_text["token_strs"]) == text
    offsets = by_text["text_offset"]
    assert offsets[0] == 0 and offsets == sorted(offsets)
    assert [text[o : o + len(s)] for o, s in zip(offsets, by_text["token_strs"])] == by_text["token_strs"]
