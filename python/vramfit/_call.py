"""Calls into the Rust extension: JSON in, JSON out, errors raised as Python exceptions."""

from __future__ import annotations

import json
from typing import Any, Callable

from . import _native
from .errors import HubError, InputError


def answer(text: str) -> Any:
    """The ``ok`` value of a native answer, or the error it carries raised."""
    v = json.loads(text)
    if "ok" in v:
        return v["ok"]
    err = v["error"]
    cls = HubError if err["kind"] == "hub" else InputError
    raise cls(err["message"])


def call(f: Callable[..., str], *args: Any, **kwargs: Any) -> Any:
    return answer(f(*args, **kwargs))
