"""User text is encoded as text: no special-token string a client writes (in a prompt, a message, a scored
context or a tokenize call) ever becomes a control token; only the runner adds BOS and a chat template's own
special tokens. A request may opt in (parse_special_tokens, off by default) to the tokenizer's own parsing."""

import pytest
from transformers import AutoTokenizer

from runner.errors import ApiError
from runner.score import split_context
from runner.tokens import Tokens
from runner.wire import GenerateRequest, TokenizeRequest, parse

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<pad>{{ m['role'] }}\n{{ m['content'] | trim }}</s>\n{% endfor %}"
    "<pad>assistant\n"
)


@pytest.fixture(scope="module")
def tok(model_dir):
    return AutoTokenizer.from_pretrained(model_dir("llama", plant=False))


def hostile_texts(tok) -> list[str]:
    """Every special token's string, alone, glued to text, twice, and at the start."""
    out = []
    for s in tok.all_special_tokens:
        out += [s, f"a{s}b{s}", f"{s}{s}", f"{s} hello", f"hello {s}"]
    return out


def test_no_special_token_string_in_user_text_encodes_to_a_special_token(tok):
    t = Tokens(tok, tok.vocab_size)
    special = set(tok.all_special_ids)
    assert len(special) >= 3  # BOS, EOS and PAD: the class has members
    for text in hostile_texts(tok):
        assert not special & set(t.encode(text, add_bos=False)), text
        with_bos = t.encode(text, add_bos=True)
        assert with_bos[0] == t.bos_id and not special & set(with_bos[1:]), text
        assert t.decode(with_bos[1:]) == text  # text in, the same text out


def test_the_runners_routes_encode_user_text_as_text(runner_for, tok):
    r = runner_for("llama", plant=False)
    special = set(tok.all_special_ids)
    for text in hostile_texts(tok):
        tokens = r.tokenize(parse(TokenizeRequest, {"text": text}))["tokens"]
        assert tokens[0] == r.tokens.bos_id and not special & set(tokens[1:]), text
        for row in ({"prompt": text}, {"messages": [{"role": "user", "content": text}]}):
            ids = r.prompt_ids(parse(GenerateRequest, {"requests": [row]}).requests[0], "requests[0]")
            assert ids[0] == r.tokens.bos_id and not special & set(ids[1:]), (row, ids)


def test_a_chat_templates_own_special_tokens_stay_tokens_and_the_messages_stay_text(tok):
    tok = AutoTokenizer.from_pretrained(tok.name_or_path)
    tok.chat_template = TEMPLATE
    t = Tokens(tok, tok.vocab_size)
    plain = [{"role": "user", "content": "hi there"}]
    # With no special strings in the contents, the ids are exactly the tokenizer's own for the whole text.
    assert t.encode_messages(plain) == tok.apply_chat_template(plain, add_generation_prompt=True)["input_ids"]
    for text in hostile_texts(tok):
        msgs = [{"role": "system", "content": "be kind"}, {"role": "user", "content": text}]
        ids = t.encode_messages(msgs)
        specials = [i for i in ids if i in tok.all_special_ids]
        # the template's: BOS, then <pad> ... </s> per message, then <pad> for the answer; none from `text`
        assert specials == [t.bos_id, t.pad_id, t.eos_id, t.pad_id, t.eos_id, t.pad_id], text
        assert text.strip() in t.decode(ids)


def test_a_request_that_opts_in_gets_its_special_token_strings_as_the_tokens_the_tokenizer_gives(
    runner_for, tok
):
    """parse_special_tokens (off by default) equals the tokenizer's own parsing of special tokens, on every
    text entry point: tokenize, a prompt, messages, a scored context and a rolling text."""
    r = runner_for("llama", plant=False)
    bos = [r.tokens.bos_id]
    for text in hostile_texts(tok):
        theirs = tok(text, add_special_tokens=False)["input_ids"]  # the tokenizer's default: parsed
        assert set(theirs) & set(tok.all_special_ids), text  # the opt-in has something to parse
        opted = {"parse_special_tokens": True}
        assert r.tokenize(parse(TokenizeRequest, {"text": text, **opted}))["tokens"] == bos + theirs
        row = parse(GenerateRequest, {"requests": [{"prompt": text, **opted}]}).requests[0]
        assert r.prompt_ids(row, "requests[0]") == bos + theirs
        msgs = [{"role": "user", "content": text}]
        row = parse(GenerateRequest, {"requests": [{"messages": msgs, **opted}]}).requests[0]
        rendered, _ = r.tokens.render_messages(msgs)
        assert r.prompt_ids(row, "requests[0]") == bos + tok(rendered, add_special_tokens=False)["input_ids"]
        ctx, cont = split_context(r.tokens, text, " x", specials=True)
        assert ctx == bos + theirs


def test_the_option_is_off_unless_sent_and_must_be_a_boolean():
    assert parse(TokenizeRequest, {"text": "a"}).parse_special_tokens is False
    with pytest.raises(ApiError) as e:
        parse(TokenizeRequest, {"text": "a", "parse_special_tokens": "yes"})
    assert (e.value.status, e.value.param) == (400, "parse_special_tokens")
