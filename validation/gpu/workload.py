"""One measured case: the model built on the device, the oracle's workload run phase by phase,
and the memory of every phase read from the device.

The steps are those of the oracle's ``trace.run`` (``validation/oracle/trace.py``), on real
tensors: the config is read by the oracle's ``load_config``, the model built by its
``build_model`` (``from_config`` in the asked dtype, random weights: memory does not depend on
the values) with the device as torch's default device, the optimizer made by its
``make_optimizer``, LoRA applied with the same ``LoraConfig``; prefill/generate is the same
greedy loop (``logits_to_keep=1``, fp32 copy of the last logits, ``cat`` of the ids), training
the same two steps of forward with labels -> backward -> ``step()`` ->
``zero_grad(set_to_none=True)``, with ``torch.autocast(<device>, bf16)`` for mixed-bf16.

What differs from the trace, on purpose: nothing is emulated (the GPU's own SDPA kernel
choice, CUDA autocast, fused dropout), and after the build the caching allocator's free cached
blocks are released (``empty_cache``), so ``reserved`` starts from the segments that hold the
weights, as after loading a checkpoint, not from the random-init transients of
``from_config``.

Meters: ``CudaMeter`` reads ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` and
``memory_stats`` per phase (peaks reset at every phase start) and NVML (see its docstring), and
measures the CUDA context alone first (NVML before and after creating it, before any tensor).
``CpuMeter`` (the kit's self-test) counts live tensor storages with the oracle's
``MemTracker`` on real CPU tensors: an allocated figure only; there is no caching allocator or
NVML on the CPU, so those levels are null with that reason.
"""
from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import platform
import sys
import threading
import time
import traceback

import peft  # imported before the forks (measure.py): each case starts with them loaded
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM  # noqa: F401  (resolves the lazy module now)

from levels import CPU_REASON, levels  # noqa: E402
from nvml import Nvml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def _load_oracle():
    """The oracle's trace.py as a module (its file name shadows the standard ``trace``)."""
    name = "vramfit_oracle_trace"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "validation", "oracle", "trace.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


oracle = _load_oracle()


# ----------------------------------------------------------------------------------------------
# Meters
# ----------------------------------------------------------------------------------------------
class _Poller:
    """Samples ``cudaMemGetInfo`` (total - free) every ``dt`` seconds: a check that nothing
    outside the caching allocator rises and falls between two phase ends."""

    def __init__(self, dt=0.01):
        self.dt = dt
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            free, total = torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            time.sleep(self.dt)

    def start(self):
        self._t.start()

    def reset(self):
        free, total = torch.cuda.mem_get_info()
        self.peak = total - free

    def stop(self):
        self._stop.set()
        self._t.join(timeout=1)


class CudaMeter:
    """Reads the CUDA caching allocator and NVML.

    NVML is read at every phase end when pynvml is importable (microseconds).  With only
    ``nvidia-smi`` (a process start per reading, ~0.1 s) it is read around the context creation
    and once at the end, and a phase's NVML figure is the context's plus the growth of
    ``cudaMemGetInfo``'s used memory since then (the same device memory, read in-process); the
    final reading checks that sum (``nvml_final``)."""

    device = "cuda"

    def __init__(self):
        self.nvml = Nvml(0)
        self.pid = os.getpid()
        self.phases = []
        self.context = None
        self._poll = None
        self._t0 = 0.0
        self._per_phase = self.nvml.kind == "pynvml"

    def _nvml_now(self):
        """(what NVML shows for this process, device used, process row): the process's own row
        where NVML shows processes, else the device's used memory minus the pre-context baseline."""
        dev = self.nvml.device_used()
        proc = self.nvml.process_used(self.pid) if self._proc_visible else None
        if proc is not None:
            return proc, dev, proc
        if dev is not None and self._base is not None:
            return dev - self._base, dev, None
        return None, dev, None

    def start(self):
        """Measures the CUDA context alone: NVML before and after creating it, no tensor yet."""
        assert not torch.cuda.is_initialized(), "CUDA was initialised before the context measure"
        self._base = self.nvml.device_used()
        t0 = time.time()
        torch.cuda.init()
        free, total = torch.cuda.mem_get_info()  # needs (so creates) the primary context
        torch.cuda.synchronize()
        secs = time.time() - t0
        after = self.nvml.device_used()
        proc = self.nvml.process_used(self.pid)
        self._proc_visible = proc is not None
        ctx = proc if proc is not None else (after - self._base if after is not None and self._base is not None
                                              else None)
        self.context = {
            "bytes": ctx, "nvml_device_used_before": self._base, "nvml_device_used_after": after,
            "nvml_process_used": proc, "memgetinfo_used": total - free, "memgetinfo_total": total,
            "seconds": round(secs, 3), "nvml_per_phase": self._per_phase,
            "how": "NVML after torch.cuda.init() + cudaMemGetInfo (which creates the primary context), no tensor "
                   "yet: the process's row where NVML shows processes, else the device's used memory minus before",
        }
        self._memgetinfo_ctx = total - free
        self._poll = _Poller()
        self._poll.start()

    def finish(self):
        """One NVML reading after the last phase: checks the last phase's figure."""
        now, dev, proc = self._nvml_now()
        last = self.phases[-1]["nvml_used"] if self.phases else None
        self.context["nvml_final"] = now
        self.context["nvml_final_minus_last_phase"] = now - last if now is not None and last is not None else None

    def stop(self):
        if self._poll:
            self._poll.stop()

    def settle(self):
        gc.collect()
        torch.cuda.empty_cache()

    def begin(self, name):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self._poll.reset()
        self._t0 = time.time()

    def end(self, name, failed=False):
        torch.cuda.synchronize()
        secs = time.time() - self._t0
        s = torch.cuda.memory_stats()
        free, total = torch.cuda.mem_get_info()
        grown = (total - free) - self._memgetinfo_ctx
        ctx = self.context["bytes"]
        if self._per_phase:
            nv, dev, proc = self._nvml_now()
            how = "nvml"
        else:
            dev = proc = None
            nv = ctx + grown if ctx is not None else None
            how = "context + memgetinfo growth"
        self.phases.append({
            "phase": name, "seconds": round(secs, 3), "failed": failed,
            "max_allocated": torch.cuda.max_memory_allocated(), "max_reserved": torch.cuda.max_memory_reserved(),
            "allocated": torch.cuda.memory_allocated(), "reserved": torch.cuda.memory_reserved(),
            "active_peak": s.get("active_bytes.all.peak"),
            "inactive_split": s.get("inactive_split_bytes.all.current"),
            "inactive_split_peak": s.get("inactive_split_bytes.all.peak"),
            "segments": s.get("segment.all.current"), "large_segments": s.get("segment.large_pool.current"),
            "alloc_retries": s.get("num_alloc_retries"), "ooms": s.get("num_ooms"),
            "nvml_used": nv, "nvml_how": how, "nvml_device_used": dev, "nvml_process_used": proc,
            "memgetinfo_used": total - free, "memgetinfo_grown_since_context": grown,
            "memgetinfo_peak_polled": self._poll.peak,
        })


class CpuMeter:
    device = "cpu"

    def __init__(self):
        self.tr = oracle.MemTracker()
        self.phases = []
        self.context = None
        self._t0 = 0.0

    def start(self):
        self.context = {"bytes": None, "reason": CPU_REASON}
        self.tr.__enter__()

    def stop(self):
        with contextlib.suppress(Exception):
            self.tr.__exit__(None, None, None)

    def settle(self):
        gc.collect()

    def finish(self):
        pass

    def begin(self, name):
        self.tr.set_phase(name)
        self.tr.reset_peak()
        self._t0 = time.time()

    def end(self, name, failed=False):
        self.phases.append({
            "phase": name, "seconds": round(time.time() - self._t0, 3), "failed": failed,
            "max_allocated": self.tr.peak_r, "allocated": self.tr.cur_r,
            "max_reserved": None, "reserved": None, "nvml_used": None,
        })


# ----------------------------------------------------------------------------------------------
# The workload (the oracle's trace.run, on real tensors)
# ----------------------------------------------------------------------------------------------
def _phase(meter, name):
    @contextlib.contextmanager
    def cm():
        meter.begin(name)
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # a CUDA fault may fail the readings too
                meter.end(name, failed=True)  # what the phase reached before it failed (an OOM's figures)
            raise
        meter.end(name)

    return cm()


def run_workload(spec_dict, meter, info):
    spec = dict(spec_dict)
    spec["config"] = os.path.join(REPO, spec["config"])
    spec = oracle.Spec(**spec)
    dev = meter.device
    cfg = oracle.load_config(spec.config, spec.attn)
    if spec.task == "train":
        wdt = torch.bfloat16 if spec.precision == "pure-bf16" else torch.float32
    else:
        wdt = oracle.DTYPES[spec.dtype]

    with _phase(meter, "load"):
        with torch.device(dev):
            model = oracle.build_model(cfg, wdt, spec.attn)
        meter.settle()
    params = list(model.parameters())
    info["n_params"] = sum(p.numel() for p in params)
    info["param_bytes"] = oracle.storage_bytes(params)[0]
    info["buffer_bytes"] = oracle.storage_bytes(list(model.buffers()))[0]
    info["attn_implementation"] = model.config._attn_implementation  # noqa: SLF001
    B, S = spec.batch, spec.seq

    if spec.task == "load":
        return
    if spec.task in ("prefill", "generate"):
        model.eval()
        with _phase(meter, "inputs"):
            ids = torch.zeros(B, S, dtype=torch.long, device=dev)
        with torch.no_grad():
            with _phase(meter, "prefill"):
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
                cache = out.past_key_values
                scores = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
                del out
                nxt = scores.argmax(-1)
                ids = torch.cat([ids, nxt[:, None]], dim=-1)
                del scores
                gc.collect()
            info["kv_cache_bytes_after_prefill"] = oracle.cache_bytes(cache)
            if spec.new_tokens > 1:
                with _phase(meter, "decode"):
                    for _ in range(spec.new_tokens - 1):
                        out = model(input_ids=nxt[:, None], past_key_values=cache, use_cache=True, logits_to_keep=1)
                        cache = out.past_key_values
                        scores = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
                        del out
                        nxt = scores.argmax(-1)
                        ids = torch.cat([ids, nxt[:, None]], dim=-1)
                        del scores
            info["kv_cache_bytes_final"] = oracle.cache_bytes(cache)
        return
    if spec.task != "train":
        raise ValueError(spec.task)
    if spec.method in ("lora", "dora"):
        from peft import LoraConfig, get_peft_model

        with _phase(meter, "lora_init"):
            # DoRA is LoRA with use_dora=True, as the oracle traces it (trace.py).
            lcfg = LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha or 2 * spec.lora_r,
                              lora_dropout=spec.lora_dropout, target_modules=spec.lora_targets,
                              use_dora=spec.method == "dora", task_type="CAUSAL_LM")
            model = get_peft_model(model, lcfg)
            gc.collect()
        info["lora_targets"] = oracle.lora_target_names(model)
    elif spec.method == "ia3":
        from peft import IA3Config, get_peft_model

        with _phase(meter, "lora_init"):
            # IA3Config with PEFT's per-architecture defaults, as the oracle traces it (trace.py).
            model = get_peft_model(model, IA3Config(task_type="CAUSAL_LM"))
            gc.collect()
    model.train()
    if spec.grad_ckpt:
        model.gradient_checkpointing_enable()
    train_params = [p for p in model.parameters() if p.requires_grad]
    info["trainable_params"] = sum(p.numel() for p in train_params)
    info["trainable_bytes"] = oracle.storage_bytes(train_params)[0]
    opt = oracle.make_optimizer(spec.optimizer, train_params)
    with _phase(meter, "inputs"):
        ids = torch.zeros(B, S, dtype=torch.long, device=dev)
        labels = torch.zeros(B, S, dtype=torch.long, device=dev)
    ac = (torch.autocast(dev, dtype=torch.bfloat16) if spec.precision == "mixed-bf16"
          else contextlib.nullcontext())
    for step in range(1, spec.steps + 1):
        with _phase(meter, f"fwd{step}"):
            with ac:
                out = model(input_ids=ids, labels=labels, use_cache=False)
            loss = out.loss
            del out
        with _phase(meter, f"bwd{step}"):
            loss.backward()
            del loss
        with _phase(meter, f"opt{step}"):
            opt.step()
        with _phase(meter, f"zero{step}"):
            opt.zero_grad(set_to_none=True)
    info["opt_state_bytes"] = oracle.storage_bytes(
        [v for st in opt.state.values() for v in st.values() if isinstance(v, torch.Tensor) and v.dim() > 0])[0]


# ----------------------------------------------------------------------------------------------
# One case
# ----------------------------------------------------------------------------------------------
def environment(meter):
    env = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "peft": peft.__version__, "device": meter.device}
    with contextlib.suppress(Exception):
        import accelerate

        env["accelerate"] = accelerate.__version__
    if isinstance(meter, CudaMeter):
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=torch.cuda.get_device_name(0), gpu_total_bytes=props.total_memory,
                   capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(),
                   alloc_conf=os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
                   module_loading=os.environ.get("CUDA_MODULE_LOADING"))
        with contextlib.suppress(Exception):  # which SDPA kernels torch may pick (it picks per call)
            b = torch.backends.cuda
            env["sdpa_enabled"] = {"flash": b.flash_sdp_enabled(), "mem_efficient": b.mem_efficient_sdp_enabled(),
                                   "cudnn": b.cudnn_sdp_enabled(), "math": b.math_sdp_enabled()}
        env.update(meter.nvml.describe())
    else:
        env.update(gpu=None, cpu=platform.processor() or platform.machine())
    return env


def measure(entry, device, meter=None):
    """Runs one plan entry ({id, spec, ...}) in this process; returns the result record.
    ``meter`` replaces the device's own (tests)."""
    t0 = time.time()
    torch.manual_seed(0)
    meter = meter or (CudaMeter() if device == "cuda" else CpuMeter())
    info = {}
    res = {"id": entry["id"], "device": device, "spec": entry["spec"]}
    try:
        meter.start()
        res["env"] = environment(meter)
        run_workload(entry["spec"], meter, info)
        meter.finish()
        res["status"] = "ok"
    except Exception as e:  # noqa: BLE001 - recorded, the run goes on with the next case
        oom = device == "cuda" and isinstance(e, torch.cuda.OutOfMemoryError)
        res["status"] = "oom" if oom else "error"
        res["error"] = f"{type(e).__name__}: {e}"[:2000]
        res["traceback"] = traceback.format_exc()[-3000:]
    finally:
        meter.stop()
    res["context"] = meter.context
    res["phases"] = meter.phases
    res["info"] = info
    res["levels"] = levels(entry["spec"]["task"], meter.phases, device) if res["status"] == "ok" else None
    res["seconds"] = round(time.time() - t0, 2)
    return res
