//! llama.cpp's estimate as a breakdown: the per-device table (model, KV, compute and other
//! buffers of each GPU and of host memory), and the components of the busiest GPU, then of
//! host memory.

use super::{Bufs, Dev, DeviceMap, Layout, Placement, RS_LAYOUT, SRC_COMPUTE, SRC_KV, SRC_LOAD, SRC_LORA, SRC_RS};
use crate::estimate::breakdown::{prod, thousands, Breakdown, Component, DeviceBuffers, Level};
use crate::estimate::component::ComponentKind;
use crate::estimate::overhead;
use crate::estimate::phase::Phase;

/// What the compute formulas used, for the components' formulas.
pub(super) struct GraphSummary {
    pub(super) pad: u64,
    pub(super) t: u64,
    pub(super) n_ctx: u64,
    pub(super) asked: u64,
    pub(super) swa_layers: u64,
    pub(super) flash: bool,
    pub(super) out_rows: u64,
    pub(super) k: String,
    pub(super) v: String,
    pub(super) compute: Vec<String>,
    pub(super) n_seq: u64,
    pub(super) vocab: u64,
    /// The first recurrent layer's state and the number of recurrent layers (hybrids).
    pub(super) recurrent: Option<crate::model::Recurrent>,
    pub(super) recurrent_layers: u64,
}

/// Components (the busiest GPU's, then host memory) and the per-device table; `graph` is
/// `None` when only the model is loaded.
pub(super) fn assemble(
    bufs: &DeviceMap,
    layout: &Layout,
    place: &Placement,
    graph: Option<GraphSummary>,
    mut notes: Vec<String>,
    phase: Phase,
) -> Breakdown {
    let gpus = layout.gpus;
    let ctx = cuda_context();
    let host_out = graph.as_ref().map_or(0, |g| prod(&[g.vocab, g.n_seq, 4]));
    let devices = devices_table(bufs, gpus, ctx.bytes, host_out);
    let busiest = devices[..gpus]
        .iter()
        .enumerate()
        .max_by_key(|(i, d)| (d.total_bytes, std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let gpu = bufs.get(&Dev::Gpu(busiest)).copied().unwrap_or_default();
    let mut components = gpu_components(&devices[busiest], gpu, layout, place, graph.as_ref());
    components.push(ctx);
    let host = bufs.get(&Dev::Cpu).copied().unwrap_or_default();
    components.extend(host_components(&devices[gpus], host, graph.as_ref(), host_out));
    if gpus > 1 {
        notes.push(format!(
            "per device: {}",
            devices
                .iter()
                .map(|d| format!(
                    "{} model {} + KV {}{} + compute {} + other {} = {}",
                    d.device,
                    thousands(d.model_bytes),
                    thousands(d.kv_bytes),
                    if d.recurrent_bytes > 0 {
                        format!(" + RS {}", thousands(d.recurrent_bytes))
                    } else {
                        String::new()
                    },
                    thousands(d.compute_bytes),
                    thousands(d.other_bytes),
                    thousands(d.total_bytes)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if graph.is_some() {
        notes.push(
            "llama.cpp allocates every buffer when the context is created: the peak does not depend on the phase"
                .into(),
        );
    }
    let mut b = Breakdown::from_components(components, phase, notes);
    b.devices = devices;
    b
}

/// One row per GPU, then host memory: each GPU's other bytes are its CUDA context, the host's
/// the output buffer; both add the projector's and the adapter's tensors.
fn devices_table(bufs: &DeviceMap, gpus: usize, context_bytes: u64, host_out: u64) -> Vec<DeviceBuffers> {
    (0..gpus)
        .map(Dev::Gpu)
        .chain(std::iter::once(Dev::Cpu))
        .map(|d| {
            let x = bufs.get(&d).copied().unwrap_or_default();
            let other = match d {
                Dev::Gpu(_) => context_bytes,
                Dev::Cpu => host_out,
            }
            .saturating_add(x.mmproj)
            .saturating_add(x.mmproj_compute)
            .saturating_add(x.lora);
            DeviceBuffers {
                device: d.name(),
                model_bytes: x.model,
                kv_bytes: x.kv,
                recurrent_bytes: x.rs,
                compute_bytes: x.compute,
                other_bytes: other,
                total_bytes: x
                    .model
                    .saturating_add(x.kv)
                    .saturating_add(x.rs)
                    .saturating_add(x.compute)
                    .saturating_add(other),
            }
        })
        .collect()
}

/// The busiest GPU's weights, KV cache, compute buffer, projector and adapter tensors.
fn gpu_components(
    gb: &DeviceBuffers,
    x: Bufs,
    layout: &Layout,
    place: &Placement,
    graph: Option<&GraphSummary>,
) -> Vec<Component> {
    let dn = gb.device.clone();
    let output_dev = layout.output_dev;
    let where_out = if output_dev == Dev::Cpu {
        "output layer on the CPU".to_string()
    } else {
        format!("output layer on {}", output_dev.name())
    };
    let mut components = vec![Component::new(
        ComponentKind::Weights,
        gb.model_bytes,
        format!(
            "-ngl {}: {} of {} blocks on {} GPU(s), {where_out}, token_embd ({} B) on the CPU; {}",
            layout.ngl,
            layout.gpu_layers(),
            layout.n_layer,
            layout.gpus,
            thousands(place.input),
            place.how
        ),
        SRC_LOAD,
    )
    .on(&dn)];
    if let Some(g) = graph {
        components.push(kv_component(g, gb.kv_bytes, &dn));
        if gb.recurrent_bytes > 0 {
            components.push(rs_component(g, gb.recurrent_bytes, &dn).on(&dn));
        }
        components.push(
            Component::new(
                ComponentKind::ComputeBuffer,
                gb.compute_bytes,
                format!(
                    "t = n_ubatch {} tokens, {} n_kv cells, logits rows {}, {}; {} (graph-allocator peak: the largest set of live tensors)",
                    g.t,
                    thousands(g.n_ctx),
                    g.out_rows,
                    if g.flash { "flash attention (no scores)".to_string() } else { "no flash attention (scores heads·n_kv·t·4)".to_string() },
                    g.compute.iter().find(|c| c.starts_with(&dn)).map_or("no layers here", String::as_str)
                ),
                SRC_COMPUTE,
            )
            .on(&dn),
        );
    }
    if x.mmproj > 0 {
        components.push(
            Component::new(
                ComponentKind::MmprojWeights,
                x.mmproj,
                "the --mmproj file's tensors (clip model buffer)",
                "llama.cpp tools/mtmd/clip.cpp (clip_model_loader: weights on the GPU backend)",
            )
            .on(&dn),
        );
    }
    if x.mmproj_compute > 0 {
        components.push(mmproj_compute(ComponentKind::MmprojComputeBuffer, x.mmproj_compute, &dn));
    }
    if x.lora > 0 {
        components.push(
            Component::new(
                ComponentKind::LoraWeights,
                x.lora,
                "the --lora adapter's lora_a/lora_b tensors of this GPU's blocks (LoRA buffer)",
                SRC_LORA,
            )
            .on(&dn),
        );
    }
    components
}

/// The busiest GPU's KV cache.
fn kv_component(g: &GraphSummary, bytes: u64, dn: &str) -> Component {
    Component::new(
        ComponentKind::KvCache,
        bytes,
        format!(
            "{dn}'s blocks × (K row in {} + V row in {}) × n_ctx {} (asked {}, padded to {}){}{}",
            g.k,
            g.v,
            thousands(g.n_ctx),
            thousands(g.asked),
            g.pad,
            if g.swa_layers > 0 {
                format!(
                    "; {} sliding-window layers keep min(n_ctx, pad(window·n_seq + n_ubatch, 256)) cells",
                    g.swa_layers
                )
            } else {
                String::new()
            },
            if g.recurrent_layers > 0 {
                format!(
                    "; attention blocks only: the {} recurrent blocks keep a state instead (llama_memory_hybrid)",
                    g.recurrent_layers
                )
            } else {
                String::new()
            }
        ),
        SRC_KV,
    )
    .on(dn)
}

/// A device's recurrent state (the RS buffer).
fn rs_component(g: &GraphSummary, bytes: u64, dn: &str) -> Component {
    let name = if dn == "CPU" { ComponentKind::HostRecurrentState } else { ComponentKind::RecurrentState };
    let formula = match &g.recurrent {
        Some(r) => {
            let seqs = g.n_seq.max(1);
            let here = bytes / RS_LAYOUT.layer_bytes(r).saturating_mul(seqs).max(1);
            crate::estimate::recurrent_state::formula(r, here, seqs, RS_LAYOUT)
                .lead(format!(
                    "{here} of the {} recurrent blocks on {dn}, R and S in f32, mem_size = max(1, n_seq_max) rows",
                    g.recurrent_layers
                ))
                .tail(format!(" ({}; does not grow with the context)", r.kind.name()))
                .text()
        }
        None => format!("{dn}'s recurrent blocks' conv and SSM states"),
    };
    Component::new(name, bytes, formula, SRC_RS)
}

/// Host memory's adapter, projector and model tensors, and (with a context) its KV cache,
/// compute buffer and output buffer.
fn host_components(host: &DeviceBuffers, x: Bufs, graph: Option<&GraphSummary>, host_out: u64) -> Vec<Component> {
    let with_context = graph.is_some();
    let mut components = Vec::new();
    if x.lora > 0 {
        components.push(
            Component::new(
                ComponentKind::HostLoraWeights,
                x.lora,
                "the --lora adapter's tensors of the host's blocks",
                SRC_LORA,
            )
            .at(Level::Host)
            .on("CPU"),
        );
    }
    if x.mmproj > 0 {
        components.push(
            Component::new(
                ComponentKind::HostMmprojWeights,
                x.mmproj,
                "the --mmproj file's tensors in host memory",
                "llama.cpp tools/mtmd/clip.cpp",
            )
            .at(Level::Host)
            .on("CPU"),
        );
    }
    if x.mmproj_compute > 0 {
        components
            .push(mmproj_compute(ComponentKind::HostMmprojComputeBuffer, x.mmproj_compute, "CPU").at(Level::Host));
    }
    components.push(
        Component::new(
            ComponentKind::HostWeights,
            host.model_bytes,
            "token_embd, the CPU blocks and any tensors -ot / --n-cpu-moe keep on the host (mmapped: CPU_Mapped)",
            SRC_LOAD,
        )
        .at(Level::Host)
        .on("CPU"),
    );
    if !with_context {
        return components;
    }
    if host.kv_bytes > 0 {
        components.push(
            Component::new(ComponentKind::HostKvCache, host.kv_bytes, "KV cache of the CPU blocks", SRC_KV)
                .at(Level::Host)
                .on("CPU"),
        );
    }
    if let (true, Some(g)) = (host.recurrent_bytes > 0, graph) {
        components.push(rs_component(g, host.recurrent_bytes, "CPU").at(Level::Host).on("CPU"));
    }
    components.push(
        Component::new(
            ComponentKind::HostComputeBuffer,
            host.compute_bytes,
            "token embeddings h·t·4 + the f32 mask input (builds that allocate inputs on the host) + the CPU blocks' and CPU output layer's graph",
            SRC_COMPUTE,
        )
        .at(Level::Host)
        .on("CUDA_Host"),
    );
    components.push(
        Component::new(
            ComponentKind::OutputBuffer,
            host_out,
            "logits of one position per sequence, f32 (V·n_seq·4)",
            "llama.cpp src/llama-context.cpp output_reserve",
        )
        .at(Level::Host)
        .on("CUDA_Host"),
    );
    components
}

/// The projector's warm-up compute buffer on `device` (the GPU's: the image graph; the
/// host's: the graph's inputs, or the whole graph without a GPU).
fn mmproj_compute(kind: ComponentKind, bytes: u64, device: &str) -> Component {
    Component::new(
        kind,
        bytes,
        "clip warm-up graph for the largest image (Qwen mergers 46·patch·merge per side, Gemma 3 image_size) placed by ggml_gallocr in execution order; inputs (image f32, positions, window mask) in the CPU buffer, copied first into the GPU's",
        "llama.cpp tools/mtmd/clip.cpp (warmup, alloc_compute_meta, clip_graph builders) at 0024aa74; ggml/src/ggml-alloc.c at 0450e2f9",
    )
    .on(device)
}

fn cuda_context() -> Component {
    let mut c = overhead::cuda_context(true);
    c.formula =
        "CUDA context and ggml-cuda kernels with lazy module loading (512 MiB) + cuBLAS workspace (32 MiB)".into();
    c.source = "ggml/src/ggml-cuda/ggml-cuda.cu (one context and cuBLAS handle per device); PyTorch-free but the same CUDA runtime costs".into();
    c
}
