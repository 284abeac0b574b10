#![no_main]
//! cargo-fuzz target `multipart_add`: the harness `fuzz_harness::multipart_add` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::multipart_add(data));
