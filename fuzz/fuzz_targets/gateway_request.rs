#![no_main]
//! cargo-fuzz target `gateway_request`: the harness `fuzz_harness::gateway_request` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::gateway_request(data));
