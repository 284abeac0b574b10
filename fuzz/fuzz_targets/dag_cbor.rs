#![no_main]
//! cargo-fuzz target `dag_cbor`: the harness `fuzz_harness::dag_cbor` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::dag_cbor(data));
