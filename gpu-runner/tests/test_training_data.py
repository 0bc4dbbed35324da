"""Training data and the training command line (runner/data.py, instructions.py, train_cli.py,
compare_training.py): bad lines named by number, loss on the answer only, the committed WordNet set rebuilt
byte for byte from Debian's package, and `train` / `compare-training` end to end on the tiny model."""

from __future__ import annotations

import json
import os

import pytest

from runner import data, instructions
from runner.__main__ import main
from runner.load import load
from runner.tokens import Tokens

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMITTED = os.path.join(REPO, "models", "house", "instructions", "wordnet.jsonl")


@pytest.fixture(scope="module")
def tokens(model_dir):
    loaded = load(model_dir("llama"), "cpu")
    return Tokens(loaded.tokenizer, loaded.model.config.vocab_size)


def test_every_bad_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"instruction": "Define.", "output": "ok"}\n'
        "not json\n"
        "\n"
        '{"instruction": "Define."}\n'
        '["a list"]\n'
        '{"instruction": "Define.", "input": 3, "output": "x"}\n'
    )
    with pytest.raises(ValueError) as e:
        data.read_records(str(path))
    msg = str(e.value)
    assert "4 bad line(s)" in msg
    assert "line 2: not JSON" in msg and "line 4: 'output' must be a non-empty string" in msg
    assert "line 5: a record must be a JSON object" in msg and "line 6: 'input' must be a string" in msg
    assert "line 1" not in msg and "line 3" not in msg


def test_a_missing_data_file_is_a_message_not_a_traceback(model_dir, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--model",
                model_dir("llama"),
                "--data",
                str(tmp_path / "none.jsonl"),
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "is not a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--layer", "9", "--rows", "1,2,3"], "--layer must be in 0..3"),
        (["--layer", "1", "--rows", "1,1,2"], "--rows must be distinct integers in 0..127"),
        (["--rows", "1,2,3"], "give both layer and rows"),
        (["--p0", "1.2"], "p0 must be in"),
    ],
)
def test_bad_macdrop_settings_are_refused_with_what_to_fix(
    model_dir, data_file, tmp_path, capsys, bad, message
):
    args = ["train", "--model", model_dir("llama"), "--data", data_file, "--macdrop", "--k", "3"]
    assert main([*args, *bad, "--out", str(tmp_path), "--device", "cpu"]) == 2
    assert message in capsys.readouterr().err


def test_instruction_examples_put_the_loss_on_the_answer_and_eos_only(tokens):
    r = {"instruction": "Define the word.", "input": "cat", "output": "A small animal."}
    [ex], dropped = data.instruction_examples(tokens, [r], max_len=256)
    text, add_bos = data.prompt_text(tokens, r)
    prompt = tokens.encode(text, add_bos=add_bos)
    assert dropped == 0 and ex.ids[: len(prompt)] == prompt and ex.ids[0] == tokens.bos_id
    assert ex.labels[: len(prompt)] == [data.IGNORE] * len(prompt)
    answer = [t for t in ex.labels if t != data.IGNORE]
    assert tokens.decode(answer) == " A small animal." + tokens.tok.eos_token
    assert text.endswith("assistant:")  # the tiny model has no chat template: the runner's plain template


def test_a_prompt_that_fills_max_len_is_dropped_and_plain_text_is_cut_into_bos_windows(tokens):
    r = {"instruction": "x" * 100, "output": "y"}
    assert data.instruction_examples(tokens, [r], max_len=32) == ([], 1)
    wins = data.text_examples(tokens, "abcdefghij" * 10, max_len=16)
    assert all(w.ids[0] == tokens.bos_id and len(w.ids) <= 16 and w.ids == w.labels for w in wins)
    assert sum(len(w.ids) - 1 for w in wins) == len(tokens.encode("abcdefghij" * 10, add_bos=False))


def test_the_validation_split_does_not_depend_on_the_training_seed():
    ex = [data.Example([i], [i]) for i in range(100)]
    train, val = data.split(ex, 0.05)
    assert len(val) == 5 and len(train) == 95
    assert {e.ids[0] for e in val} == {e.ids[0] for e in data.split(ex, 0.05)[1]}
    assert not {e.ids[0] for e in val} & {e.ids[0] for e in train}


def test_the_committed_instruction_set_is_rebuilt_byte_for_byte_from_debians_wordnet(tmp_path):
    try:
        wordnet = instructions.fetch_wordnet(os.path.join(REPO, "build", "wordnet"))
    except ValueError as e:
        pytest.skip(f"Debian's wordnet-base cannot be fetched here: {e}")
    out = tmp_path / "wordnet.jsonl"
    instructions.write(instructions.build(wordnet, 6000, 0), str(out))
    with open(COMMITTED, encoding="utf-8") as f:
        assert out.read_text(encoding="utf-8") == f.read()
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in (tmp_path / "SOURCE.md").read_text()


def test_the_committed_instruction_set_is_valid_and_has_all_three_kinds():
    records = data.read_records(COMMITTED)
    assert len(records) == 6000
    assert {r["instruction"] for r in records} == set(instructions.KINDS.values())


def test_train_then_compare_training_from_the_command_line(model_dir, data_file, tmp_path, capsys):
    common = ["--model", model_dir("llama"), "--data", data_file, "--max-len", "48", "--micro-batch", "4"]
    common += ["--max-steps", "3", "--device", "cpu", "--no-progress", "--lr", "1e-2", "--k", "3"]
    assert main(["train", *common, "--macdrop", "--out", str(tmp_path / "one")]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["steps"] == 3 and printed["massive"] == {"layer": 1, "rows": [42, 19, 7]}
    assert os.path.isfile(tmp_path / "one" / "adapter_model.safetensors")

    text = tmp_path / "heldout.txt"
    text.write_text("The cat sat on the mat. The dog slept by the door. " * 20)
    compare = ["compare-training", *common, "--seeds", "0,1", "--out", str(tmp_path / "cmp")]
    compare += ["--text", str(text), "--context", "64", "--max-windows", "4", "--val-fraction", "0.3"]
    assert main(compare) == 0
    table = capsys.readouterr().out
    assert "| ppl_attacked |" in table and "paired t p-value" in table
    result = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert set(result["metrics"]) == {
        "base",
        "lora-plain-s0",
        "lora-macdrop-s0",
        "lora-plain-s1",
        "lora-macdrop-s1",
    }
    assert result["eval"]["massive"]["indices"] == [42, 19, 7] and result["eval"]["questions"] > 0
    assert len(result["per_seed"]["macdrop"]["acc"]) == 2
    m = result["metrics"]["lora-macdrop-s0"]
    assert m["ppl_ratio"] == pytest.approx(m["ppl_attacked"] / m["ppl"])
    assert result["paired"]["ppl"]["diff_mean"] == pytest.approx(
        sum(result["per_seed"]["macdrop"]["ppl"]) / 2 - sum(result["per_seed"]["plain"]["ppl"]) / 2
    )


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    words = ["cat", "oak", "ship", "lamp", "song", "road", "cake", "coin", "bell", "kite", "drum", "rope"]
    path.write_text(
        "".join(json.dumps({"instruction": "Define.", "input": w, "output": f"A {w}."}) + "\n" for w in words)
    )
    return str(path)
