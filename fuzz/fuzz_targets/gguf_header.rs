//! Any bytes (after a valid GGUF v3 preamble half of the time): the GGUF parser answers
//! without panicking, asks for more than it was given, and a parsed header's tensors do not
//! overlap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vramfit_core::formats::gguf::{parse_header, MAX_HEADER_BYTES};
use vramfit_core::formats::Parsed;

fuzz_target!(|data: &[u8]| {
    let owned;
    let input = if data.first().is_some_and(|b| b & 1 == 1) {
        let mut v = b"GGUF\x03\0\0\0".to_vec();
        v.extend_from_slice(&data[1..]);
        owned = v;
        &owned[..]
    } else {
        data
    };
    match parse_header(input) {
        Ok(Parsed::NeedBytes(n)) => assert!(n > input.len() as u64 && n <= MAX_HEADER_BYTES),
        Ok(Parsed::Done(f)) => {
            assert!(f.header_bytes <= input.len() as u64);
            assert!(f.tensor_bytes() <= f.padded_tensor_bytes());
        }
        Err(_) => {}
    }
});
