//! llama.cpp's compute buffer: the graph allocator's peak for the reserved graph of
//! `n_ubatch` tokens, per device (`src/llama-context.cpp` graph_reserve, `src/llama-graph.cpp`
//! build_attn_mha / build_ffn / build_moe_ffn, `ggml/src/ggml-alloc.c`: each tensor freed
//! after its last use, in-place ops run in their input's memory).

use super::{put, Context, Dev, DeviceMap, Layout, Settings, SplitMode, KQ_MASK_PAD, SCHED_COPIES};
use crate::estimate::breakdown::{prod, thousands};
use crate::estimate::profile::llamacpp::LlamaCppBehaviour;
use crate::model::{ModelSpec, ParamGroup};
use crate::units::align_up;

/// The largest set of tensors live at one node of a block's graph, per phase, for `t`
/// tokens and `n_kv` cache cells (f32 activations).
struct Phases {
    attention: u64,
    ffn: u64,
}

/// Everything the compute-buffer formulas read, in one place.
struct Graph {
    t: u64,
    n_kv: u64,
    /// Cells of the sliding-window cache (iSWA models): a second mask of this width.
    n_kv_swa: Option<u64>,
    h: u64,
    flash: bool,
    b: LlamaCppBehaviour,
    /// A LoRA adapter adapts the FFN projections.
    lora_ffn: bool,
}

impl Graph {
    /// The KQ mask as the GPU holds it: f32 `[n_kv, pad(t)]`, or its f16 cast for flash
    /// attention (`llm_graph_input_attn_kv` / `build_attn_inp_kq_mask`).
    /// With a sliding-window cache, `build_attn_inp_kv_iswa` builds a second mask over its
    /// cells.
    fn mask(&self) -> u64 {
        let cells = self.n_kv.saturating_add(self.n_kv_swa.unwrap_or(0));
        prod(&[cells, align_up(self.t, KQ_MASK_PAD), if self.flash { 2 } else { 4 }])
    }
    /// The f32 mask input itself (in host memory when the build allocates inputs there).
    fn mask_input(&self) -> u64 {
        let cells = self.n_kv.saturating_add(self.n_kv_swa.unwrap_or(0));
        prod(&[cells, align_up(self.t, KQ_MASK_PAD), 4])
    }
    /// Tensors of width `h` live through a block: the residual stream and the normed input
    /// (`inpSA`/`ffn_inp` and `cur`).
    fn residual(&self) -> u64 {
        prod(&[2, self.h, self.t, 4])
    }
    fn phases(&self, spec: &ModelSpec, il: usize) -> Phases {
        let layer = &spec.layers[il];
        let a = &layer.attention;
        let t = self.t;
        let q_w = a.q_width();
        let fused_qkv = layer.linears.iter().any(|l| l.group == ParamGroup::AttentionQkv);
        // Q (or the fused QKV it is a view of) stays live until KQ; the attention output is
        // allocated while the scores are live; softmax runs in place.
        let qkv_live = if fused_qkv { q_w.saturating_add(a.kv_width()) } else { q_w };
        // A recurrent or MLP-only block scores no cache cells (its own scan's scratch is not
        // modelled: the projections stand for it).
        let scores = if self.flash || !layer.mixer.is_attention() { 0 } else { prod(&[a.heads, self.n_kv, t, 4]) };
        let attention = scores.saturating_add(prod(&[qkv_live.saturating_add(q_w), t, 4]));
        let m = &layer.mlp;
        // gate and up are live together; the activation and product run in place (UNARY,
        // MUL) before the GLU op, into a third tensor with it.
        // build_lora_mm: with an adapter, the adapted product b·(a·x) is allocated while the
        // projection's result is live, then added into it: one more n_ff-wide tensor beside
        // gate and up (or beside up alone in a plain FFN).
        let glu = match (m.gated, self.b.glu_op, self.lora_ffn) {
            (true, true, _) | (true, false, true) => 3,
            (true, false, false) | (false, _, true) => 2,
            (false, _, false) => 1,
        };
        let ffn = if m.is_moe() {
            let slots = if self.b.batched_experts { m.top_k } else { 1 };
            let routed = prod(&[glu, m.intermediate, slots, t, 4]).saturating_add(if self.b.batched_experts {
                0
            } else {
                // one slot at a time, with the running sum of the slots' outputs
                prod(&[self.h, t, 4])
            });
            routed.max(prod(&[glu, m.shared_intermediate, t, 4]))
        } else {
            prod(&[glu, m.intermediate, t, 4])
        };
        Phases { attention, ffn }
    }
}

/// What every device's compute buffer is built from: the graph's shapes, each block's
/// phases, the logits, and the pre-scheduler scratch where the build has one.
struct ComputePlan {
    g: Graph,
    phases: Vec<Phases>,
    logits: u64,
    out_rows: u64,
    /// Copies of the mask the scheduler keeps (pipeline parallelism).
    copies: u64,
    scratch: Option<u64>,
}

/// The compute buffer of every device; returns the per-GPU formula notes and the logits rows
/// of the reserved graph.
pub(super) fn compute_buffers(
    spec: &ModelSpec,
    s: &Settings,
    layout: &Layout,
    ctx: &Context,
    swa_layers: u64,
    bufs: &mut DeviceMap,
) -> (Vec<String>, u64) {
    let (b, t, n_ctx) = (s.b, ctx.t, ctx.n_ctx);
    let n_kv_swa = (swa_layers > 0).then(|| {
        let win = spec.layers.iter().filter_map(|l| l.attention.window).max().unwrap_or(0);
        ctx.swa_cells(win)
    });
    let lora_ffn = b.lora_buffers && s.o.lora.as_ref().is_some_and(|l| l.adapts_ffn);
    let g = Graph { t, n_kv: n_ctx, n_kv_swa, h: spec.hidden_size, flash: s.flash, b, lora_ffn };
    let reserve_all_outputs = !b.outputs_max;
    let out_rows = if reserve_all_outputs { t } else { t.min(ctx.n_seq) };
    let logits = prod(&[spec.vocab_size, out_rows, 4]);
    let phases: Vec<Phases> = (0..spec.layers.len()).map(|i| g.phases(spec, i)).collect();
    let pipeline = layout.gpus > 1 && layout.mode == SplitMode::Layer && layout.ngl > layout.n_layer;
    let copies = if pipeline { SCHED_COPIES } else { 1 };
    // Before the backend scheduler: one scratch of the whole graph's measured size on the
    // main GPU (when any layer or the output is there) and one in host memory.
    let scratch = (!b.scheduler).then(|| crate::estimate::llamacpp_scratch::pre_scheduler_scratch(spec, t, n_ctx));
    let plan = ComputePlan { g, phases, logits, out_rows, copies, scratch };
    let mut compute_notes = Vec::new();
    for d in (0..layout.gpus).map(Dev::Gpu).chain(std::iter::once(Dev::Cpu)) {
        let bytes = plan.device_bytes(d, layout, &mut compute_notes);
        if bytes > 0 || d == Dev::Cpu {
            put(bufs, d, &|x| x.compute = x.compute.saturating_add(bytes));
        }
    }
    (compute_notes, out_rows)
}

impl ComputePlan {
    /// The compute buffer of device `d`, with its formula note for a GPU running the graph.
    fn device_bytes(&self, d: Dev, layout: &Layout, compute_notes: &mut Vec<String>) -> u64 {
        let (g, b, t) = (&self.g, &self.g.b, self.g.t);
        let mine: Vec<&Phases> =
            self.phases.iter().zip(&layout.layer_dev).filter(|(_, ld)| **ld == d).map(|(p, _)| p).collect();
        let has_output = layout.output_dev == d;
        let peak_block = mine.iter().map(|p| p.attention.max(p.ffn)).max().unwrap_or(0);
        let body = peak_block.max(if has_output { self.logits } else { 0 });
        let runs_graph = !mine.is_empty() || has_output;
        let any_gpu =
            layout.layer_dev.iter().chain(std::iter::once(&layout.output_dev)).any(|x| matches!(x, Dev::Gpu(_)));
        let bytes = match (d, self.scratch) {
            (Dev::Gpu(i), Some(s)) => {
                if i == layout.main && any_gpu {
                    compute_notes.push(format!(
                        "{}: VRAM scratch of the whole graph's measured size {} (one ggml-alloc best-fit allocator, fragmentation included; builds before the backend scheduler)",
                        d.name(),
                        thousands(s)
                    ));
                    s
                } else {
                    0
                }
            }
            (Dev::Cpu, Some(s)) => s,
            (Dev::Gpu(_), None) if runs_graph => {
                g.mask().saturating_mul(self.copies).saturating_add(g.residual()).saturating_add(body)
            }
            (Dev::Gpu(_), None) => 0,
            (Dev::Cpu, None) => {
                // token embeddings looked up on the host, the f32 mask input where the build
                // allocates inputs there, and the graph of the CPU layers / output.
                prod(&[g.h, t, 4])
                    .saturating_add(if b.host_inputs { g.mask_input() } else { 0 })
                    .saturating_add(if runs_graph { g.residual().saturating_add(body) } else { 0 })
            }
        };
        if let (Dev::Gpu(_), true, None) = (d, runs_graph, self.scratch) {
            let worst = mine.iter().max_by_key(|p| p.attention.max(p.ffn));
            compute_notes.push(format!(
                "{}: mask {} + residual 2·h·t·4 {} + max(attention {}, FFN {}{}){}",
                d.name(),
                thousands(g.mask()),
                thousands(g.residual()),
                thousands(worst.map_or(0, |p| p.attention)),
                thousands(worst.map_or(0, |p| p.ffn)),
                if has_output {
                    format!(", logits V·{}·4 = {}", self.out_rows, thousands(self.logits))
                } else {
                    String::new()
                },
                if self.copies > 1 { format!(" (mask × {} pipeline copies)", self.copies) } else { String::new() },
            ));
        }
        bytes
    }
}
