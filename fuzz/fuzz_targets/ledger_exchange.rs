#![no_main]
//! cargo-fuzz target `ledger_exchange`: the harness `fuzz_harness::ledger_exchange` (see fuzz-harness).

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::ledger_exchange(data));
