#![no_main]
//! cargo-fuzz target `unixfs`: the harness `fuzz_harness::unixfs` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::unixfs(data));
