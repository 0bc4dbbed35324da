"""Text <-> token ids with an explicit BOS: the runner, not the tokenizer, decides where BOS goes.

User text is encoded as text: "a<|eos|>b" gives the tokens of those characters, never the control tokens
EOS or BOS (`split_special_tokens`). Only the runner adds special tokens: BOS here, and those a chat template
writes around the messages. A request may opt in to having special-token strings in its text parsed as the
control tokens (the wire's `parse_special_tokens`, off by default): `specials=True` below.
"""

from __future__ import annotations

import re

from .errors import ApiError


class Tokens:
    def __init__(self, tokenizer, vocab_size: int):
        self.tok = tokenizer
        self.vocab_size = vocab_size
        self.bos_id = tokenizer.bos_token_id
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (self.eos_id or 0)
        self._backend = _rust_decoder(tokenizer)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tok, "chat_template", None))

    def encode(self, text: str, add_bos: bool = True, specials: bool = False) -> list[int]:
        """User text as text (or, with `specials`, its special-token strings as their tokens), then BOS in
        front when asked."""
        ids = self._ids(text, specials=specials)
        return [self.bos_id] + ids if add_bos and self.bos_id is not None else ids

    def _ids(self, text: str, specials: bool) -> list[int]:
        """`specials`: special-token strings in `text` become their tokens (only for text the runner wrote)."""
        return self.tok(text, add_special_tokens=False, split_special_tokens=not specials)["input_ids"]

    def encode_messages(
        self, messages: list[dict], add_bos: bool = True, specials: bool = False
    ) -> list[int]:
        """Chat messages through the template (or a plain transcript): the template's own special tokens are
        tokens, the messages' contents are text (with `specials`, their special-token strings are tokens
        too). Contents with no special-token string in them are encoded with the template in one piece,
        exactly as the tokenizer would; the others piece by piece."""
        text, bos = self.render_messages(messages)
        ids: list[int] = []
        if not self.has_chat_template:
            ids = self._ids(text, specials=specials)
        elif specials or not any(s in m["content"] for m in messages for s in self._specials()):
            ids = self._ids(text, specials=True)
        else:
            marked = [{**m, "content": f"\ue000{i}\ue001"} for i, m in enumerate(messages)]
            template, _ = self.render_messages(marked)
            for i, part in enumerate(re.split("\ue000(\\d+)\ue001", template)):
                ids += self._ids(messages[int(part)]["content"], False) if i % 2 else self._ids(part, True)
        return [self.bos_id] + ids if bos and add_bos and self.bos_id is not None else ids

    def _specials(self) -> list[str]:
        return [s for s in self.tok.all_special_tokens if s]

    def decode(self, ids: list[int]) -> str:
        """The tokenizer's decode (special tokens kept, no clean-up). A fast tokenizer's is its Rust
        backend's decode behind a Python wrapper that costs more than the decode itself (a two-token window
        of the house tokenizer: 5.7 against 1.1 us); every generated token is decoded twice (rows.py), so the
        backend is called straight where the wrapper adds nothing."""
        if self._backend is not None:
            return self._backend.decode(ids, skip_special_tokens=False)
        return self.tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def piece(self, token_id: int) -> str:
        """The text one token adds on its own (what legacy `logprobs.tokens` shows)."""
        return self.decode([token_id])

    def check_ids(self, ids: list, param: str) -> list[int]:
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ApiError(400, "token ids must be integers", param)
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ApiError(
                422, f"token ids {bad[:5]} are outside the vocabulary [0, {self.vocab_size})", param
            )
        return ids

    def render_messages(self, messages: list[dict]) -> tuple[str, bool]:
        """Chat messages to prompt text; returns (text, whether BOS must still be added)."""
        if self.has_chat_template:
            text = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            bos = self.tok.bos_token
            return text, not (bos and text.startswith(bos))
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nassistant:", True

    def info(self, max_context: int) -> dict:
        return {
            "bos_token_id": self.bos_id,
            "eos_token_id": self.eos_id,
            "bos_token": self.tok.bos_token,
            "eos_token": self.tok.eos_token,
            "pad_token_id": self.pad_id,
            "pad_token": self.tok.convert_ids_to_tokens(self.pad_id) if self.pad_id is not None else None,
            "vocab_size": self.vocab_size,
            "max_context": max_context,
            "chat_template": self.has_chat_template,
        }


def _rust_decoder(tokenizer):
    """The `tokenizers.Tokenizer` behind a fast tokenizer whose decode is the stock one (the backend's
    decode, then an optional clean-up we turn off), or None (a slow or customised tokenizer: its own
    decode is used)."""
    try:
        from tokenizers import Tokenizer
        from transformers.tokenization_utils_base import PreTrainedTokenizerBase
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:
        return None
    cls = type(tokenizer)
    backend = getattr(tokenizer, "_tokenizer", None)
    stock = (
        isinstance(tokenizer, TokenizersBackend)
        and cls._decode is TokenizersBackend._decode
        and cls.decode is PreTrainedTokenizerBase.decode
    )
    return backend if stock and isinstance(backend, Tokenizer) else None
