"""The README's Python example runs and says what it claims."""

from __future__ import annotations

import re

import pytest
import vramfit
from conftest import ROOT


def test_readme_example():
    text = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", text, re.S)
    lines = block.strip().splitlines()
    assert len(lines) == 6
    env = {}
    exec("\n".join(lines[:-1]), env)  # noqa: S102 (the README's own code)
    assert env["plans"][0].flags == "--dtype fp16"
    assert env["r"].fits is True
    assert env["r"].speed["train_tokens_per_s"] > 0 and env["r"].speed["error_band"]
    with pytest.raises(vramfit.DoesNotFit):
        exec(lines[-1], env)  # noqa: S102
