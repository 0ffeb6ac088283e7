# Type stubs of vramfit.api: the workload keyword arguments spelled out (the implementation
# takes them as **workload and checks them against the Rust core's list; a test keeps this
# list equal to it).
from typing import Any, Dict, List, Optional, Sequence, Union

from typing_extensions import TypedDict, Unpack

from .fit import Limits, Plans
from .result import Result
from .sweep import Sweep

class Workload(TypedDict, total=False):
    task: str
    dtype: Optional[str]
    quant: Optional[str]
    group_size: Optional[int]
    batch: int
    prompt: int
    new: int
    kv_dtype: Optional[str]
    attn: str
    runtime: Optional[str]
    runtime_version: Optional[str]
    precision: Optional[str]
    kv_prealloc: Optional[int]
    seq: int
    method: Union[str, Any]
    optimizer: Optional[str]
    grad_ckpt: bool
    grad_accum: int
    lora_rank: int
    lora_targets: Union[str, Sequence[str]]
    lora_dropout: Optional[float]
    chunked_ce: bool
    optimizer_in_backward: bool
    activation_offload: bool
    compile: bool
    virtual_tokens: int
    merge_on_gpu: bool
    gpus: Optional[int]
    nodes: int
    zero: Optional[int]
    fsdp: Optional[str]
    tp: int
    pp: int
    ep: int
    sequence_parallel: bool
    offload: Optional[str]
    offload_params: bool
    device_map: bool
    ngl: Optional[int]
    ubatch_size: Optional[int]
    max_batch_size: Optional[int]
    head: Optional[str]
    # serving engines (runtime="vllm" | "sglang")
    gpu_memory_utilization: Optional[float]
    max_model_len: Optional[int]
    max_num_seqs: Optional[int]
    max_num_batched_tokens: Optional[int]
    enforce_eager: bool
    kv_cache_dtype: Optional[str]
    block_size: Optional[int]
    quantization: Optional[str]
    cpu_offload_gb: Optional[float]
    kv_cache_memory: Optional[str]
    other_processes_memory: Optional[str]
    ram_bandwidth: Optional[float]
    # Apple GPUs: macOS's iogpu.wired_limit_mb (the Metal working set)
    wired_limit_mb: Optional[int]
    # llama.cpp / Ollama
    batch_size: Optional[int]
    cache_type_k: Optional[str]
    cache_type_v: Optional[str]
    parallel: Optional[int]
    n_cpu_moe: Optional[int]
    override_tensor: Sequence[str]
    split_mode: Optional[str]
    tensor_split: Optional[str]
    main_gpu: Optional[int]
    flash_attn: Optional[str]
    # aliases: --ctx-size, --max-seq-len, --n-gpu-layers, and the long name of `new`
    ctx_size: Optional[int]
    max_seq_len: Optional[int]
    n_gpu_layers: Optional[int]
    new_tokens: int

def estimate(
    model: Any,
    *,
    gpu: Optional[str] = None,
    revision: Optional[str] = None,
    training_args: Any = None,
    **workload: Unpack[Workload],
) -> Result: ...
def fit(
    model: Any,
    *,
    gpu: str,
    revision: Optional[str] = None,
    training_args: Any = None,
    all: bool = False,
    **workload: Unpack[Workload],
) -> Plans: ...
def limits(
    model: Any,
    *,
    gpu: str,
    revision: Optional[str] = None,
    training_args: Any = None,
    **workload: Unpack[Workload],
) -> Limits: ...
def sweep(
    model: Any,
    *,
    over: str,
    values: Optional[Sequence[int]] = None,
    gpu: Optional[str] = None,
    revision: Optional[str] = None,
    training_args: Any = None,
    **workload: Unpack[Workload],
) -> Sweep: ...
def check(
    model: Any,
    *,
    gpu: str,
    revision: Optional[str] = None,
    training_args: Any = None,
    **workload: Unpack[Workload],
) -> Result: ...
def models() -> List[Dict[str, Any]]: ...
def gpus() -> List[Dict[str, Any]]: ...
