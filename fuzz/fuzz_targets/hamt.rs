#![no_main]
//! cargo-fuzz target `hamt`: the harness `fuzz_harness::hamt` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::hamt(data));
