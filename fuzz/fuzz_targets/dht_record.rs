#![no_main]
//! cargo-fuzz target `dht_record`: the harness `fuzz_harness::dht_record` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::dht_record(data));
