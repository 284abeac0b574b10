//! Writes the seed corpora: `cargo run -p ipfsd-fuzz-harness --example seed_corpus`
//! (re)writes `fuzz/corpus/<target>/seed-<name>` from `fuzz_harness::seeds`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, name, data) in fuzz_harness::seeds::all() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), data)?;
    }
    println!("seeds written under {}", root.display());
    Ok(())
}
