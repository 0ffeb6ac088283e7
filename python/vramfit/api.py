"""The functions: estimate, fit, limits, sweep, check, and the catalogs. Each builds the
core's request (``request.build``) and runs it in Rust, the same code as the CLI."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

from . import _native
from ._call import answer
from ._html import gib, signed_gib
from .errors import DoesNotFit, InputError
from .fit import Limits, Plans
from .request import build, dumps
from .result import Result
from .sweep import Sweep


def estimate(
    model: Any, *, gpu: Optional[str] = None, revision: Optional[str] = None, training_args: Any = None, **workload: Any
) -> Result:
    """Peak memory of ``model`` under the workload, as ``vramfit estimate --json``."""
    req, _ = build(model, gpu, training_args, workload)
    return Result(answer(_native.estimate(dumps(req), revision)))


def fit(
    model: Any,
    *,
    gpu: str,
    revision: Optional[str] = None,
    training_args: Any = None,
    all: bool = False,
    **workload: Any,
) -> Plans:
    """Ranked plans that make the workload fit ``gpu``, as ``vramfit fit --json``: empty when
    it fits as asked (``all=True`` lists what buys headroom even then)."""
    req, _ = build(model, gpu, training_args, workload)
    return Plans(answer(_native.fit(dumps(req), revision, all)))


def limits(
    model: Any, *, gpu: str, revision: Optional[str] = None, training_args: Any = None, **workload: Any
) -> Limits:
    """The largest batch, the longest context, and the smallest catalog GPUs for the workload
    on ``gpu`` (the ``limits`` of ``vramfit fit --json``)."""
    return fit(model, gpu=gpu, revision=revision, training_args=training_args, **workload).limits


def sweep(
    model: Any,
    *,
    over: str,
    values: Optional[Sequence[int]] = None,
    gpu: Optional[str] = None,
    revision: Optional[str] = None,
    training_args: Any = None,
    **workload: Any,
) -> Sweep:
    """The workload over ``over`` (``batch``, ``seq``, ``context``) at ``values`` (default:
    powers of two, with a GPU until past its memory), as ``vramfit sweep --json``."""
    req, _ = build(model, gpu, training_args, workload)
    vals = [int(v) for v in values] if values is not None else []
    if any(v < 0 for v in vals):
        raise InputError("--values: values must be positive")
    return Sweep(answer(_native.sweep(dumps(req), over, vals, revision)))


def check(
    model: Any, *, gpu: str, revision: Optional[str] = None, training_args: Any = None, **workload: Any
) -> Result:
    """A pre-flight check: the estimate when the workload fits ``gpu`` (headroom kept, as
    ``fit``), else raises :class:`DoesNotFit` with the breakdown and the ranked plans."""
    if not isinstance(gpu, str) or not gpu:
        raise InputError("--gpu: check needs GPUs: add one (T4, 2xA100-80GB, 24GiB)")
    req, settings = build(model, gpu, training_args, workload)
    result = Result(answer(_native.estimate(dumps(req), revision)))
    if result.fits:
        return result
    # The plans start from what was estimated: estimate and fit resolve the defaults alike.
    plans = Plans(answer(_native.fit(dumps(req), revision, False)))
    best = plans[0] if plans else None
    advice = (
        f"best plan: {best.flags} ({gib(best.per_gpu_bytes)} per GPU, {signed_gib(best.headroom_bytes)} headroom)"
        if best
        else "no plan fits these GPUs"
    )
    raise DoesNotFit(f"{result.verdict()}; {advice}", result, plans)


def _cli_json(argv: List[str]) -> Any:
    code, out, err = _native.cli_output(argv)
    if code != 0:
        raise InputError(err.strip().removeprefix("error: "))
    return json.loads(out)


def models() -> List[Dict[str, Any]]:
    """The built-in model catalog, as ``vramfit models --json``."""
    return list(_cli_json(["models", "--json"]))


def gpus() -> List[Dict[str, Any]]:
    """The built-in GPU catalog, as ``vramfit gpus --json``."""
    return list(_cli_json(["gpus", "--json"]))
