# Makes the tiny real fixtures in this folder with the PyPI packages, so the parsers are checked
# against files they did not write themselves. Run in this folder:
#   python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install gguf==0.19.0 safetensors==0.8.0 numpy
#   /tmp/pyenv/bin/python make_fixtures.py
import numpy as np, gguf, json, os
from safetensors.numpy import save_file
w = gguf.GGUFWriter("tiny-llama-q8_0.gguf", "llama")
w.add_block_count(2); w.add_embedding_length(64); w.add_feed_forward_length(128)
w.add_head_count(4); w.add_head_count_kv(2); w.add_context_length(256)
w.add_token_list([f"t{i}" for i in range(32)])
w.add_file_type(7)
from gguf import quants, GGMLQuantizationType as T
rng = np.random.default_rng(0)
def add(name, shape, qt):
    a = rng.standard_normal(shape).astype(np.float32)
    if qt == T.F32:
        w.add_tensor(name, a)
    else:
        q = quants.quantize(a, qt)
        w.add_tensor(name, q, raw_dtype=qt)
add("token_embd.weight", (32, 64), T.Q8_0)
for i in range(2):
    add(f"blk.{i}.attn_norm.weight", (64,), T.F32)
    add(f"blk.{i}.attn_q.weight", (64, 64), T.Q8_0)
    add(f"blk.{i}.attn_k.weight", (32, 64), T.Q8_0)
    add(f"blk.{i}.attn_v.weight", (32, 64), T.Q8_0)
    add(f"blk.{i}.attn_output.weight", (64, 64), T.Q8_0)
    add(f"blk.{i}.ffn_norm.weight", (64,), T.F32)
    add(f"blk.{i}.ffn_gate.weight", (128, 64), T.Q8_0)
    add(f"blk.{i}.ffn_up.weight", (128, 64), T.Q8_0)
    add(f"blk.{i}.ffn_down.weight", (64, 128), T.Q8_0)
add("output_norm.weight", (64,), T.F32)
add("output.weight", (32, 64), T.Q8_0)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
save_file({"a": np.zeros((4, 8), dtype=np.float16), "q.qweight": np.zeros((2, 8), dtype=np.int32), "b": np.zeros((3,), dtype=np.uint8)}, "tiny.safetensors", metadata={"format": "pt"})
