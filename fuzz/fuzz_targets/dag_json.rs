#![no_main]
//! cargo-fuzz target `dag_json`: the harness `fuzz_harness::dag_json` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::dag_json(data));
