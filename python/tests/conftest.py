"""Shared helpers: the `vramfit` command line to compare with, and the repository's data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "crates" / "vramfit-core" / "data" / "configs"
IO_DATA = ROOT / "crates" / "vramfit-io" / "tests" / "data"


def cli_command() -> List[str]:
    """The CLI binary cargo built (VRAMFIT_BIN, else target/debug/vramfit), else the
    package's own `python -m vramfit`."""
    explicit = os.environ.get("VRAMFIT_BIN")
    if explicit:
        return [explicit]
    built = ROOT / "target" / "debug" / "vramfit"
    if built.exists():
        return [str(built)]
    return [sys.executable, "-m", "vramfit"]


def run_cli(args: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run(cli_command() + args, capture_output=True, text=True, env=env, timeout=120)


def cli_json(args: List[str], env: Optional[Dict[str, str]] = None) -> Any:
    p = run_cli(args + ["--json"], env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def cli_error(args: List[str], env: Optional[Dict[str, str]] = None) -> str:
    """The one line the CLI prints for bad input (exit 2), without `error: `."""
    p = run_cli(args, env)
    assert p.returncode == 2, (p.stdout, p.stderr)
    line = p.stderr.strip()
    assert line.startswith("error: "), line
    return line[len("error: ") :]


@pytest.fixture
def llama_7b_config() -> Dict[str, Any]:
    return json.loads((CONFIGS / "huggyllama__llama-7b.json").read_text())
