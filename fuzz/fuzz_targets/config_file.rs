#![no_main]
//! cargo-fuzz target `config_file`: the harness `fuzz_harness::config_file` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::config_file(data));
