"""Request bodies to typed values: every bad field becomes an ApiError naming the field and the fix."""

from __future__ import annotations

from .errors import ApiError

_MISSING = object()


def obj(body, param: str = "body") -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, f"{param} must be a JSON object", param)
    return body


def rows_list(body: dict, key: str, max_rows: int) -> list[dict]:
    rows = body.get(key)
    if not isinstance(rows, list) or not rows:
        raise ApiError(400, f"'{key}' must be a non-empty list of objects", key)
    if len(rows) > max_rows:
        raise ApiError(413, f"'{key}' has {len(rows)} rows; at most {max_rows} per call", key)
    return [obj(r, f"{key}[{i}]") for i, r in enumerate(rows)]


def number(d: dict, key: str, param: str, default=_MISSING, lo=None, hi=None, integer=False):
    v = d.get(key, default)
    if v is _MISSING:
        raise ApiError(400, f"{param} is required", param)
    if v is None and default is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int if integer else (int, float)):
        raise ApiError(400, f"{param} must be {'an integer' if integer else 'a number'}", param)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ApiError(422, f"{param} must be in [{lo}, {hi}], got {v}", param)
    return v


def string(d: dict, key: str, param: str, default=_MISSING, max_len: int = 1 << 20) -> str:
    v = d.get(key, default)
    if v is _MISSING:
        raise ApiError(400, f"{param} is required", param)
    if not isinstance(v, str):
        raise ApiError(400, f"{param} must be a string", param)
    if len(v) > max_len:
        raise ApiError(413, f"{param} has {len(v)} characters; at most {max_len}", param)
    return v


def boolean(d: dict, key: str, param: str, default: bool) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise ApiError(400, f"{param} must be true or false", param)
    return v


def stops(d: dict, param: str) -> tuple[str, ...]:
    v = d.get("stop")
    if v is None:
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v) or len(v) > 8:
        raise ApiError(
            400, f"{param} must be a non-empty string or a list of at most 8 non-empty strings", param
        )
    return tuple(v)


def messages(v, param: str) -> list[dict]:
    if not isinstance(v, list) or not v:
        raise ApiError(400, f"{param} must be a non-empty list of {{role, content}}", param)
    out = []
    for i, m in enumerate(v):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise ApiError(
                400, f"{param}[{i}] must be an object with string 'role' and 'content'", f"{param}[{i}]"
            )
        out.append({"role": m["role"], "content": m["content"]})
    return out
