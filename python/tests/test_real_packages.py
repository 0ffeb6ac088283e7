"""With the real transformers installed (not needed, and not installed by scripts/test.sh: it
weighs some 300 MB), its objects give what the stand-ins give. Skipped without it."""

from __future__ import annotations

import json
import warnings

import pytest
import vramfit
from conftest import CONFIGS

transformers = pytest.importorskip("transformers")


def test_a_real_llama_config_is_its_file():
    path = CONFIGS / "huggyllama__llama-7b.json"
    cfg = transformers.LlamaConfig.from_dict(json.loads(path.read_text()))
    a = vramfit.estimate(cfg, gpu="T4", task="train", method="lora").to_dict()
    b = vramfit.estimate(str(path), gpu="T4", task="train", method="lora").to_dict()
    assert (a["levels"], a["components"]) == (b["levels"], b["components"])


def test_real_training_arguments(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = transformers.TrainingArguments(
            output_dir=str(tmp_path), per_device_train_batch_size=4, gradient_accumulation_steps=2, bf16=True,
            optim="adamw_torch_fused", gradient_checkpointing=True,
        )
    a = vramfit.estimate("llama-7b", gpu="A100-80GB", training_args=args).to_dict()
    b = vramfit.estimate("llama-7b", gpu="A100-80GB", task="train", batch=4, grad_accum=2, precision="mixed-bf16",
                         optimizer="adamw-fused", grad_ckpt=True).to_dict()
    assert a == b
