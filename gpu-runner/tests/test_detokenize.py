"""A row's text is always decode(its tokens), though it decodes only the tokens since the last whole
character (incremental detokenization); `ignore_eos` makes EOS a token like any other."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.rows import GenRow
from runner.tiny import byte_tokenizer
from runner.tokens import Tokens
from runner.variants import BASE

HOUSE = os.path.join(os.path.dirname(__file__), "..", "..", "models", "house")


def tokenizers():
    out = [Tokens(byte_tokenizer(), 259)]
    if os.path.isfile(os.path.join(HOUSE, "tokenizer.json")):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(HOUSE)
        out.append(Tokens(tok, len(tok)))
    return out


TOKENIZERS = tokenizers()


def row(**kw) -> GenRow:
    r = GenRow(index=0, plan=BASE, prompt_ids=[1], max_tokens=10_000, **kw)
    r.out = lambda _event: None
    return r


@pytest.mark.parametrize("tok", TOKENIZERS, ids=lambda t: f"vocab{t.vocab_size}")
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_incremental_text_equals_decoding_every_token_so_far(tok, data):
    """Random token ids, multi-byte characters split across tokens included: after every token the row's
    text is exactly the tokenizer's decode of all its tokens."""
    ids = data.draw(
        st.lists(st.integers(0, tok.vocab_size - 1).filter(lambda i: i != tok.eos_id), max_size=40)
    )
    r = row()
    for i in ids:
        r.push(i, None, tok, max_context=1 << 20)
        assert r.text == tok.decode(r.out_ids)


def test_a_row_that_ignores_eos_goes_on_to_max_tokens():
    tok = TOKENIZERS[0]
    stops, goes_on = row(), row(ignore_eos=True)
    goes_on.max_tokens = 3
    for r in (stops, goes_on):
        for i in (65, tok.eos_id, 66):
            if not r.done:
                r.push(i, None, tok, max_context=1 << 20)
    assert stops.finish == "stop" and stops.out_ids == [65]
    assert goes_on.finish == "length" and goes_on.out_ids == [65, tok.eos_id, 66]


@pytest.mark.parametrize("tok", TOKENIZERS, ids=lambda t: f"vocab{t.vocab_size}")
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_decode_through_the_rust_backend_equals_the_tokenizers_own_decode(tok, data):
    """Tokens.decode calls a fast tokenizer's Rust backend straight (the wrapper costs ~5x the decode, and
    each token is decoded twice a step); for any ids, special tokens among them, it gives what the
    tokenizer's own decode gives."""
    assert tok._backend is not None  # both test tokenizers are fast ones: the shortcut is taken
    ids = data.draw(st.lists(st.integers(0, tok.vocab_size - 1), max_size=40))
    ids += [i for i in (tok.bos_id, tok.eos_id, tok.pad_id) if i is not None and data.draw(st.booleans())]
    want = tok.tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    assert tok.decode(ids) == want
