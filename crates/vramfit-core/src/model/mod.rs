//! The normalized description of a model: every parameter tensor, grouped by layer and
//! component, plus the geometry the estimators need (heads, KV layout, MLP shape).

mod checkpoint;
mod mixer;
mod params;
mod spec;

pub use checkpoint::{CheckpointFormat, CheckpointInfo, DtypeBytes, GroupBytes};

pub use mixer::{Mixer, Recurrent, RecurrentKind};
pub use params::{ParamCount, ParamGroup};
pub use spec::{
    Activation, Attention, Dropout, EagerSoftmax, FamilyQuirks, Head, KvLayout, Layer, Linear, Mlp, ModelSpec, Norm,
    NormKind, Positions, Softcap, Tensor,
};
