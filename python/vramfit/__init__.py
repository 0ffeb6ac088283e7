"""vramfit: how much GPU memory running or fine-tuning an LLM takes, whether it fits, and
what to change so that it does — the Rust core of the ``vramfit`` command line, in Python.

    >>> import vramfit
    >>> r = vramfit.estimate("llama-7b", gpu="T4", task="train", method="qlora", grad_ckpt=True)
    >>> r.total_bytes, r.fits, r["weights"].bytes
    >>> vramfit.fit("llama-7b", gpu="T4", dtype="fp32")[0].flags
    '--dtype fp16'

MODEL is a catalog name, a Hugging Face repo id (read header-only; HF_TOKEN, HF_HOME,
HF_HUB_OFFLINE as huggingface_hub), a local directory or file (config.json, .safetensors,
.gguf), a ``dict`` config, or a transformers config (anything with ``to_dict()``). Every
workload setting is a keyword named like its CLI flag in snake_case.
"""

from typing import Optional, Sequence

from ._native import __version__
from .api import check, estimate, fit, gpus, limits, models, sweep
from .errors import DoesNotFit, HubError, InputError, VramfitError
from .fit import Limits, Plan, Plans
from .result import Component, Result
from .sweep import Point, Sweep


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line (``python -m vramfit ...``); returns the exit code."""
    import sys

    from . import _native

    sys.stdout.flush()
    sys.stderr.flush()
    return _native.main(list(sys.argv[1:] if argv is None else argv))


__all__ = [
    "__version__",
    "check",
    "estimate",
    "fit",
    "gpus",
    "limits",
    "main",
    "models",
    "sweep",
    "Component",
    "DoesNotFit",
    "HubError",
    "InputError",
    "Limits",
    "Plan",
    "Plans",
    "Point",
    "Result",
    "Sweep",
    "VramfitError",
]
