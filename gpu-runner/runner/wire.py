"""The runner's wire contract: every request body, its caps and its error statuses, once, as pydantic models.

The server parses each body with `parse` (a ValidationError becomes an ApiError naming the field), the
Runner's methods take these models, and API.md's request tables are generated from their JSON Schema
(runner/apidoc.py). The gateway's copy of the contract is src/runner/wire.ts (zod); tests/test_contract.py and
test/contract.test.ts run one corpus of requests (tests/contract/requests.json) through both, and the fake
runner, and expect the same statuses and error types.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import ApiError

# Caps of the contract (src/runner/wire.ts holds the same numbers; the contract test proves they agree).
MAX_ROWS = 32  # rows per /v1/generate or /v1/score call
MAX_STOP = 8  # stop strings per row
MAX_TOP_LOGPROBS = 20  # alternatives per token
MAX_K = 64  # top-k massive rows for /v1/massive and the built-in variants
MAX_TEMPERATURE = 2.0
MAX_SEED = 2**53 - 1  # the largest integer a JavaScript client sends exactly
MAX_NAME = 64  # characters of a variant or adapter name
MAX_DESCRIPTION = 500

# How a broken rule maps to a status: wrong shape 400, wrong value 422, too much 413 (src/runner/wire.ts
# maps zod's issues by the same table).
_STATUS_BY_KIND = {"shape": 400, "value": 422, "size": 413}
_KIND_BY_ERROR = {
    "greater_than": "value",
    "greater_than_equal": "value",
    "less_than": "value",
    "less_than_equal": "value",
    "literal_error": "value",
    "finite_number": "value",
    "subnormal_number": "value",
    "too_long": "size",
    "string_too_long": "size",
}


class Wire(BaseModel):
    # strict: "5" is not 5 and 1.5 is not an int; unknown fields are ignored (clients add their own).
    # NaN and +-Infinity (which Python's json reads) are values out of range: 422, never a sampler's crash.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, allow_inf_nan=False)


SMALLEST_NORMAL = 2.2250738585072014e-308  # float64's; below it (but not 0) a number is subnormal


def _normal(v: float) -> float:
    """Subnormal numbers (5e-324) are refused: no client means them, and dividing by one overflows."""
    if v != 0 and abs(v) < SMALLEST_NORMAL:
        raise PydanticCustomError("subnormal_number", "must be 0 or at least 2.2250738585072014e-308")
    return v


def number(lo: float, hi: float):
    """A float in [lo, hi], finite and not subnormal."""
    return Annotated[float, Field(ge=lo, le=hi), AfterValidator(_normal)]


Variant = Annotated[str, Field(min_length=1, description="a variant name; compose with '+'")]
TokenId = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]
# Opt-in, off by default: user text is text ("<|eos|>" is nine characters); true parses special-token
# strings in this row's text as the control tokens they name (what a raw-prompt experiment may want).
SpecialTokens = Annotated[
    bool, Field(description="true: special-token strings in the text become control tokens (default: text)")
]


class Message(Wire):
    role: str
    content: str


class GenerateRow(Wire):
    variant: Variant = "base"
    prompt: str | list[TokenId] | None = Field(None, description="text, or token ids; or give messages")
    messages: Annotated[list[Message], Field(min_length=1)] | None = Field(
        None, description="[{role, content}] through the chat template (a transcript without one)"
    )
    max_tokens: Annotated[int, Field(ge=1)] = Field(64, description="at most the runner's --max-tokens")
    temperature: number(0, MAX_TEMPERATURE) = Field(0.0, description="0 is greedy")
    top_p: number(0, 1) = 1.0
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = Field(None, description="same seed, same text")
    stop: Text | Annotated[list[Text], Field(max_length=MAX_STOP)] | None = None
    add_bos: bool | None = Field(None, description="default: true for text, false for token ids")
    logprobs: Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS)] | None = Field(
        None, description="absent: none; n: the chosen token's and n alternatives"
    )
    parse_special_tokens: SpecialTokens = False
    ignore_eos: bool = Field(
        False, description="go on past EOS until max_tokens or a stop string (as vLLM's)"
    )

    @model_validator(mode="after")
    def _one_input(self):
        if (self.prompt is None) == (self.messages is None):
            raise PydanticCustomError("one_of", "give exactly one of 'prompt' or 'messages'")
        return self

    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())


class GenerateRequest(Wire):
    requests: Annotated[list[GenerateRow], Field(min_length=1, max_length=MAX_ROWS)]
    stream: bool = False


class LoglikelihoodRow(Wire):
    variant: Variant = "base"
    context: str
    continuation: str
    parse_special_tokens: SpecialTokens = False


class RollingRow(Wire):
    variant: Variant = "base"
    text: str
    parse_special_tokens: SpecialTokens = False


class EchoRow(Wire):
    variant: Variant = "base"
    prompt: str | list[TokenId]
    top_logprobs: Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS)] = 0
    add_bos: bool | None = None
    parse_special_tokens: SpecialTokens = False


def _rows(row):
    return Annotated[list[row], Field(min_length=1, max_length=MAX_ROWS)] | None


class ScoreRequest(Wire):
    requests: _rows(LoglikelihoodRow) = Field(None, description="lm-evaluation-harness loglikelihood")
    rolling: _rows(RollingRow) = Field(None, description="total log-likelihood, for perplexity")
    echo: _rows(EchoRow) = Field(None, description="each prompt token's log-probability (OpenAI echo)")

    @model_validator(mode="after")
    def _one_list(self):
        if sum(x is not None for x in (self.requests, self.rolling, self.echo)) != 1:
            raise PydanticCustomError("one_of", "give exactly one of 'requests', 'rolling' or 'echo'")
        return self


class TokenizeRequest(Wire):
    text: str
    add_bos: bool = True
    parse_special_tokens: SpecialTokens = False


class DetokenizeRequest(Wire):
    tokens: list[TokenId]


def _digits(v):
    """A query string's number: digits only ("5", not "5.0", "+5" or " 5"), as the gateway checks it."""
    if isinstance(v, str):
        if not re.fullmatch(r"[0-9]+", v):
            raise PydanticCustomError("int_parsing", "must be a whole number")
        return int(v) if len(v) <= 18 else 10**18  # past any cap, and past int()'s 4,300 digits
    return v


class MassiveQuery(Wire):
    prompt: str | None = Field(None, description="default: a stock English sentence")
    k: Annotated[int, Field(ge=1, le=MAX_K), BeforeValidator(_digits)] | None = Field(
        None, description="default: --k"
    )
    variant: Variant | None = Field(None, description="analyse this variant (default base)")


class FfnMaskSpec(Wire):
    layer: Annotated[int, Field(ge=0)]
    indices: list[Annotated[int, Field(ge=0)]]
    mode: Literal["zero", "retain"] = "zero"


class VariantSpec(Wire):
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    adapter: Annotated[str, Field(min_length=1, max_length=MAX_NAME)] | None = Field(
        None, description="the adapter folder's name in --adapters"
    )
    ffn_mask: FfnMaskSpec | None = None
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""


# The request bodies by route, for API.md and the JSON Schema (`python -m runner schema`).
REQUESTS: dict[str, type[Wire]] = {
    "POST /v1/generate": GenerateRequest,
    "POST /v1/score": ScoreRequest,
    "POST /v1/tokenize": TokenizeRequest,
    "POST /v1/detokenize": DetokenizeRequest,
    "GET /v1/massive": MassiveQuery,
    "POST /v1/variants": VariantSpec,
}

M = TypeVar("M", bound=Wire)


def parse(model: type[M], data) -> M:
    """`data` (parsed JSON, or raw bytes) as `model`; the first broken rule becomes an ApiError."""
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data or b"null", parse_constant=_not_json)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, f"body is not valid JSON: {e}") from e
        except RecursionError:
            raise ApiError(400, "body is nested too deep; no request needs more than a few levels") from None
        except ValueError as e:  # an integer past Python's 4,300 digits
            raise ApiError(400, f"body has a number too long to read: {str(e)[:120]}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    _well_formed(data)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise to_api_error(e) from None


def _well_formed(data: dict) -> None:
    """JSON's \\ud800 escape reads as a lone surrogate, which no tokenizer can encode: refuse it here."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, "a string holds a lone UTF-16 surrogate (like \\ud800); send valid Unicode"
        ) from None


def _not_json(name: str):
    """Python's json reads NaN and Infinity; JSON has no such words (and JavaScript's JSON.parse refuses them)."""
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def to_api_error(e: ValidationError) -> ApiError:
    # A union reports one error per member: the deepest one, else one that is not a type mismatch, is about
    # the member the value was meant for.
    err = max(e.errors(include_url=False), key=lambda x: (len(x["loc"]), not x["type"].endswith("_type")))
    param = _param(err["loc"])
    status = _STATUS_BY_KIND[_KIND_BY_ERROR.get(err["type"], "shape")]
    where = f"{param}: " if param else ""
    got = "" if err["type"] in ("missing", "one_of") else f", got {json.dumps(err.get('input'))[:80]}"
    return ApiError(status, f"{where}{err['msg']}{got}", param or None)


def _param(loc) -> str:
    """("requests", 0, "str", "max_tokens") -> "requests[0].max_tokens" (union member tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier() and part not in ("str", "int", "float", "bool", "list", "dict"):
            out += f".{part}" if out else part
    return out
