#![no_main]
//! cargo-fuzz target `bitswap_message`: the harness `fuzz_harness::bitswap_message` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::bitswap_message(data));
