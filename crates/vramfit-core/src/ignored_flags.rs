//! Flags that were given but change nothing under the resolved workload (newcomer D17): each
//! is named in a note that says why, instead of being dropped silently. Contradictions the
//! estimate cannot honour at all are errors in [`crate::request`]; these are the ones where
//! the estimate is still right for what runs, but not for what the user may think they asked.

use crate::estimate::parallel::Strategy;
use crate::estimate::training::setup::{Method, Precision};
use crate::estimate::{Task, Workload};
use crate::request::WorkloadRequest;
use crate::DType;

/// Notes for the flags of `r` that `w` (resolved from `r`, with `gpu_count` the count of
/// `--gpu NxNAME`) does not use.
#[must_use]
pub fn notes(r: &WorkloadRequest, w: &Workload, gpu_count: Option<u64>) -> Vec<String> {
    let d = WorkloadRequest::default();
    let mut notes = vec![];
    let method = w.training.method;
    let lora_family = matches!(method, Method::Lora | Method::Qlora | Method::Dora);

    // Training settings outside training (a merge uses the adapter's method, rank and targets).
    if w.task == Task::Train {
        let mut unused: Vec<&str> = vec![];
        if !lora_family {
            if r.lora_rank != d.lora_rank {
                unused.push("--lora-rank");
            }
            if r.lora_dropout.is_some() {
                unused.push("--lora-dropout");
            }
            if !r.lora_targets.is_empty() && method != Method::Ia3 {
                unused.push("--lora-targets");
            }
        }
        if r.virtual_tokens != d.virtual_tokens && !matches!(method, Method::PromptTuning | Method::PrefixTuning) {
            unused.push("--virtual-tokens");
        }
        if !unused.is_empty() {
            notes.push(format!(
                "{}: ignored: --method {} does not use {}",
                unused.join(", "),
                method.name(),
                if unused.len() == 1 { "it" } else { "them" }
            ));
        }
        // A full fine-tune keeps its weights in the precision's dtype, whatever was loaded.
        if let (Some(dtype), Some(p), Method::Full) = (w.dtype, w.training.precision, method) {
            let kept = match p {
                Precision::Pure(t) => t,
                Precision::Fp32 | Precision::Mixed(_) => DType::Fp32,
            };
            if dtype != kept {
                notes.push(format!(
                    "--dtype {}: a full fine-tune under --precision {} keeps its weights in {}; --dtype only sets how the checkpoint is loaded",
                    dtype.name(),
                    p.name(),
                    kept.name()
                ));
            }
        }
        if r.device_map && w.parallel.strategy == Strategy::Ddp {
            notes.push(
                "--device-map: training on several GPUs is estimated as DDP (a whole replica per GPU); a model split over GPUs by device_map=\"auto\" is not modelled for training"
                    .into(),
            );
        }
    } else {
        let merge = w.task == Task::Merge;
        let given: Vec<&str> = [
            ("--grad-ckpt", r.grad_ckpt),
            ("--optimizer", r.optimizer.is_some()),
            ("--grad-accum", r.grad_accum != d.grad_accum),
            ("--seq", r.seq != d.seq),
            ("--method", !merge && r.method != d.method),
            ("--lora-rank", !merge && r.lora_rank != d.lora_rank),
            ("--lora-targets", !merge && !r.lora_targets.is_empty()),
            ("--lora-dropout", r.lora_dropout.is_some()),
            ("--chunked-ce", r.chunked_ce),
            ("--optimizer-in-backward", r.optimizer_in_backward),
            ("--activation-offload", r.activation_offload),
            ("--virtual-tokens", r.virtual_tokens != d.virtual_tokens),
        ]
        .into_iter()
        .filter_map(|(flag, on)| on.then_some(flag))
        .collect();
        if !given.is_empty() {
            notes.push(format!(
                "{} {} training settings: ignored for --task {} (add --task train to estimate training)",
                given.join(", "),
                if given.len() == 1 { "is a" } else { "are" },
                w.task.name()
            ));
        }
    }
    if r.sequence_parallel && w.parallel.tp <= 1 {
        notes.push(
            "--sequence-parallel: no effect without --tp 2 or more (it splits the tensor-parallel activations)".into(),
        );
    }
    if let (Some(given), Some(in_gpu)) = (r.gpus, gpu_count) {
        if given != in_gpu && in_gpu > 1 {
            notes.push(format!(
                "--gpus {given} overrides the {in_gpu} in --gpu: the estimate is for {given} GPUs per node"
            ));
        }
    }
    notes
}
