//! Integration tests of the core (one binary, ripgrep-style).

mod util;

mod catalog;
mod fit;
mod formats;
mod formulas;
mod golden;
mod hostile;
mod inference;
mod llamacpp;
mod mutation;
mod params;
mod props;
mod serving;
mod snapshots;
mod training;
