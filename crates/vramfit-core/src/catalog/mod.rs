//! Built-in catalogs: GPUs and models, compiled in from TOML/JSON data files that give a
//! source for every entry.

mod entry;
mod gpu;
mod model;
mod names;

pub use gpu::{find_gpu, gpus, Gpu, GpuSpec};
pub use model::{builtin_config, find_model, models, CatalogModel};
pub use names::normalize;
