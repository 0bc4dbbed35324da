"""The detection rule on models built to fool simpler rules: the massive value created at layer 1, 2 or 3,
with and without a large BOS embedding, with and without a second smaller outlier whose layer has the
largest intermediate ratio, and one that grows over several layers after it is created. Llama (plain
residual writes) and Gemma 3 (writes through a post-FFN norm, scaled embeddings)."""

import os

import pytest

from runner import massive
from runner.load import load
from runner.tiny import Plant, build_tiny
from runner.tokens import Tokens

MAIN_ROWS, MAIN_DIM = (7, 19, 42), 5
# Gemma 3 270M's trap in miniature: layer 0's FFN has the largest intermediate ratio at BOS but writes
# another, smaller outlier (dim 9).
SECOND = Plant(layer=0, rows=(3, 11), dim=9, gain=30.0, down=-0.2, norm_gain=20.0)


def detect(tmp_path, family, plants, bos_embed=0.5, layers=6):
    folder = build_tiny(str(tmp_path / "m"), family, plants=plants, bos_embed=bos_embed, layers=layers)
    loaded = load(folder, "cpu")
    tokens = Tokens(loaded.tokenizer, loaded.model.config.vocab_size)
    p = massive.bos_profile(loaded, tokens)
    return massive.detect(p, k=3, threshold=100.0), p


@pytest.mark.parametrize("family", ["llama", "gemma3_text"])
@pytest.mark.parametrize("layer", [1, 2, 3])
@pytest.mark.parametrize("big_bos", [False, True], ids=["plain-bos", "large-bos-embedding"])
@pytest.mark.parametrize("second", [False, True], ids=["one-outlier", "second-smaller-outlier"])
def test_the_massive_layer_is_where_the_value_is_created(tmp_path, family, layer, big_bos, second):
    plants = (Plant(layer=layer, rows=MAIN_ROWS, dim=MAIN_DIM),) + ((SECOND,) if second else ())
    det, p = detect(tmp_path, family, plants, bos_embed=40.0 if big_bos else 0.5)
    assert det["massive_layer"] == layer
    assert set(det["top_k"]["indices"]) == set(MAIN_ROWS)
    main = next(d for d in det["massive_dims"] if d["dim"] == MAIN_DIM)
    assert main["created_by"] == layer
    # the first massive dim that some FFN creates decides (a large BOS embedding may even have the larger peak)
    assert next(d for d in det["massive_dims"] if d["created_by"] is not None) is main
    if big_bos:  # BOS starts out large: already massive at layer 0's output, from no FFN
        first = p.hidden[0].abs().max().item() / p.hidden_median[0]
        assert first >= 100, "the fixture must put an outlier at layer 0's output"
    if second:  # the trap is real: layer 0 has the larger intermediate ratio
        r = [p.inter[i].abs().max().item() / p.inter_median[i] for i in range(len(p.inter))]
        assert r[0] > r[layer]
        assert any(d["dim"] == SECOND.dim and d["created_by"] == 0 for d in det["massive_dims"])


@pytest.mark.parametrize("family", ["llama", "gemma3_text"])
def test_a_value_that_grows_after_it_is_created_keeps_its_creation_layer(tmp_path, family):
    grow = tuple(
        Plant(layer=i, rows=(50 + i, 60 + i, 70 + i), dim=MAIN_DIM, down=-2.0, norm_gain=60.0)
        for i in (2, 3, 4)
    )
    plants = (Plant(layer=1, rows=MAIN_ROWS, dim=MAIN_DIM, down=-1.0, norm_gain=30.0),) + grow
    det, p = detect(tmp_path, family, plants)
    peak = max(abs(float(h[MAIN_DIM])) for h in p.hidden)
    assert abs(float(p.hidden[1][MAIN_DIM])) < 0.5 * peak  # it really grows after layer 1
    assert det["massive_layer"] == 1 and set(det["top_k"]["indices"]) == set(MAIN_ROWS)


@pytest.mark.parametrize("family", ["llama", "gemma3_text"])
def test_an_outlier_no_ffn_creates_gives_no_layer(tmp_path, family):
    det, _ = detect(tmp_path, family, (), bos_embed=40.0)  # only a large BOS embedding
    assert det["massive_layer"] is None and det["top_k"]["indices"] == []


@pytest.mark.parametrize("family", ["llama", "gemma3_text"])
def test_a_plain_random_model_has_no_massive_activation(tmp_path, family):
    det, _ = detect(tmp_path, family, ())
    assert det == {"massive_layer": None, "top_k": {"indices": [], "values": []}, "massive_dims": []}


HOUSE = os.path.join(os.path.dirname(__file__), "..", "..", "models", "house")


@pytest.mark.skipif(not os.path.isfile(os.path.join(HOUSE, "config.json")), reason="no house model")
def test_the_house_model_still_gets_layer_1_and_its_card_rows():
    loaded = load(HOUSE, "cpu")
    det = massive.locate(loaded, Tokens(loaded.tokenizer, loaded.model.config.vocab_size), 5)
    assert det["massive_layer"] == 1
    assert det["top_k"]["indices"] == [165, 54, 169, 490, 659]  # MODEL_CARD.md
