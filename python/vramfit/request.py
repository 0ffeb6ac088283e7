"""Python arguments to the core's request (the JSON the web page sends and the CLI's flags
fill): ``{"model", "config", "origin", "gpu", "workload": {flag-name: value}}``.

Every workload setting is a keyword argument named like its CLI flag in snake_case
(``--lora-rank`` is ``lora_rank``); the list and the defaults come from the Rust core, so a
new flag is a new keyword with no change here. Besides plain values:

- ``model`` may be a ``dict`` config, or any object with ``to_dict()`` (a
  ``transformers.PretrainedConfig``);
- ``method`` may be a PEFT config, read by its attributes (``peft.LoraConfig``: ``r``,
  ``target_modules``, ``lora_dropout``, ``use_dora``; ``IA3Config``, ``PromptTuningConfig``,
  ``PrefixTuningConfig``);
- ``training_args`` may be a ``transformers.TrainingArguments`` (or trl's ``SFTConfig``).

Nothing here imports torch, transformers or peft: the objects are duck typed.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from . import _native
from ._call import answer
from .errors import InputError

#: Keyword aliases: the CLI's visible flag aliases, and the long name of ``new``.
ALIASES = {"ctx_size": "kv_prealloc", "max_seq_len": "kv_prealloc", "n_gpu_layers": "ngl", "new_tokens": "new"}


@lru_cache(maxsize=None)
def workload_defaults() -> Dict[str, Any]:
    """The workload settings and their defaults, keyed by keyword (snake_case)."""
    return {k.replace("-", "_"): v for k, v in answer(_native.workload_defaults()).items()}


def _flag(key: str) -> str:
    return key.replace("_", "-")


def _enum_text(v: Any) -> str:
    """An enum's value (transformers' ``OptimizerNames``, peft's ``PeftType``) or the text."""
    return str(getattr(v, "value", v))


# --------------------------------------------------------------------------------------------
# The model


def _dtype_text(v: Any) -> Any:
    """``torch.bfloat16`` (a torch dtype object, or its str) as config.json writes it."""
    if v is None or isinstance(v, (int, float, bool)):
        return v
    s = str(v)
    return s[len("torch.") :] if s.startswith("torch.") else s


def _config_text(d: Dict[str, Any]) -> str:
    d = dict(d)
    for key in ("torch_dtype", "dtype"):
        if key in d:
            d[key] = _dtype_text(d[key])
    return json.dumps(d, default=str)


def model_fields(model: Any) -> Dict[str, Any]:
    """The request's ``model`` (and ``config``, ``origin``) for MODEL as given."""
    if isinstance(model, str):
        return {"model": model}
    if isinstance(model, os.PathLike):
        return {"model": os.fspath(model)}
    if isinstance(model, dict):
        d = model
        origin = "dict"
    elif callable(getattr(model, "to_dict", None)):
        d = model.to_dict()
        if not isinstance(d, dict):
            raise InputError(f"model: {type(model).__name__}.to_dict() did not return a dict")
        origin = f"{type(model).__name__}.to_dict()"
    else:
        raise InputError(
            f"model: expected a catalog name, Hub id, path, dict or config with to_dict(), "
            f"not {type(model).__name__}"
        )
    name = d.get("_name_or_path") or d.get("name_or_path") or d.get("model_type") or "config"
    return {"model": str(name), "config": _config_text(d), "origin": origin}


# --------------------------------------------------------------------------------------------
# PEFT and TrainingArguments


def _targets(v: Any) -> Optional[List[str]]:
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    return sorted(str(t) for t in v)


def peft_settings(cfg: Any, quant: Optional[str]) -> Dict[str, Any]:
    """The workload settings a PEFT config stands for (a LoRA config on 4-bit weights is
    QLoRA: PEFT's recipe prepares the quantized model as the ``qlora`` method models)."""
    kind = getattr(cfg, "peft_type", None)
    kind = _enum_text(kind).upper().replace("-", "_") if kind is not None else None
    out: Dict[str, Any] = {}
    if kind in (None, "LORA", "LOHA", "LOKR", "VERA") and hasattr(cfg, "r"):
        four_bit = quant is not None and quant.lower().replace("_", "-").split("-")[0] in ("nf4", "fp4")
        if getattr(cfg, "use_dora", False):
            out["method"] = "dora"
        elif kind in (None, "LORA"):
            out["method"] = "qlora" if four_bit else "lora"
        else:
            out["method"] = kind.lower()
        out["lora_rank"] = int(cfg.r)
        targets = _targets(getattr(cfg, "target_modules", None))
        if targets:
            out["lora_targets"] = targets
        dropout = getattr(cfg, "lora_dropout", None)
        if dropout is not None:
            out["lora_dropout"] = float(dropout)
        # lora_alpha scales the update; it changes no tensor's size, so no setting reads it.
    elif kind == "IA3":
        out["method"] = "ia3"
        targets = _targets(getattr(cfg, "target_modules", None))
        if targets:
            out["lora_targets"] = targets
    elif kind in ("PROMPT_TUNING", "PREFIX_TUNING"):
        out["method"] = "prompt-tuning" if kind == "PROMPT_TUNING" else "prefix-tuning"
        n = getattr(cfg, "num_virtual_tokens", None)
        if n is not None:
            out["virtual_tokens"] = int(n)
    else:
        raise InputError(
            f"--method: PEFT config {type(cfg).__name__} ({kind}) is not modelled; "
            "use LoRA, DoRA, IA3, prompt or prefix tuning"
        )
    return out


#: transformers' ``optim`` names that the core spells differently.
_OPTIM = {"adamw_apex_fused": "adamw-fused", "lion_32bit": "lion", "paged_lion_32bit": "lion"}

_FSDP = {"full_shard": "full", "shard_grad_op": "grad-op", "hybrid_shard": "hybrid"}


def training_args_settings(args: Any) -> Dict[str, Any]:
    """The workload settings a ``TrainingArguments`` (or trl ``SFTConfig``) stands for."""
    out: Dict[str, Any] = {"task": "train"}
    batch = getattr(args, "per_device_train_batch_size", None)
    if batch is not None:
        out["batch"] = int(batch)
    accum = getattr(args, "gradient_accumulation_steps", None)
    if accum is not None:
        out["grad_accum"] = int(accum)
    # bf16=True / fp16=True: the Trainer runs the step under autocast (mixed precision).
    if getattr(args, "bf16", False):
        out["precision"] = "mixed-bf16"
    elif getattr(args, "fp16", False):
        out["precision"] = "mixed-fp16"
    optim = getattr(args, "optim", None)
    if optim is not None:
        name = _enum_text(optim)
        out["optimizer"] = _OPTIM.get(name, name)
    # transformers 5 renames gradient_checkpointing to activation_checkpointing.
    if getattr(args, "gradient_checkpointing", False) or getattr(args, "activation_checkpointing", False):
        out["grad_ckpt"] = True
    if getattr(args, "torch_compile", False):
        out["compile"] = True
    # trl's SFTConfig: tokens per sample.
    for key in ("max_length", "max_seq_length"):
        seq = getattr(args, key, None)
        if isinstance(seq, int) and seq > 0:
            out["seq"] = seq
            break
    fsdp = getattr(args, "fsdp", None)
    options = fsdp.split() if isinstance(fsdp, str) else [_enum_text(o) for o in (fsdp or [])]
    for o in options:
        if o in _FSDP:
            out["fsdp"] = _FSDP[o]
    return out


# --------------------------------------------------------------------------------------------
# The whole request


def build(
    model: Any,
    gpu: Optional[str],
    training_args: Any,
    workload: Dict[str, Any],
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The core request for ``model`` on ``gpu`` with the keyword arguments ``workload``;
    returns it and the workload settings as keywords (for re-running with changes)."""
    defaults = workload_defaults()
    given: Dict[str, Any] = {}
    for key, value in workload.items():
        key = ALIASES.get(key, key)
        if key not in defaults:
            raise TypeError(f"unexpected keyword argument {key!r}; the workload settings are: {', '.join(defaults)}")
        given[key] = value
    settings: Dict[str, Any] = {}
    if training_args is not None:
        settings.update(training_args_settings(training_args))
    method = given.get("method")
    if method is not None and not isinstance(method, str):
        settings.update(peft_settings(method, given.get("quant")))
        del given["method"]
    settings.update({k: v for k, v in given.items() if v is not None or defaults[k] is None})
    if isinstance(settings.get("lora_targets"), str):
        settings["lora_targets"] = [t.strip() for t in settings["lora_targets"].split(",") if t.strip()]
    if gpu is not None and not isinstance(gpu, str):
        raise InputError(f"--gpu: expected a GPU name or size like 'T4', '2xA100-80GB', '24GiB', not {gpu!r}")
    req: Dict[str, Any] = model_fields(model)
    if gpu is not None:
        req["gpu"] = gpu
    req["workload"] = {_flag(k): v for k, v in settings.items()}
    return req, settings


def dumps(req: Dict[str, Any]) -> str:
    try:
        return json.dumps(req)
    except (TypeError, ValueError) as e:
        raise InputError(f"request: {e}") from None
