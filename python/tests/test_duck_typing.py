"""transformers / peft objects read by duck typing: stand-in classes with the same attributes
(the package never imports torch, transformers or peft)."""

from __future__ import annotations

import enum
import subprocess
import sys

import pytest
import vramfit
from conftest import CONFIGS, cli_json


class LlamaConfig:
    """A stand-in for transformers.PretrainedConfig: attributes, and to_dict()."""

    def __init__(self, d):
        self._d = dict(d)
        self._d["_name_or_path"] = "huggyllama/llama-7b"

    def to_dict(self):
        return dict(self._d)


class FakeDtype:
    """torch.bfloat16 prints as 'torch.bfloat16'."""

    def __str__(self):
        return "torch.bfloat16"


class PeftType(str, enum.Enum):
    LORA = "LORA"
    IA3 = "IA3"
    PROMPT_TUNING = "PROMPT_TUNING"
    ADALORA = "ADALORA"


class LoraConfig:
    def __init__(self, r=8, lora_alpha=16, target_modules=None, lora_dropout=0.0, use_dora=False):
        self.peft_type = PeftType.LORA
        self.r = r
        self.lora_alpha = lora_alpha
        self.target_modules = target_modules
        self.lora_dropout = lora_dropout
        self.use_dora = use_dora


class PromptTuningConfig:
    peft_type = PeftType.PROMPT_TUNING
    num_virtual_tokens = 32


class AdaLoraConfig:
    peft_type = PeftType.ADALORA


class OptimizerNames(str, enum.Enum):
    ADAMW_TORCH_FUSED = "adamw_torch_fused"
    PAGED_ADAMW_8BIT = "paged_adamw_8bit"


class TrainingArguments:
    def __init__(self, **kw):
        self.per_device_train_batch_size = 8
        self.gradient_accumulation_steps = 1
        self.bf16 = False
        self.fp16 = False
        self.optim = OptimizerNames.ADAMW_TORCH_FUSED
        self.gradient_checkpointing = False
        self.torch_compile = False
        self.fsdp = ""
        self.__dict__.update(kw)


def levels(r):
    return (r.allocated_bytes, r.reserved_bytes, r.total_bytes, [c.bytes for c in r.components])


def test_dict_and_config_objects_are_the_config_file(llama_7b_config):
    path = CONFIGS / "huggyllama__llama-7b.json"
    expected = cli_json(["estimate", str(path), "--gpu", "T4", "--task", "train", "--method", "lora"])
    for model in (llama_7b_config, LlamaConfig(llama_7b_config)):
        r = vramfit.estimate(model, gpu="T4", task="train", method="lora")
        d = r.to_dict()
        assert (d["levels"], d["components"], d["fits"]) == (expected["levels"], expected["components"],
                                                               expected["fits"])
    assert vramfit.estimate(llama_7b_config).origin == "dict"
    r = vramfit.estimate(LlamaConfig(llama_7b_config))
    assert (r.model, r.origin) == ("huggyllama/llama-7b", "LlamaConfig.to_dict()")


def test_a_torch_dtype_object_in_the_config_is_read_as_its_name(llama_7b_config):
    as_text = dict(llama_7b_config, torch_dtype="bfloat16")
    as_object = dict(llama_7b_config, torch_dtype=FakeDtype())
    assert levels(vramfit.estimate(as_object)) == levels(vramfit.estimate(as_text))
    assert levels(vramfit.estimate(as_text)) != levels(vramfit.estimate(dict(llama_7b_config, torch_dtype="float32")))


def test_lora_config_is_its_settings():
    cfg = LoraConfig(r=16, lora_alpha=32, target_modules={"v_proj", "q_proj", "k_proj", "o_proj"}, lora_dropout=0.05)
    a = vramfit.estimate("llama-7b", task="train", method=cfg)
    b = vramfit.estimate("llama-7b", task="train", method="lora", lora_rank=16,
                         lora_targets=["k_proj", "o_proj", "q_proj", "v_proj"], lora_dropout=0.05)
    assert a.to_dict() == b.to_dict()
    assert a.workload["training"]["lora_rank"] == 16
    # Each field is read: another rank, targets or dropout is another estimate.
    assert levels(a) != levels(vramfit.estimate("llama-7b", task="train", method=LoraConfig(r=64)))
    assert levels(vramfit.estimate("llama-7b", task="train", method=LoraConfig(r=16, target_modules="all-linear"))) \
        == levels(vramfit.estimate("llama-7b", task="train", method="lora", lora_rank=16, lora_targets="all-linear"))


def test_dora_qlora_and_other_peft_configs():
    dora = vramfit.estimate("llama-7b", task="train", method=LoraConfig(use_dora=True))
    assert dora.workload["training"]["method"] == "dora"
    q = vramfit.estimate("llama-7b", task="train", quant="nf4", method=LoraConfig())
    # LoraConfig's dropout (0.0 by default in PEFT) is given, where the CLI's default is unset.
    assert q.to_dict() == vramfit.estimate("llama-7b", task="train", quant="nf4", method="qlora",
                                           lora_dropout=0.0).to_dict()
    int8 = vramfit.estimate("llama-7b", task="train", quant="int8", method=LoraConfig())
    assert int8.workload["training"]["method"] == "lora"
    pt = vramfit.estimate("llama-7b", task="train", method=PromptTuningConfig())
    assert pt.to_dict() == vramfit.estimate("llama-7b", task="train", method="prompt-tuning",
                                            virtual_tokens=32).to_dict()
    with pytest.raises(vramfit.InputError, match="^--method: PEFT config AdaLoraConfig"):
        vramfit.estimate("llama-7b", task="train", method=AdaLoraConfig())


def test_training_arguments_are_their_settings():
    args = TrainingArguments(per_device_train_batch_size=4, gradient_accumulation_steps=8, bf16=True,
                             gradient_checkpointing=True)
    a = vramfit.estimate("llama-7b", gpu="A100-80GB", training_args=args)
    b = vramfit.estimate("llama-7b", gpu="A100-80GB", task="train", batch=4, grad_accum=8, precision="mixed-bf16",
                         optimizer="adamw-fused", grad_ckpt=True)
    assert a.to_dict() == b.to_dict()
    # Keyword arguments win over what the object says.
    c = vramfit.estimate("llama-7b", gpu="A100-80GB", training_args=args, batch=2, optimizer="adamw-8bit")
    assert c.to_dict() == vramfit.estimate(
        "llama-7b", gpu="A100-80GB", task="train", batch=2, grad_accum=8, precision="mixed-bf16",
        optimizer="adamw-8bit", grad_ckpt=True).to_dict()
    paged = TrainingArguments(optim=OptimizerNames.PAGED_ADAMW_8BIT, fp16=True, fsdp="full_shard auto_wrap",
                              max_length=1024)
    d = vramfit.estimate("llama-7b", gpu="4xA100-80GB", training_args=paged).to_dict()
    assert d == vramfit.estimate("llama-7b", gpu="4xA100-80GB", task="train", batch=8, optimizer="paged-adamw-8bit",
                                 precision="mixed-fp16", fsdp="full", seq=1024).to_dict()


def test_peft_and_training_args_together_match_the_cli():
    args = TrainingArguments(per_device_train_batch_size=2, gradient_checkpointing=True,
                             optim=OptimizerNames.PAGED_ADAMW_8BIT)
    r = vramfit.estimate("llama-7b", gpu="T4", dtype="fp16", quant="nf4", training_args=args,
                         method=LoraConfig(r=16, target_modules=["q_proj", "v_proj"]))
    expected = cli_json(["estimate", "llama-7b", "--gpu", "T4", "--dtype", "fp16", "--quant", "nf4", "--task",
                         "train", "--batch", "2", "--grad-ckpt", "--optimizer", "paged-adamw-8bit", "--method",
                         "qlora", "--lora-rank", "16", "--lora-targets", "q_proj,v_proj", "--lora-dropout", "0"])
    assert r.to_dict() == expected


def test_torch_transformers_peft_are_never_imported():
    code = (
        "import sys, vramfit\n"
        "vramfit.estimate('llama-7b', gpu='T4'); vramfit.fit('llama-7b', gpu='T4')\n"
        "bad = [m for m in ('torch', 'transformers', 'peft', 'huggingface_hub') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_transformers_5_activation_checkpointing():
    args = TrainingArguments(activation_checkpointing=True)
    assert vramfit.estimate("llama-7b", training_args=args).workload["training"]["grad_ckpt"] is True
