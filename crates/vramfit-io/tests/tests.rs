//! Integration tests of the I/O crate (one test binary): cases files, local checkpoints, and
//! the Hub client against a loopback server.

mod server;
mod util;

mod cases;
mod faults;
mod gguf_repo;
mod hub;
mod local;
