//! The Python extension module `vramfit._native`: thin wrappers over [`ops`], which take the
//! core's request JSON and answer in JSON. Everything Pythonic (keyword arguments, result
//! classes, exceptions, notebook display) is the pure-Python package in `python/vramfit/`.
//!
//! Every call releases the GIL while it works: resolving a Hub model waits on the network.

pub mod failure;
pub mod ops;

/// The module. PyO3's generated wrappers are unsafe code; this item alone allows it.
#[allow(unsafe_code)]
#[pyo3::pymodule]
#[pyo3(name = "_native")]
mod native {
    use pyo3::prelude::*;

    /// Estimate: request JSON in, `{"ok": {"report", "table", "explain"}}` or
    /// `{"error": {"kind", "message"}}` out.
    #[pyfunction]
    #[pyo3(signature = (request, revision=None))]
    fn estimate(py: Python<'_>, request: String, revision: Option<String>) -> String {
        py.detach(move || crate::ops::estimate(&request, revision))
    }

    /// Fit: request JSON (with its GPU) in, `{"ok": {"report", "table"}}` out.
    #[pyfunction]
    #[pyo3(signature = (request, revision=None, all=false))]
    fn fit(py: Python<'_>, request: String, revision: Option<String>, all: bool) -> String {
        py.detach(move || crate::ops::fit(&request, revision, all))
    }

    /// Sweep over `over` at `values` (empty: the CLI's defaults): `{"ok": {"report", "svg"}}`.
    #[pyfunction]
    #[pyo3(signature = (request, over, values, revision=None))]
    fn sweep(py: Python<'_>, request: String, over: String, values: Vec<u64>, revision: Option<String>) -> String {
        py.detach(move || crate::ops::sweep(&request, revision, &over, &values))
    }

    /// The workload settings and their defaults, keyed by flag name.
    #[pyfunction]
    fn workload_defaults() -> String {
        crate::ops::workload_defaults()
    }

    /// Run the command line (`argv` without the program name) on this process's stdout and
    /// stderr; returns the exit code.
    #[pyfunction]
    fn main(py: Python<'_>, argv: Vec<String>) -> u8 {
        py.detach(move || vramfit_cli::run(std::iter::once("vramfit".to_string()).chain(argv)))
    }

    /// Run the command line capturing its output: `(exit code, stdout, stderr)`.
    #[pyfunction]
    fn cli_output(py: Python<'_>, argv: Vec<String>) -> (u8, String, String) {
        py.detach(move || crate::ops::cli_output(&argv))
    }

    /// The version of the Rust crates (the package's version).
    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
