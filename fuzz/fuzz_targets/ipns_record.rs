#![no_main]
//! cargo-fuzz target `ipns_record`: the harness `fuzz_harness::ipns_record` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::ipns_record(data));
