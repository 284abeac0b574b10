#![no_main]
//! cargo-fuzz target `dag_pb`: the harness `fuzz_harness::dag_pb` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::dag_pb(data));
