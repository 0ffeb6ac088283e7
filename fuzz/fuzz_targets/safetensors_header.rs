//! Any bytes: the safetensors header parser answers (error, need more, or a header) without
//! panicking, and what it asks for is more than it was given and within its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vramfit_core::formats::safetensors::{parse_header, MAX_HEADER_BYTES};
use vramfit_core::formats::Parsed;

fuzz_target!(|data: &[u8]| {
    match parse_header(data) {
        Ok(Parsed::NeedBytes(n)) => assert!(n > data.len() as u64 && n <= 8 + MAX_HEADER_BYTES),
        Ok(Parsed::Done(h)) => {
            assert!(8 + h.header_len <= data.len() as u64);
            let sum: u64 = h.tensors.iter().map(|t| t.bytes).sum();
            assert_eq!(sum, h.data_bytes);
        }
        Err(_) => {}
    }
});
