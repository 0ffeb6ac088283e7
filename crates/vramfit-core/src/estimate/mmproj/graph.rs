//! The projector's compute buffers: `clip.cpp`'s warm-up builds the image graph for the
//! largest image it reserves for and `ggml_backend_sched_reserve` sizes one buffer per
//! backend. The graph's inputs (`inp_raw`, positions, window indices and mask) are flagged
//! as inputs, so the scheduler keeps them in the CPU backend's buffer (`sched`: "1.inp", the
//! last backend) and copies them into the GPU split, where `ggml_gallocr` places those copies
//! first; everything else runs on the projector's GPU and is placed in execution order by the
//! same best-fit allocator as llama.cpp's own graph (`estimate::ggml_alloc`). Without a GPU
//! one CPU buffer holds the inputs (leafs, placed first) and the whole graph.
//!
//! Sources (ggml-org/llama.cpp): `tools/mtmd/clip.cpp` at 0024aa74 (`clip_model_loader::warmup`,
//! `alloc_compute_meta`, `clip_graph::build_vit`, `build_attn`, `build_ffn`, `build_norm`,
//! `resize_position_embeddings`, `build_inp`), `tools/mtmd/models/qwen2vl.cpp` (06e514f6),
//! `qwen3vl.cpp` (0186f0c5), `siglip.cpp` (81d97dfb), `llava.cpp` (623ea2ba); `ggml/src/ggml.c` (`ggml_conv_2d`:
//! im2col in the kernel's type, a matmul, a contiguous permutation; `ggml_cast`;
//! `ggml_flash_attn_ext`'s `[d_head, n_head, n_pos]` result); `ggml/src/ggml-alloc.c` at
//! 0450e2f9 (inputs placed first, `ggml_op_can_inplace`, `ggml_are_same_layout`, the best-fit
//! free list); `ggml/src/ggml-backend.cpp` (`ggml_backend_sched_split_graph`: split inputs
//! copied into the split). The CUDA/ROCm buffer alignment is 128 B, the CPU's 32 B.

use super::{ClipProjector, NotModelled, ProjectorKind};
use crate::estimate::ggml_alloc::Graph;

/// `ggml_backend_cuda_buffer_type_get_alignment`.
const GPU_ALIGNMENT: u64 = 128;
/// `TENSOR_ALIGNMENT` of the CPU buffer type.
const CPU_ALIGNMENT: u64 = 32;
const F32: u64 = 4;

/// The projector's warm-up reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipBuffers {
    /// The GPU backend's compute buffer (0 without a GPU).
    pub device: u64,
    /// The CPU backend's compute buffer: the graph's inputs, or the whole graph without a GPU.
    pub host: u64,
    /// The square image side reserved for.
    pub side: u64,
    /// Patches of that image.
    pub patches: u64,
    /// Nodes of the graph (`alloc_compute_meta: graph splits = 1, nodes = N`).
    pub nodes: usize,
}

/// The compute buffers `clip.cpp`'s warm-up reserves for `p`, with flash attention or not,
/// on a GPU backend or on the CPU alone.
///
/// # Errors
/// Dimensions no vision encoder has (checked again here: the fields are public).
pub fn warmup_buffers(p: &ClipProjector, flash: bool, on_gpu: bool) -> Result<ClipBuffers, NotModelled> {
    p.check()?;
    let side = p.warmup_side();
    let per_side = side / p.patch_size;
    let n_pos = per_side * per_side + u64::from(p.class_embd);
    let mut b = Builder { g: Graph::for_gallocr(), p, n_pos, per_side, flash, inputs: Vec::new() };
    match p.kind {
        ProjectorKind::Qwen2Vl | ProjectorKind::Qwen25Vl => b.qwen2vl(side),
        ProjectorKind::Qwen3Vl => b.qwen3vl(side),
        ProjectorKind::Gemma3 => b.gemma3(side),
        ProjectorKind::LlavaMlp => b.llava(side),
    }
    let nodes = b.g.nodes();
    let (device, host) = if on_gpu {
        let inputs = b.inputs.iter().map(|&x| x.div_ceil(CPU_ALIGNMENT) * CPU_ALIGNMENT).sum();
        (b.g.measure(GPU_ALIGNMENT), inputs)
    } else {
        (0, b.g.measure(CPU_ALIGNMENT))
    };
    Ok(ClipBuffers { device, host, side, patches: b.n_pos, nodes })
}

struct Builder<'a> {
    g: Graph,
    p: &'a ClipProjector,
    n_pos: u64,
    per_side: u64,
    flash: bool,
    /// Bytes of each graph input, in the order the graph meets them.
    inputs: Vec<u64>,
}

impl Builder<'_> {
    /// Bytes of an f32 activation `[n_embd, n_pos]`.
    fn e(&self) -> u64 {
        self.p.n_embd * self.n_pos * F32
    }
    fn input(&mut self, bytes: u64) -> usize {
        self.inputs.push(bytes);
        self.g.input(bytes)
    }
    /// `ggml_mul_mat(w, x)` to `out` bytes, plus `ggml_add` of a bias (in place).
    fn linear(&mut self, x: usize, out: u64, bias: bool) -> usize {
        let w = self.g.external();
        let y = self.g.op(out, &[w, x]);
        self.add_weight(y, out, bias)
    }
    fn add_weight(&mut self, x: usize, bytes: u64, yes: bool) -> usize {
        if yes {
            let b = self.g.external();
            self.g.op_inplace(bytes, &[x, b])
        } else {
            x
        }
    }
    /// `build_norm`: `ggml_norm` (a new tensor) or `ggml_rms_norm` (in place when it may),
    /// times the weight, plus the bias.
    fn norm(&mut self, x: usize, bytes: u64, rms: bool, bias: bool) -> usize {
        let n = if rms { self.g.op_inplace(bytes, &[x]) } else { self.g.op(bytes, &[x]) };
        let n = self.add_weight(n, bytes, true);
        self.add_weight(n, bytes, bias)
    }
    /// `ggml_conv_2d(kernel, inp)`: im2col `[3·p·p, patches]` in the kernel's type, the
    /// matmul `[patches, n_embd]`, its permutation made contiguous.
    fn conv2d(&mut self, inp: usize) -> usize {
        let p = self.p;
        let patches = self.per_side * self.per_side;
        let out = patches * p.n_embd * F32;
        let kernel = self.g.external();
        let im2col = self.g.op(3 * p.patch_size * p.patch_size * patches * p.patch_elem_bytes, &[kernel, inp]);
        let cols = self.g.view(im2col, &[im2col]);
        let k2 = self.g.view(kernel, &[kernel]);
        let mm = self.g.op(out, &[cols, k2]);
        let r4 = self.g.view(mm, &[mm]);
        let perm = self.g.strided_view(r4, &[r4]);
        self.g.op(out, &[perm])
    }
    /// The Qwen spatial merge of `[w, h, c]` patches: permute, contiguous, reshape,
    /// permute, contiguous.
    fn spatial_merge(&mut self, x: usize) -> usize {
        let e = self.e();
        let perm = self.g.strided_view(x, &[x]);
        let c4 = self.g.op(e, &[perm]);
        let r = self.g.view(c4, &[c4]);
        let perm = self.g.strided_view(r, &[r]);
        self.g.op(e, &[perm])
    }
    /// `build_attn`: q, k, v expanded first; with flash attention k and v cast to f16 and one
    /// `[d_head, n_head, n_pos]` result; without, the scores `[n_pos, n_pos, n_head]`.
    fn attention(&mut self, q: usize, k: usize, v: usize, mask: Option<usize>) -> usize {
        let e = self.e();
        self.g.expand(q);
        self.g.expand(k);
        self.g.expand(v);
        let qp = self.g.strided_view(q, &[q]);
        let kp = self.g.strided_view(k, &[k]);
        let vp = self.g.strided_view(v, &[v]);
        let out = if self.flash {
            let kc = self.g.op(e / 2, &[kp]);
            let vc = self.g.op(e / 2, &[vp]);
            let mut srcs = vec![qp, kc, vc];
            srcs.extend(mask);
            let fa = self.g.op(e, &srcs);
            self.g.view(fa, &[fa])
        } else {
            let vc = self.g.op(e, &[vp]);
            let scores = self.n_pos * self.n_pos * self.p.n_head * F32;
            let kq = self.g.op(scores, &[kp, qp]);
            let mut srcs = vec![kq];
            srcs.extend(mask);
            let soft = self.g.op_inplace(scores, &srcs);
            let kqv = self.g.op(e, &[vc, soft]);
            let perm = self.g.strided_view(kqv, &[kqv]);
            self.g.op(e, &[perm])
        };
        self.linear(out, e, self.p.attn_bias)
    }
    /// `build_ffn`: up (and gate: `ggml_swiglu_split(gate, up)`, a new tensor) or the
    /// activation in place, then down.
    fn ffn(&mut self, x: usize, rows: u64, hidden: u64, out: u64, gated: bool, bias: bool) -> usize {
        let wide = rows * hidden * F32;
        let act = if gated {
            let up = self.linear(x, wide, bias);
            let gate = self.linear(x, wide, bias);
            self.g.op(wide, &[gate, up])
        } else {
            let up = self.linear(x, wide, bias);
            self.g.op_inplace(wide, &[up])
        };
        self.linear(act, rows * out * F32, bias)
    }
    /// One encoder layer: norm, attention, residual, norm, MLP, residual.
    fn layer(&mut self, inp: usize, rms: bool, qkv: Qkv, mask: Option<usize>, positions: Option<usize>) -> usize {
        let (e, p) = (self.e(), self.p);
        let cur = self.norm(inp, e, rms, p.norm_bias);
        let (q, k, v) = match qkv {
            Qkv::Fused => {
                let qkv = self.linear(cur, 3 * e, p.attn_bias);
                let q = self.g.strided_view(qkv, &[qkv]);
                let k = self.g.strided_view(qkv, &[qkv]);
                let v = self.g.strided_view(qkv, &[qkv]);
                (q, k, v)
            }
            Qkv::Separate => {
                let q = self.linear(cur, e, p.attn_bias);
                let k = self.linear(cur, e, p.attn_bias);
                let v = self.linear(cur, e, p.attn_bias);
                let q = self.g.view(q, &[q]);
                let k = self.g.view(k, &[k]);
                let v = self.g.view(v, &[v]);
                (q, k, v)
            }
        };
        let (q, k) = match positions {
            // ggml_rope_multi: a new tensor like its input (the input is a view, which
            // ggml_gallocr never reuses in place)
            Some(pos) => (self.g.op_inplace(e, &[q, pos]), self.g.op_inplace(e, &[k, pos])),
            None => (q, k),
        };
        let attn = self.attention(q, k, v, mask);
        let res = self.g.op_inplace(e, &[attn, inp]);
        let cur = self.norm(res, e, rms, p.norm_bias);
        let ffn = self.ffn(cur, self.n_pos, p.n_ff, p.n_embd, p.gated_ffn, p.ffn_bias);
        self.g.op_inplace(e, &[res, ffn])
    }

    /// `clip_graph_qwen2vl::build` (Qwen2-VL, Qwen2.5-VL).
    fn qwen2vl(&mut self, side: u64) {
        let (e, p, n) = (self.e(), self.p, self.n_pos);
        let window = p.kind == ProjectorKind::Qwen25Vl && p.n_wa_pattern > 0;
        let rms = p.kind == ProjectorKind::Qwen25Vl;
        // the inputs, in the order the graph meets them
        let inp_raw = self.input(side * side * 3 * F32);
        let inv_window_idx = window.then(|| self.input(n / 4 * 4));
        let positions = self.input(n * 4 * 4);
        let window_mask = window.then(|| self.input(n * n * F32));
        let window_idx = window.then(|| self.input(n / 4 * 4));
        let c0 = self.conv2d(inp_raw);
        let c1 = self.conv2d(inp_raw);
        let sum = self.g.op_inplace(e, &[c0, c1]);
        let mut inp = self.spatial_merge(sum);
        if p.pre_ln {
            inp = self.norm(inp, e, rms, p.norm_bias);
        }
        let mask = window_mask.map(|m| if self.flash { self.g.op(n * n * 2, &[m]) } else { m });
        if let Some(idx) = inv_window_idx {
            let r = self.g.view(inp, &[inp]);
            let rows = self.g.op(e, &[r, idx]);
            inp = self.g.view(rows, &[rows]);
        }
        for il in 0..p.n_layer {
            let full = !window || (il + 1) % p.n_wa_pattern == 0;
            inp = self.layer(inp, rms, Qkv::Separate, if full { None } else { mask }, Some(positions));
        }
        let out = self.merger(inp, rms);
        let out = match window_idx {
            Some(idx) => {
                let r = self.g.view(out, &[out]);
                let rows = self.g.op(n / 4 * p.projection_dim * F32, &[r, idx]);
                self.g.view(rows, &[rows])
            }
            None => out,
        };
        self.g.expand(out);
    }

    /// The post-norm and the merger MLP on groups of n_merge² patches.
    fn merger(&mut self, inp: usize, rms: bool) -> usize {
        let (e, p) = (self.e(), self.p);
        let inp = if p.post_ln { self.norm(inp, e, rms, p.norm_bias) } else { inp };
        let merged = self.g.view(inp, &[inp]);
        let groups = self.n_pos / 4;
        self.ffn(merged, groups, p.merger_hidden, p.projection_dim, false, true)
    }

    /// `clip_graph_qwen3vl::build` (Qwen3-VL, Qwen3.5/3.6 vision).
    fn qwen3vl(&mut self, side: u64) {
        let (e, p, n) = (self.e(), self.p, self.n_pos);
        let inp_raw = self.input(side * side * 3 * F32);
        let positions = self.input(n * 4 * 4);
        let c0 = self.conv2d(inp_raw);
        let c1 = self.conv2d(inp_raw);
        let sum = self.g.op_inplace(e, &[c0, c1]);
        let merged = self.spatial_merge(sum);
        let mut inp = self.add_weight(merged, e, true); // patch bias
                                                        // resize_position_embeddings: the learned table interpolated to the patch grid
        let pos = if p.pos_per_side == self.per_side {
            self.g.external()
        } else {
            let w = self.g.external();
            let r = self.g.view(w, &[w]);
            let perm = self.g.strided_view(r, &[r]);
            let interp = self.g.op(e, &[perm]);
            let perm = self.g.strided_view(interp, &[interp]);
            self.g.op(e, &[perm])
        };
        // the table's own merge: contiguous 4-d, reshape, permute, contiguous 3-d
        let pos = self.g.op(e, &[pos]);
        let r = self.g.view(pos, &[pos]);
        let perm = self.g.strided_view(r, &[r]);
        let pos = self.g.op(e, &[perm]);
        inp = self.g.op_inplace(e, &[inp, pos]);
        if p.pre_ln {
            inp = self.norm(inp, e, false, p.norm_bias);
        }
        let groups = n / 4;
        let mut deepstack: Option<(usize, u64)> = None;
        for il in 0..p.n_layer {
            inp = self.layer(inp, false, Qkv::Fused, None, Some(positions));
            if p.deepstack.contains(&il) {
                let feat = self.g.view(inp, &[inp]);
                let feat = self.norm(feat, e, false, true);
                let feat = self.ffn(feat, groups, p.merger_hidden, p.projection_dim, false, true);
                let feat_bytes = groups * p.projection_dim * F32;
                deepstack = Some(match deepstack {
                    None => (feat, feat_bytes),
                    Some((all, bytes)) => (self.g.op(bytes + feat_bytes, &[all, feat]), bytes + feat_bytes),
                });
            }
        }
        let mut out = self.merger(inp, false);
        if let Some((all, bytes)) = deepstack {
            out = self.g.op(groups * p.projection_dim * F32 + bytes, &[out, all]);
        }
        self.g.expand(out);
    }

    /// `clip_graph_siglip::build` for Gemma 3: `build_inp`, `build_vit` with the learned
    /// position embedding, average pooling by n_merge, RMS norm, the input projection.
    fn gemma3(&mut self, side: u64) {
        let (e, p) = (self.e(), self.p);
        let inp_raw = self.input(side * side * 3 * F32);
        let conv = self.conv2d(inp_raw);
        let r = self.g.view(conv, &[conv]);
        let t = self.g.strided_view(r, &[r]);
        let c = self.g.op(e, &[t]);
        let c = self.add_weight(c, e, true); // patch bias
        let pos = self.g.external();
        let mut inp = self.g.op_inplace(e, &[c, pos]);
        if p.pre_ln {
            inp = self.norm(inp, e, false, p.norm_bias);
        }
        for _ in 0..p.n_layer {
            inp = self.layer(inp, false, Qkv::Separate, None, None);
        }
        if p.post_ln {
            inp = self.norm(inp, e, false, p.norm_bias);
        }
        let t = self.g.strided_view(inp, &[inp]);
        let c4 = self.g.op(e, &[t]);
        let out_side = self.per_side / p.n_merge;
        let tokens = out_side * out_side;
        let pooled = self.g.op(tokens * p.n_embd * F32, &[c4]);
        let r = self.g.view(pooled, &[pooled]);
        let t = self.g.strided_view(r, &[r]);
        let c = self.g.op(tokens * p.n_embd * F32, &[t]);
        let normed = self.norm(c, tokens * p.n_embd * F32, true, false);
        // ggml_cont(ggml_transpose(mm_input_proj_w)): the weight copied in its own type
        let w = self.g.external();
        let wt = self.g.strided_view(w, &[w]);
        let wc = self.g.op(p.n_embd * p.projection_dim * p.input_proj_elem_bytes, &[wt]);
        let out = self.g.op(tokens * p.projection_dim * F32, &[wc, normed]);
        self.g.expand(out);
    }
}

impl Builder<'_> {
    /// `clip_graph_llava::build` with the `mlp` projector: `build_inp`, the class token
    /// concatenated, learned positions gathered by index, the encoder up to the penultimate
    /// layer (`il_last = n_layer - 1`), the patches gathered back (the class token dropped),
    /// then `mm.0`, GELU, `mm.2`.
    fn llava(&mut self, side: u64) {
        let (e, p, n) = (self.e(), self.p, self.n_pos);
        let patches = self.per_side * self.per_side;
        let inp_raw = self.input(side * side * 3 * F32);
        let positions = self.input(n * 4);
        let patch_idx = self.input(patches * 4);
        let conv = self.conv2d(inp_raw);
        let r = self.g.view(conv, &[conv]);
        let t = self.g.strided_view(r, &[r]);
        let mut inp = self.g.op(patches * p.n_embd * F32, &[t]);
        if p.class_embd {
            let cls = self.g.external();
            inp = self.g.op(e, &[inp, cls]);
        }
        let table = self.g.external();
        let pos = self.g.op(e, &[table, positions]);
        inp = self.g.op_inplace(e, &[inp, pos]);
        if p.pre_ln {
            inp = self.norm(inp, e, false, p.norm_bias);
        }
        for _ in 0..p.n_layer.saturating_sub(1) {
            inp = self.layer(inp, false, Qkv::Separate, None, None);
        }
        if p.post_ln {
            inp = self.norm(inp, e, false, p.norm_bias);
        }
        let r = self.g.view(inp, &[inp]);
        let rows = self.g.op(patches * p.n_embd * F32, &[r, patch_idx]);
        let out = self.ffn(rows, patches, p.merger_hidden, p.projection_dim, false, true);
        self.g.expand(out);
    }
}

#[derive(Clone, Copy)]
enum Qkv {
    /// One `attn_qkv` matmul, q/k/v as strided views of it.
    Fused,
    /// `attn_q`, `attn_k`, `attn_v`, each reshaped.
    Separate,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mib(b: u64) -> f64 {
        b as f64 / 1024.0 / 1024.0
    }

    fn qwen3vl(n_embd: u64, n_ff: u64, n_layer: u64, proj: u64) -> ClipProjector {
        ClipProjector {
            kind: ProjectorKind::Qwen3Vl,
            n_embd,
            n_head: 16,
            n_ff,
            n_layer,
            image_size: 768,
            patch_size: 16,
            n_merge: 2,
            projection_dim: proj,
            n_wa_pattern: 0,
            gated_ffn: false,
            norm_bias: true,
            attn_bias: true,
            ffn_bias: true,
            pre_ln: false,
            post_ln: true,
            patch_elem_bytes: 2,
            pos_per_side: 48,
            merger_hidden: 4 * n_embd,
            deepstack: Vec::new(),
            input_proj_elem_bytes: 2,
            class_embd: false,
        }
    }

    #[test]
    fn qwen36_27b_projector_on_cuda_is_the_logs_figures() {
        // unsloth/Qwen3.6-27B-MTP-GGUF mmproj-BF16.gguf, llama-server, flash attention on:
        // "warmup: warmup with image size = 1472 x 1472"
        // "alloc_compute_meta:      CUDA0 compute buffer size =   248.10 MiB"
        // "alloc_compute_meta:        CPU compute buffer size =    24.93 MiB"
        // "alloc_compute_meta: graph splits = 1, nodes = 823"
        let b = warmup_buffers(&qwen3vl(1152, 4304, 27, 5120), true, true).unwrap();
        assert_eq!((b.side, b.patches, b.nodes), (1472, 8464, 823));
        assert!((mib(b.device) - 248.10).abs() < 0.005, "{}", mib(b.device));
        assert!((mib(b.host) - 24.93).abs() < 0.005, "{}", mib(b.host));
    }

    #[test]
    fn qwen35_2b_projector_on_the_cpu_alone_is_the_logs_figure() {
        // unsloth/Qwen3.5-2B-GGUF mmproj-BF16.gguf, "clip_ctx: CLIP using CPU backend":
        // "alloc_compute_meta:        CPU compute buffer size =   223.30 MiB", nodes = 736
        let b = warmup_buffers(&qwen3vl(1024, 4096, 24, 2048), true, false).unwrap();
        assert_eq!((b.device, b.nodes), (0, 736));
        assert!((mib(b.host) - 223.30).abs() < 0.005, "{}", mib(b.host));
    }

    #[test]
    fn without_flash_attention_the_scores_dominate() {
        let p = qwen3vl(1152, 4304, 27, 5120);
        let fa = warmup_buffers(&p, true, true).unwrap();
        let no = warmup_buffers(&p, false, true).unwrap();
        // 8464² scores × 16 heads × 4 B = 4.27 GiB
        assert!(no.device > fa.device + 8464 * 8464 * 16 * 4, "{} {}", no.device, fa.device);
        assert_eq!(no.host, fa.host);
    }

    #[test]
    fn qwen3vl_with_deepstack_is_the_failed_allocation_of_issue_18181() {
        // ggml-org/llama.cpp issue #18181 (a Qwen3-VL projector: qwen3vl_merger, n_embd 1152,
        // n_ff 4304, 27 layers, projection_dim 4096; deepstack layers 8, 16, 24 as Qwen3-VL-8B):
        // "warmup: warmup with image size = 1472 x 1472"
        // "ggml_gallocr_reserve_n_impl: failed to allocate CUDA0 buffer of size 390156544"
        // "alloc_compute_meta: graph splits = 1, nodes = 853"
        let mut p = qwen3vl(1152, 4304, 27, 4096);
        p.deepstack = vec![8, 16, 24];
        let b = warmup_buffers(&p, true, true).unwrap();
        assert_eq!((b.device, b.nodes), (390_156_544, 853));
    }

    #[test]
    fn qwen25vl_7b_projector_on_rocm_is_the_logs_figures() {
        // unsloth/Qwen2.5-VL-7B-Instruct-GGUF mmproj-BF16.gguf, llama-server b7972, ROCm0:
        // "warmup: warmup with image size = 1288 x 1288"
        // "alloc_compute_meta:      ROCm0 compute buffer size =   704.79 MiB"
        // "alloc_compute_meta:        CPU compute buffer size =   292.41 MiB"
        // "alloc_compute_meta: graph splits = 1, nodes = 1091"
        let p = ClipProjector {
            kind: ProjectorKind::Qwen25Vl,
            n_ff: 3420,
            image_size: 560,
            patch_size: 14,
            projection_dim: 3584,
            n_wa_pattern: 8,
            gated_ffn: true,
            norm_bias: false,
            pos_per_side: 0,
            ..qwen3vl(1280, 3420, 32, 3584)
        };
        let b = warmup_buffers(&p, true, true).unwrap();
        assert_eq!((b.side, b.nodes), (1288, 1091));
        assert!((mib(b.device) - 704.79).abs() < 0.005, "{}", mib(b.device));
        // the image, positions, window indices and the f32 window mask (8464² × 4 B)
        assert!((mib(b.host) - 292.41).abs() < 0.005, "{}", mib(b.host));
    }

    #[test]
    fn qwen36_projector_without_flash_attention_is_the_refused_4_5_gib_request() {
        // A public investigation log (unsloth/Qwen3.6-35B-A3B-GGUF mmproj-BF16.gguf, the same
        // 1152/27/4304 encoder, RTX 3090, llama.cpp b8610): the non-flash reservation
        // "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4657.81 MiB on device 0"
        // "ggml_gallocr_reserve_n_impl: failed to allocate CUDA0 buffer of size 4884066560"
        let b = warmup_buffers(&qwen3vl(1152, 4304, 27, 2048), false, true).unwrap();
        assert_eq!(b.device, 4_884_066_560);
    }

    #[test]
    fn llava_15_projector_reserves_one_336_pixel_tile_and_drops_the_class_token() {
        // llava-v1.5-7b's mmproj (CLIP ViT-L/14-336 as converted: 23 blocks, the graph runs to
        // the penultimate one; mm.0 1024→4096, mm.2 4096→4096). No public log checks it yet.
        let p = ClipProjector {
            kind: ProjectorKind::LlavaMlp,
            n_embd: 1024,
            n_head: 16,
            n_ff: 4096,
            n_layer: 23,
            image_size: 336,
            patch_size: 14,
            n_merge: 1,
            projection_dim: 4096,
            pre_ln: true,
            post_ln: false,
            pos_per_side: 24,
            merger_hidden: 4096,
            class_embd: true,
            ..qwen3vl(1024, 4096, 23, 4096)
        };
        let b = warmup_buffers(&p, true, true).unwrap();
        assert_eq!((b.side, b.patches), (336, 577));
        // the host keeps the image, the 577 positions and the 576 patch indices (each padded
        // to the CPU buffer's 32 B)
        assert_eq!(b.host, 336 * 336 * 3 * 4 + (577 * 4u64).div_ceil(32) * 32 + 576 * 4);
        // the widest tensor alive: the MLP's [577, 4096] f32 with its input and the residual
        let e = 577 * 1024 * 4;
        assert!(b.device > 577 * 4096 * 4 + 2 * e && b.device < 16 * e, "{}", b.device);
    }

    #[test]
    fn gemma3_and_qwen2vl_projectors_are_the_measured_family_figures() {
        // gpustack/gguf-parser-go issue #44 (MI300X, ROCm0, whole MiB): "Real clip compute
        // buffer, flash attention off then on": gemma3 1132 / 121, Qwen2-VL 4598 / 267
        let gemma3 = ClipProjector {
            kind: ProjectorKind::Gemma3,
            image_size: 896,
            patch_size: 14,
            n_merge: 4,
            projection_dim: 2560,
            pos_per_side: 64,
            merger_hidden: 0,
            ..qwen3vl(1152, 4304, 27, 2560)
        };
        let qwen2vl = ClipProjector {
            kind: ProjectorKind::Qwen2Vl,
            patch_size: 14,
            pos_per_side: 0,
            ..qwen3vl(1280, 5120, 32, 1536)
        };
        for (p, off, on) in [(gemma3, 1132.0, 121.0), (qwen2vl, 4598.0, 267.0)] {
            let (a, b) = (warmup_buffers(&p, false, true).unwrap(), warmup_buffers(&p, true, true).unwrap());
            assert!((mib(a.device) - off).abs() <= 0.5 && (mib(b.device) - on).abs() <= 0.5, "{:?}", p.kind);
        }
    }

    #[test]
    fn a_projector_built_by_hand_with_impossible_dimensions_is_an_error_not_a_panic() {
        let zero_patch = ClipProjector { patch_size: 0, ..qwen3vl(1152, 4304, 27, 5120) };
        assert!(warmup_buffers(&zero_patch, true, true).is_err());
        let huge = ClipProjector { n_merge: u64::MAX / 2, ..qwen3vl(1152, 4304, 27, 5120) };
        assert!(warmup_buffers(&huge, false, true).is_err());
    }
}
