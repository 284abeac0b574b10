#![no_main]
//! cargo-fuzz target `car`: the harness `fuzz_harness::car` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::car(data));
