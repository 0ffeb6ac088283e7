"""Errors: Python exceptions carrying the CLI's one-line messages; never a crash."""

from __future__ import annotations

import pytest
import vramfit
from conftest import cli_error


@pytest.mark.parametrize(
    "kwargs,argv",
    [
        (dict(model="llama-7b", batch=0), ["llama-7b", "--batch", "0"]),
        (dict(model="llama-7b", gpu="T4", dtype="bf16"), ["llama-7b", "--gpu", "T4", "--dtype", "bf16"]),
        (dict(model="llama-7b", gpu="A100"), ["llama-7b", "--gpu", "A100"]),
        (dict(model="llama-7b", task="fly"), ["llama-7b", "--task", "fly"]),
        (dict(model="lama-7b"), ["lama-7b"]),
        (dict(model="./no/such/config.json"), ["./no/such/config.json"]),
        (dict(model="llama-7b", zero=3, fsdp="full", task="train"),
         ["llama-7b", "--zero", "3", "--fsdp", "full", "--task", "train"]),
    ],
)
def test_input_errors_are_the_cli_line(kwargs, argv):
    kwargs = dict(kwargs)
    model = kwargs.pop("model")
    with pytest.raises(vramfit.InputError) as e:
        vramfit.estimate(model, **kwargs)
    assert str(e.value) == cli_error(["estimate"] + argv)
    assert isinstance(e.value, ValueError) and isinstance(e.value, vramfit.VramfitError)


def test_revision_applies_to_hub_ids_only():
    with pytest.raises(vramfit.InputError) as e:
        vramfit.estimate("llama-7b", revision="main")
    assert str(e.value) == cli_error(["estimate", "llama-7b", "--revision", "main"])


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'lora_rnak'"):
        vramfit.estimate("llama-7b", lora_rnak=8)


def test_wrong_types_are_input_errors():
    with pytest.raises(vramfit.InputError, match="^request: "):
        vramfit.estimate("llama-7b", batch="four")
    with pytest.raises(vramfit.InputError, match="^request: "):
        vramfit.estimate("llama-7b", batch=-1)
    with pytest.raises(vramfit.InputError, match="^model: "):
        vramfit.estimate(42)
    with pytest.raises(vramfit.InputError):
        vramfit.estimate({"model_type": "llama"})
    with pytest.raises(vramfit.InputError, match="^--values"):
        vramfit.sweep("llama-7b", over="batch", values=[0])
    with pytest.raises(vramfit.InputError, match="^--gpu"):
        vramfit.fit("llama-7b", gpu=None)  # type: ignore[arg-type]


def test_check_passes_or_raises_does_not_fit_with_the_breakdown_and_plans():
    r = vramfit.check("llama-7b", gpu="A100-80GB")
    assert r.fits is True
    with pytest.raises(vramfit.DoesNotFit) as e:
        vramfit.check("llama-2-13b", gpu="T4")
    err = e.value
    assert err.result.fits is False and err.result["weights"].bytes > 0
    assert err.best_plan is err.plans[0]
    assert err.best_plan.fits and err.best_plan.per_gpu_bytes < err.result.gpu["usable_bytes"]
    # The plans start from what was estimated (the checkpoint's fp16), not fit's fp32.
    assert err.plans.as_asked["per_gpu_bytes"] == err.result.per_gpu_bytes
    assert str(err).startswith(err.result.verdict() + "; best plan: " + err.best_plan.flags)
    with pytest.raises(vramfit.InputError, match="^--gpu"):
        vramfit.check("llama-7b", gpu="")


def test_nothing_crashes_on_odd_input():
    for kwargs in (dict(seq=2**62, task="train"), dict(batch=2**63 - 1), dict(lora_targets=["", "x"], task="train",
                                                                              method="lora"),
                   dict(runtime="llama.cpp"), dict(prompt=0)):
        try:
            vramfit.estimate("llama-7b", **kwargs)
        except vramfit.InputError as e:
            assert "\n" not in str(e)
