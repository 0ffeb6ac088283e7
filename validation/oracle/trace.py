#!/usr/bin/env python
"""vramfit oracle: the peak of live PyTorch tensor bytes for one LLM case, without a GPU.

What it does
------------
The real Hugging Face transformers / PEFT / torch.optim code runs on *fake* tensors
(``FakeTensorMode``: shapes, dtypes and strides, no data), built from a ``config.json``
alone (no weights, no Hub).  A ``TorchDispatchMode`` sees every aten op's outputs and
registers each output's storage once, with its byte size; a ``weakref.finalize`` on the
storage object subtracts it again when the storage dies.  The running sum is the live
tensor bytes, i.e. what ``torch.cuda.memory_allocated()`` counts, and its maximum is the
analogue of ``torch.cuda.max_memory_allocated()``.  Every allocation is also rounded up to
512 B as the CUDA caching allocator does; that rounded peak is the reported value.

Fake tensors live on device "cpu" (fake "cuda" tensors cannot run backward without a GPU),
so what CUDA would do differently is emulated:

* SDPA backend: ``F.scaled_dot_product_attention`` is routed to the kernel an sm80 GPU
  (A100) would select: flash (fp16/bf16, no mask, head_dim <= 256, GQA allowed, causal only
  with equal q/k lengths) > memory-efficient (fp16/bf16/fp32, masks allowed, head_dim a
  multiple of 8 (half) or 4 (fp32), no GQA) > math.  Flash and memory-efficient are run as
  the CUDA ops themselves (``aten._scaled_dot_product_flash_attention`` /
  ``_efficient_attention``), whose meta kernels give exactly the tensors CUDA returns and
  saves for backward (output + fp32 logsumexp).  Real-tensor runs (tests) use the CPU
  flash kernel instead, which saves the same output + logsumexp.
* autocast: ``torch.autocast("cpu", bf16)`` has CUDA's lower-precision list for
  linear/matmul/bmm/baddbmm/addmm/einsum/sdpa, but not CUDA's fp32 list.  ``CudaAutocast``
  adds it: layer_norm, exp, log, pow, rsqrt, softplus ... run in fp32, and softmax /
  log_softmax / sum / cumsum / prod get dtype=float32, as CUDA autocast does.
* AdamW / SGD are created with ``foreach=True`` (the CUDA default; CPU defaults to the
  per-tensor loop).
* dropout: training-mode ``F.dropout`` / ``torch.dropout`` run as the fused
  ``aten.native_dropout`` that CUDA uses (autograd saves a bool mask, not a noise tensor of
  the input's dtype as the CPU path does), see ``DropoutAsCuda``.
* fp16 softmax to fp32: ``softmax(x, dtype=float32)`` on fp16 runs CUDA's fused
  ``_softmax(half_to_float=True)`` instead of the CPU's fp32 copy of ``x`` first (transformers'
  eager attention in fp16), see ``SoftmaxAsCuda``; bf16 is copied on CUDA too.
* 0-dim tensors made from Python scalars (``torch.tensor(x)``, e.g. the optimizers'
  ``state["step"]``) live on the CPU in a real CUDA run; they are not counted.

Use: ``python trace.py --spec '{"config": "configs/x.json", "task": "train", ...}'``
(see ``Spec`` below), prints one JSON result line.  ``sweep.py`` runs many of these, one
fresh process each (the transformers patches are global).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import re
import sys
import time
import weakref

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
ROUND = 512  # CUDA caching allocator: every block is a multiple of 512 B (min 512)


def round512(n: int) -> int:
    return 0 if n == 0 else ((n + ROUND - 1) // ROUND) * ROUND


# ------------------------------------------------------------------------------------------
# Live-storage tracker
# ------------------------------------------------------------------------------------------
_SCALAR_CTORS = {"lift_fresh", "lift_fresh_copy", "scalar_tensor"}


class MemTracker(TorchDispatchMode):
    """Counts the bytes of live tensor storages created under it.

    ``phase`` names what is running (load, fwd1, bwd1, opt1 ...); every storage is tagged
    with the phase that created it, so the live bytes at the peak can be broken down by
    origin (weights from load, saved activations from fwd, grads from bwd, optimizer state
    from opt ...).  Both the exact and the 512-B-rounded sums are kept; the peak and its
    composition are taken at the maximum of the rounded sum (what CUDA reports).
    """

    def __init__(self, detail: bool = False):
        super().__init__()
        self.live: dict[int, tuple[int, int, str]] = {}
        # --peak-detail: an event log of allocations and frees (replayed up to the peak afterwards)
        self.detail = detail
        self.log: list = []
        self.peak_event = 0
        self._op = "?"
        self._mod_stack: list = []
        self._mod_names: dict[int, str] = {}
        self._param_names: dict[int, str] = {}  # storage key -> parameter/buffer name
        self._hooks: list = []
        self.ignored: set[int] = set()
        self.cur = 0
        self.cur_r = 0
        self.peak = 0
        self.peak_r = 0
        self.phase = "init"
        self.cur_by_tag: dict[str, int] = {}
        self.peak_by_tag: dict[str, int] = {}
        self.peak_phase = "init"
        self.phase_peak_r: dict[str, int] = {}
        self.n_allocs = 0
        self.scalars_skipped = 0
        self.all_cur = 0
        self.all_peak = 0

    # bookkeeping ----------------------------------------------------------------------------
    def _free_all(self, nb):
        self.all_cur -= nb

    def _free(self, key):
        ent = self.live.pop(key, None)
        if ent is None:
            self.ignored.discard(key)
            return
        nb, nr, tag = ent
        if self.detail:
            self.log.append(key)
        self.cur -= nb
        self.cur_r -= nr
        self.cur_by_tag[tag] -= nr

    def register(self, t, ignore=False):
        if not isinstance(t, torch.Tensor) or t.layout != torch.strided:
            return
        try:
            st = t.untyped_storage()
        except Exception:  # noqa: BLE001 - tensors without storage
            return
        key = st._cdata
        nb = st.nbytes()
        if key in self.ignored:
            return
        ent = self.live.get(key)
        if ent is not None:
            if ent[0] == nb:
                return
            self._free(key)  # resized in place (resize_ / set_)
        self.all_cur += nb  # everything, also what a CUDA run keeps on the CPU (for real-CPU checks)
        self.all_peak = max(self.all_peak, self.all_cur)
        weakref.finalize(st, self._free_all, nb)
        if ignore:
            self.ignored.add(key)
            weakref.finalize(st, self._free, key)
            return
        nr = round512(nb)
        tag = self.phase
        if self.detail:
            self.log.append((key, nb, nr, self._info(t, tag)))
        self.live[key] = (nb, nr, tag)
        self.cur += nb
        self.cur_r += nr
        self.cur_by_tag[tag] = self.cur_by_tag.get(tag, 0) + nr
        self.n_allocs += 1
        weakref.finalize(st, self._free, key)
        if self.cur > self.peak:
            self.peak = self.cur
        if self.cur_r > self.peak_r:
            self.peak_r = self.cur_r
            self.peak_by_tag = {k: v for k, v in self.cur_by_tag.items() if v}
            self.peak_phase = self.phase
            self.peak_event = len(self.log)
        if self.cur_r > self.phase_peak_r.get(self.phase, 0):
            self.phase_peak_r[self.phase] = self.cur_r

    def forget(self, t):
        """Stop counting ``t``'s storage (it would live on the CPU in a real CUDA run)."""
        st = t.untyped_storage()
        key = st._cdata
        if key in self.live:
            self._free(key)
        self.ignored.add(key)

    # peak detail (--peak-detail) ------------------------------------------------------------
    def _info(self, t, tag):
        """What a storage is: (op, dtype, shape, module class, module path, autograd node, phase)."""
        if self._mod_stack:
            cls, path = self._mod_stack[-1][1:]
        else:
            cls = path = ""
        node = torch._C._current_autograd_node()  # the backward node running (None in forward)
        return (self._op, str(t.dtype).replace("torch.", ""), tuple(t.shape), cls, path,
                type(node).__name__ if node is not None else "", tag)

    def name_modules(self, model):
        """Qualified module names for the detail (layer indices folded: ``layers.*.mlp``)."""
        fold = lambda n: re.sub(r"\.\d+(?=\.|$)", ".*", n)  # noqa: E731
        for n, m in model.named_modules():
            self._mod_names[id(m)] = fold(n) or "<root>"
        for n, t in list(model.named_parameters()) + list(model.named_buffers()):
            self._param_names[t.untyped_storage()._cdata] = fold(n)

    def start_module_hooks(self):
        from torch.nn.modules import module as nnm

        def pre(m, args):
            self._mod_stack.append((id(m), type(m).__name__, self._mod_names.get(id(m), "")))

        def post(m, args, out):
            for i in range(len(self._mod_stack) - 1, -1, -1):
                if self._mod_stack[i][0] == id(m):
                    del self._mod_stack[i:]
                    break

        # always_call: non-reentrant checkpointing stops a recompute early by raising through the
        # modules' forwards; the post hook must pop them anyway
        self._hooks = [nnm.register_module_forward_pre_hook(pre),
                       nnm.register_module_forward_hook(post, always_call=True)]

    def stop_module_hooks(self):
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def live_at(self, event):
        """Replays the log up to ``event``: the storages live at that moment, key -> (nb, nr, info)."""
        live = {}
        for e in self.log[:event]:
            if isinstance(e, tuple):
                live[e[0]] = e[1:]
            else:
                live.pop(e, None)
        return live

    def detail_at(self, event, top):
        live = self.live_at(event)
        groups: dict = {}
        for key, (nb, nr, info) in live.items():
            op, dt, shape, cls, path, node, tag = info
            if key in self._param_names and tag in ("load", "lora_init"):  # (a freed key can be reused)
                cls, path = "parameter/buffer", self._param_names[key]
            g = groups.get((op, dt, shape, cls, node))
            if g is None:
                g = groups[(op, dt, shape, cls, node)] = {
                    "op": op, "dtype": dt, "shape": list(shape), "module_class": cls, "grad_fn": node,
                    "count": 0, "bytes": 0, "bytes_exact": 0, "phases": {}, "modules": []}
            g["count"] += 1
            g["bytes"] += nr
            g["bytes_exact"] += nb
            g["phases"][tag] = g["phases"].get(tag, 0) + 1
            if path not in g["modules"] and len(g["modules"]) < 4:
                g["modules"].append(path)
        ordered = sorted(groups.values(), key=lambda g: (-g["bytes"], g["op"], str(g["shape"])))
        total = sum(v[1] for v in live.values())
        shown = ordered[:top]
        return {"n_live": len(live), "total_r512": total, "total_exact": sum(v[0] for v in live.values()),
                "n_groups": len(ordered), "shown_bytes": sum(g["bytes"] for g in shown),
                "groups": shown}

    def set_phase(self, name):
        self.phase = name
        self._mod_stack.clear()  # phases start outside any forward
        self.phase_peak_r[name] = max(self.phase_peak_r.get(name, 0), self.cur_r)

    def reset_peak(self):
        self.peak = self.cur
        self.peak_r = self.cur_r
        self.peak_by_tag = {k: v for k, v in self.cur_by_tag.items() if v}
        self.peak_phase = self.phase
        self.peak_event = len(self.log)

    def snapshot(self):
        return {"cur": self.cur, "cur_r512": self.cur_r}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.__name__.split(".")[0]
        self._op = name
        if name in _SCALAR_CTORS and isinstance(out, torch.Tensor) and out.dim() == 0:
            self.register(out, ignore=True)  # torch.tensor(python_scalar): a CPU tensor on CUDA runs
            self.scalars_skipped += 1
            return out
        for t in tree_flatten(out)[0]:
            self.register(t)
        return out


# ------------------------------------------------------------------------------------------
# CUDA emulation: SDPA backend choice (sm80) and autocast fp32 lists
# ------------------------------------------------------------------------------------------
class SdpaAsCuda(TorchFunctionMode):
    """Runs ``F.scaled_dot_product_attention`` with the backend an A100 (sm80) picks."""

    def __init__(self, cuda_ops: bool):
        super().__init__()
        self.cuda_ops = cuda_ops
        self.choices: dict[str, int] = {}

    @staticmethod
    def choose(q, k, v, attn_mask, dropout_p, is_causal, enable_gqa):
        qdt = q.dtype
        if torch.is_autocast_enabled("cpu") and qdt == torch.float32:
            qdt = torch.get_autocast_dtype("cpu")  # the kernel sees the autocast dtype
        half = qdt in (torch.float16, torch.bfloat16)
        hd, hdk, hdv = q.shape[-1], k.shape[-1], v.shape[-1]
        same_heads = q.shape[-3] == k.shape[-3] == v.shape[-3]
        flash = (half and attn_mask is None and hd == hdk == hdv and hd <= 256
                 and not (is_causal and q.shape[-2] != k.shape[-2])
                 and (same_heads or enable_gqa))
        if flash:
            return "flash"
        align = 8 if half else 4
        eff = (hd == hdk and hd % align == 0 and hdv % align == 0 and same_heads
               and qdt in (torch.float16, torch.bfloat16, torch.float32))
        if eff:
            return "efficient"
        return "math"

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not F.scaled_dot_product_attention:
            return func(*args, **kwargs)
        names = ["query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa"]
        p = dict(zip(names, args))
        p.update(kwargs)
        q, k, v = p["query"], p["key"], p["value"]
        mask = p.get("attn_mask")
        dropout = p.get("dropout_p", 0.0) or 0.0
        causal = bool(p.get("is_causal", False))
        scale = p.get("scale")
        gqa = bool(p.get("enable_gqa", False))
        choice = self.choose(q, k, v, mask, dropout, causal, gqa)
        self.choices[choice] = self.choices.get(choice, 0) + 1
        if choice == "math":
            from torch.nn.attention import SDPBackend, sdpa_kernel

            with sdpa_kernel([SDPBackend.MATH]):
                return func(*args, **kwargs)
        ac = torch.is_autocast_enabled("cpu")
        if ac:  # CUDA autocast casts q, k, v (and a float mask) to the lower precision
            dt = torch.get_autocast_dtype("cpu")
            q, k, v = (t.to(dt) if t.dtype == torch.float32 else t for t in (q, k, v))
            if mask is not None and mask.dtype == torch.float32:
                mask = mask.to(dt)
        need_lse = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
        with _no_autocast():
            if not self.cuda_ops:  # real CPU tensors (tests): CPU flash saves out + logsumexp as well
                from torch.nn.attention import SDPBackend, sdpa_kernel

                with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                    return F.scaled_dot_product_attention(
                        q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=causal, scale=scale,
                        enable_gqa=gqa)
            if choice == "flash":
                out = torch.ops.aten._scaled_dot_product_flash_attention(
                    q, k, v, dropout, causal, False, scale=scale)
                return out[0]
            if mask is not None and mask.dtype == torch.bool:
                # CUDA converts a boolean mask to an additive one of q's dtype first
                mask = torch.where(mask, torch.zeros((), dtype=q.dtype),
                                   torch.full((), float("-inf"), dtype=q.dtype))
            out = torch.ops.aten._scaled_dot_product_efficient_attention(
                q, k, v, mask, need_lse, dropout, causal, scale=scale)
            return out[0]


class DropoutAsCuda(TorchFunctionMode):
    """Runs training-mode dropout as CUDA does: the fused ``aten.native_dropout``.

    ``at::dropout`` takes the fused kernel only for CUDA (XPU, lazy ...) tensors; on the CPU,
    where fake tensors live, it draws a bernoulli noise tensor of the input's dtype and
    multiplies, and autograd saves that noise (2-4 B per element).  On CUDA
    ``native_dropout`` returns (output, bool mask) and its backward saves only the 1-B mask.
    ``nn.Dropout.forward``, transformers' eager attention and PEFT's ``lora_dropout`` all
    go through ``F.dropout``; ``torch.dropout`` (= ``_VF.dropout``) is caught too.  In-place
    dropout (``dropout_``) is unfused on CUDA as well and is left alone, as is the dropout
    inside the math SDPA kernel (C++: invisible here; no traced case uses math SDPA with
    dropout > 0)."""

    def __init__(self):
        super().__init__()
        self.hits: dict[str, int] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.dropout:
            names = ("input", "p", "training", "inplace")
            defaults = {"p": 0.5, "training": True, "inplace": False}
        elif func is torch.dropout:
            names = ("input", "p", "train")
            defaults = {}
        else:
            return func(*args, **kwargs)
        a = {**defaults, **dict(zip(names, args)), **kwargs}
        x, p = a["input"], a["p"]
        train = a.get("training", a.get("train"))
        if (train and not a.get("inplace", False) and isinstance(x, torch.Tensor) and 0.0 < p < 1.0
                and x.numel() > 0):
            key = "F.dropout" if func is F.dropout else "torch.dropout"
            self.hits[key] = self.hits.get(key, 0) + 1
            return torch.ops.aten.native_dropout(x, p, True)[0]
        return func(*args, **kwargs)


class SoftmaxAsCuda(TorchFunctionMode):
    """Runs ``softmax(x, dtype=float32)`` / ``log_softmax`` on fp16 ``x`` as CUDA does.

    ATen's ``softmax(input, dim, dtype)`` (aten/src/ATen/native/SoftMax.cpp) calls the fused
    ``_softmax(input, dim, half_to_float=True)`` when the input is a CUDA fp16 tensor and
    ``dtype`` is float32: the fp16 input is read directly.  Anywhere else (CPU tensors, and
    bf16 on CUDA too) the input is first copied to float32 (``input.toType(dtype)``), which
    adds an fp32 copy of the scores next to the fp32 output.  Fake tensors live on the CPU, so
    transformers' eager ``softmax(scores, dtype=torch.float32)`` in fp16 would count that copy;
    this mode takes the CUDA branch instead.  bf16 is left alone: CUDA copies it as well."""

    def __init__(self):
        super().__init__()
        self.hits: dict[str, int] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (F.softmax, F.log_softmax):
            names = ("input", "dim", "_stacklevel", "dtype")
        elif func in (torch.softmax, torch.log_softmax, torch.Tensor.softmax, torch.Tensor.log_softmax):
            names = ("input", "dim", "dtype")
        else:
            return func(*args, **kwargs)
        a = {**dict(zip(names, args)), **kwargs}
        x, dim, dtype = a.get("input"), a.get("dim"), a.get("dtype")
        if (isinstance(x, torch.Tensor) and x.dtype == torch.float16 and dtype == torch.float32
                and dim is not None):
            log = func in (F.log_softmax, torch.log_softmax, torch.Tensor.log_softmax)
            key = "log_softmax" if log else "softmax"
            self.hits[key] = self.hits.get(key, 0) + 1
            op = torch.ops.aten._log_softmax if log else torch.ops.aten._softmax
            return op(x, dim, True)
        return func(*args, **kwargs)


@contextlib.contextmanager
def _no_autocast():
    """Run ops without the CPU autocast kernel (our own casts already happened)."""
    ks = torch._C.DispatchKeySet(torch._C.DispatchKey.AutocastCPU)
    with torch._C._ExcludeDispatchKeyGuard(ks):
        yield


# CUDA autocast lists (aten/src/ATen/autocast_mode.h) that CPU autocast lacks.
_CUDA_FP32 = {"exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt", "pow", "__pow__",
              "__rpow__", "float_power", "softplus", "layer_norm", "acos", "asin", "cosh", "sinh", "tan",
              "erfinv", "cosine_similarity", "logsumexp", "dist", "cdist", "renorm"}
_CUDA_FP32_SET_DTYPE = {"softmax", "log_softmax", "sum", "cumsum", "cumprod", "prod"}


def _lowp(t):
    return isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != torch.float64


class CudaAutocast(TorchFunctionMode):
    """While CPU autocast is on, adds what CUDA autocast does and CPU autocast does not."""

    def __init__(self):
        super().__init__()
        self.hits: dict[str, int] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not torch.is_autocast_enabled("cpu"):
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in _CUDA_FP32:
            cast = []

            def up(x):
                if isinstance(x, torch.Tensor) and _lowp(x) and x.dtype != torch.float32:
                    cast.append(1)
                    return x.to(torch.float32)
                return x

            args = [up(a) for a in args]
            kwargs = {k: up(v) for k, v in kwargs.items()}
            if cast:
                self.hits[name] = self.hits.get(name, 0) + 1
            with _no_autocast():
                return func(*args, **kwargs)
        if name in _CUDA_FP32_SET_DTYPE:
            first = args[0] if args else kwargs.get("input")
            has_dtype = kwargs.get("dtype") is not None or any(isinstance(a, torch.dtype) for a in args)
            if _lowp(first) and not has_dtype and first.dtype != torch.float32:
                kwargs = {**kwargs, "dtype": torch.float32}
                self.hits[name] = self.hits.get(name, 0) + 1
        return func(*args, **kwargs)


# ------------------------------------------------------------------------------------------
# Patches that make transformers behave on fake tensors as on a real GPU
# ------------------------------------------------------------------------------------------
def patch_transformers_for_fake():
    """transformers treats FakeTensors as graph tracing and then always builds a [B,1,S,S]
    causal mask (which pushes SDPA off flash); on a GPU the tensors are real and the mask is
    skipped.  Packed-sequence detection reads position_ids values; we always feed plain
    0..S-1 positions, for which the real function returns None."""
    import transformers.masking_utils as mu
    import transformers.utils.import_utils as iu

    iu.is_fake_tensor = lambda x: False
    mu.find_packed_sequence_indices = lambda position_ids: None


def patch_swap_tensors():
    """``Module._apply`` (``.to()``) swap_tensors() FakeTensor parameters, which fails when the
    FakeTensorMode memo holds a weakref; fall back to ``param.data = new``."""
    orig = torch.utils.swap_tensors
    if getattr(orig, "_oracle", False):
        return

    def swap(t1, t2):
        try:
            return orig(t1, t2)
        except RuntimeError as e:
            if "weakref" not in str(e):
                raise
            with torch.no_grad():
                t1.data = t2.data

    swap._oracle = True
    torch.utils.swap_tensors = swap


# ------------------------------------------------------------------------------------------
# Case spec
# ------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Spec:
    config: str                      # path to a config.json (absolute or relative to this dir)
    task: str = "load"               # load | prefill | generate | train
    dtype: str = "bf16"              # weights dtype for load/prefill/generate
    attn: str = "sdpa"               # sdpa | eager
    batch: int = 1
    seq: int = 512                   # prompt tokens (inference) or sequence length (train)
    new_tokens: int = 1              # generate: generate(max_new_tokens=new_tokens)
    method: str = "full"             # train: full | lora | dora (LoraConfig(use_dora=True)) | ia3 (IA3Config defaults)
    precision: str = "pure-bf16"     # train: fp32 | pure-bf16 | mixed-bf16
    optimizer: str = "adamw"         # train: adamw | sgd | adafactor
    grad_ckpt: bool = False
    lora_r: int = 8
    lora_alpha: int | None = None
    lora_targets: list | str = dataclasses.field(default_factory=lambda: ["q_proj", "v_proj"])
    lora_dropout: float = 0.0
    steps: int = 2
    real: bool = False               # real CPU tensors instead of fake ones (tests only)
    sdpa_cuda_ops: bool = True       # False: flash/efficient choices run the CPU flash kernel


def load_config(path, attn):
    from transformers import AutoConfig

    if not os.path.isabs(path):
        path = os.path.join(HERE, path)
    with open(path) as f:
        d = json.load(f)
    d.pop("architectures", None)
    d.pop("quantization_config", None)
    d.pop("auto_map", None)
    cfg = AutoConfig.for_model(d.pop("model_type"), **d)
    cfg._attn_implementation = attn  # noqa: SLF001
    return cfg


def build_model(cfg, dtype, attn):
    from transformers import AutoModelForCausalLM

    for key in ("torch_dtype", "dtype"):  # the config's own dtype would otherwise win
        if hasattr(cfg, key):
            setattr(cfg, key, dtype)
    return AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation=attn)


def storage_bytes(tensors):
    seen = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            st = t.untyped_storage()
            seen[st._cdata] = st.nbytes()
    return sum(seen.values()), sum(round512(v) for v in seen.values())


def make_optimizer(name, params):
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-5, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, foreach=True)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        # what Trainer(optim="adafactor") builds
        return Adafactor(params, lr=1e-5, scale_parameter=False, relative_step=False, warmup_init=False)
    raise ValueError(name)


def lora_target_names(model):
    names = set()
    for n, m in model.named_modules():
        if hasattr(m, "lora_A") and hasattr(m, "base_layer"):
            names.add(n.split(".")[-1])
    return sorted(names)


def run(spec: Spec, peak_detail: int = 0) -> dict:
    """Traces ``spec``.  ``peak_detail`` > 0 adds ``res["peak_detail"]``: the storages live at the
    reported (512-rounded) peak, grouped, the ``peak_detail`` largest groups (see MemTracker.detail_at)."""

    t0 = time.time()
    fake = not spec.real
    if fake:
        from torch._subclasses.fake_tensor import FakeTensorMode

        fm = FakeTensorMode(allow_non_fake_inputs=True)
        patch_transformers_for_fake()
        patch_swap_tensors()
    else:
        fm = contextlib.nullcontext()
    tr = MemTracker(detail=peak_detail > 0)
    sd = SdpaAsCuda(cuda_ops=fake and spec.sdpa_cuda_ops)
    ac_emu = CudaAutocast()
    do_emu = DropoutAsCuda() if fake else contextlib.nullcontext()
    sm_emu = SoftmaxAsCuda() if fake else contextlib.nullcontext()
    cfg = load_config(spec.config, spec.attn)
    res: dict = {"spec": dataclasses.asdict(spec), "versions": versions()}
    if spec.task == "train":
        wdt = torch.bfloat16 if spec.precision == "pure-bf16" else torch.float32
    else:
        wdt = DTYPES[spec.dtype]
    ev = {}  # named byte counts at points of interest

    with fm, tr, sd, ac_emu, do_emu, sm_emu:
        # ---- load -----------------------------------------------------------------------------
        tr.set_phase("load")
        model = build_model(cfg, wdt, spec.attn)
        gc.collect()
        if tr.detail:
            tr.name_modules(model)
            tr.start_module_hooks()
        params = list(model.parameters())
        res["n_params"] = sum(p.numel() for p in params)
        res["param_bytes"] = storage_bytes(params)[0]
        res["buffer_bytes"] = storage_bytes(list(model.buffers()))[0]
        res["buffers"] = {n: [list(b.shape), str(b.dtype).replace("torch.", "")] for n, b in model.named_buffers()}
        res["attn_implementation"] = model.config._attn_implementation  # noqa: SLF001
        ev["after_load"] = tr.snapshot()
        tr.reset_peak()  # from_config's transients (e.g. an untied lm_head) are not from_pretrained's
        B, S = spec.batch, spec.seq
        V = cfg.get_text_config().vocab_size

        if spec.task == "load":
            tr.set_phase("load")
        elif spec.task in ("prefill", "generate"):
            model.eval()
            tr.set_phase("inputs")
            ids = torch.zeros(B, S, dtype=torch.long)
            tr.set_phase("prefill")
            with torch.no_grad():
                # generate(): one forward over the prompt keeping the last position's logits
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
                cache = out.past_key_values
                scores = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
                del out
                nxt = scores.argmax(-1)
                ids = torch.cat([ids, nxt[:, None]], dim=-1)
                del scores
                gc.collect()
                ev["after_prefill"] = tr.snapshot()
                res["kv_cache_bytes_after_prefill"] = cache_bytes(cache)
                tr.set_phase("decode")
                for _ in range(spec.new_tokens - 1):
                    out = model(input_ids=nxt[:, None], past_key_values=cache, use_cache=True, logits_to_keep=1)
                    cache = out.past_key_values
                    scores = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
                    del out
                    nxt = scores.argmax(-1)
                    ids = torch.cat([ids, nxt[:, None]], dim=-1)
                    del scores
                res["kv_cache_bytes_final"] = cache_bytes(cache)
                ev["after_decode"] = tr.snapshot()
        elif spec.task == "train":
            if spec.method in ("lora", "dora"):
                from peft import LoraConfig, get_peft_model

                tr.set_phase("lora_init")
                targets = spec.lora_targets
                lcfg = LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha or 2 * spec.lora_r,
                                  lora_dropout=spec.lora_dropout, target_modules=targets,
                                  use_dora=spec.method == "dora", task_type="CAUSAL_LM")
                model = get_peft_model(model, lcfg)
                res["lora_targets"] = lora_target_names(model)
                if tr.detail:
                    tr.name_modules(model)
                gc.collect()
            elif spec.method == "ia3":
                # IA3Config with PEFT's per-architecture defaults (Llama: k_proj, v_proj and
                # down_proj, down_proj as the feed-forward module that scales its input).
                from peft import IA3Config, get_peft_model

                tr.set_phase("lora_init")
                model = get_peft_model(model, IA3Config(task_type="CAUSAL_LM"))
                res["lora_targets"] = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                                              if hasattr(m, "ia3_l") and hasattr(m, "base_layer")})
                if tr.detail:
                    tr.name_modules(model)
                gc.collect()
            model.train()
            if spec.grad_ckpt:
                # transformers' default: torch.utils.checkpoint(use_reentrant=False), inputs require grad
                model.gradient_checkpointing_enable()
            train_params = [p for p in model.parameters() if p.requires_grad]
            res["trainable_params"] = sum(p.numel() for p in train_params)
            res["trainable_bytes"] = storage_bytes(train_params)[0]
            res["param_bytes"] = storage_bytes(list(model.parameters()))[0]
            opt = make_optimizer(spec.optimizer, train_params)
            tr.set_phase("inputs")
            ids = torch.zeros(B, S, dtype=torch.long)
            labels = torch.zeros(B, S, dtype=torch.long)
            ev["before_step1"] = tr.snapshot()
            ac = (torch.autocast("cpu", dtype=torch.bfloat16) if spec.precision == "mixed-bf16"
                  else contextlib.nullcontext())
            steps = []
            step_events = []
            for step in range(1, spec.steps + 1):
                tr.reset_peak()
                tr.set_phase(f"fwd{step}")
                with ac:
                    out = model(input_ids=ids, labels=labels, use_cache=False)
                loss = out.loss
                del out
                ev[f"after_fwd{step}"] = tr.snapshot()
                tr.set_phase(f"bwd{step}")
                run_backward(loss)
                del loss
                ev[f"after_bwd{step}"] = tr.snapshot()
                tr.set_phase(f"opt{step}")
                opt.step()
                for st in opt.state.values():  # step counters are CPU tensors on CUDA runs
                    for v in st.values():
                        if isinstance(v, torch.Tensor) and v.dim() == 0:
                            tr.forget(v)
                ev[f"after_opt{step}"] = tr.snapshot()
                tr.set_phase(f"zero{step}")
                opt.zero_grad(set_to_none=True)
                ev[f"after_zero{step}"] = tr.snapshot()
                steps.append({"peak_r512": tr.peak_r, "peak": tr.peak, "peak_phase": tr.peak_phase,
                              "peak_by_tag": dict(tr.peak_by_tag)})
                step_events.append(tr.peak_event)
            res["steps"] = steps
            best = max(steps, key=lambda s: s["peak_r512"])
            tr.peak_event = step_events[steps.index(best)]
            tr.peak_r, tr.peak, tr.peak_phase, tr.peak_by_tag = (
                best["peak_r512"], best["peak"], best["peak_phase"], best["peak_by_tag"])
            res["opt_state_bytes"] = storage_bytes(
                [v for st in opt.state.values() for v in st.values()
                 if isinstance(v, torch.Tensor) and v.dim() > 0])[0]
        else:
            raise ValueError(spec.task)

        res["peak_r512"] = tr.peak_r
        res["peak"] = tr.peak
        res["peak_phase"] = tr.peak_phase
        res["peak_by_tag"] = dict(tr.peak_by_tag)
        res["phase_peak_r512"] = dict(tr.phase_peak_r)
    if tr.detail:
        tr.stop_module_hooks()
        det = tr.detail_at(tr.peak_event, peak_detail)
        # the replayed live set must add up to the reported peak exactly
        det["matches_peak"] = det["total_r512"] == res["peak_r512"] and det["total_exact"] <= res["peak"]
        res["peak_detail"] = det
    res["events"] = ev
    res["sdpa_backends"] = sd.choices
    res["cuda_autocast_fp32_hits"] = ac_emu.hits
    res["softmax_half_to_float"] = getattr(sm_emu, "hits", {})  # fp16 softmax(dtype=float32) fused as on CUDA
    res["dropout_as_native"] = getattr(do_emu, "hits", {})  # F.dropout / torch.dropout run as native_dropout
    res["n_allocs"] = tr.n_allocs
    res["peak_all_storages"] = tr.all_peak  # unrounded, counting the CPU-side scalars too
    res["scalars_not_counted"] = tr.scalars_skipped
    res["seconds"] = round(time.time() - t0, 2)
    return res


def run_backward(loss):
    """``loss.backward()`` straight into the autograd engine.  ``Tensor.backward`` and
    ``torch.autograd.backward`` are torch functions, and a TorchFunctionMode pops itself while
    it handles one, so the whole backward (including the recompute of checkpointed layers)
    would run without the CUDA emulation modes."""
    grad = torch.ones_like(loss, memory_format=torch.preserve_format)  # what _make_grads builds
    torch.autograd.graph._engine_run_backward(
        (loss,), (grad,), False, False, (), allow_unreachable=True, accumulate_grad=True)


def cache_bytes(cache):
    ts = []
    for layer in getattr(cache, "layers", []):
        for name in ("keys", "values"):
            t = getattr(layer, name, None)
            if isinstance(t, torch.Tensor):
                ts.append(t)
    return storage_bytes(ts)[0]


def versions():
    import peft
    import transformers

    return {"torch": torch.__version__.split("+")[0], "transformers": transformers.__version__,
            "peft": peft.__version__}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, help="JSON object with Spec fields")
    ap.add_argument("--out", help="write the result JSON here (default: stdout)")
    ap.add_argument("--peak-detail", type=int, default=0, metavar="N",
                    help="add 'peak_detail': the N largest groups of storages live at the reported peak")
    a = ap.parse_args(argv)
    spec = Spec(**json.loads(a.spec))
    torch.manual_seed(0)
    import warnings

    warnings.filterwarnings("ignore")
    res = run(spec, peak_detail=a.peak_detail)
    txt = json.dumps(res)
    if a.out:
        with open(a.out, "w") as f:
            f.write(txt)
    else:
        print(txt)


if __name__ == "__main__":
    main()
