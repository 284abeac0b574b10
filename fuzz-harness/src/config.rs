//! Harness for the repository's config file, read as the daemon and the CLI read it.

use node::Config;
use std::path::PathBuf;

thread_local! {
    /// One repository directory per thread, its `config` file rewritten for each input.
    /// Per thread, not per process: the replay tests run inputs on several threads at once,
    /// and a shared file was read by one while another rewrote it ("trailing characters").
    static REPO: tempfile::TempDir = tempfile::tempdir().expect("a temporary directory");
}

fn repo_dir() -> PathBuf {
    REPO.with(|d| d.path().to_path_buf())
}

fn load(bytes: &[u8]) -> Result<Config, node::RepoError> {
    let dir = repo_dir();
    std::fs::write(dir.join("config"), bytes).expect("writing the config file");
    node::repo::load_config(&dir)
}

/// The input as `$IPFSD_PATH/config`, loaded with `node::repo::load_config`, then turned
/// into the typed settings the node starts with (network, BitSwap, import, IPNS). A loaded
/// config written back out loads as the same config, and each key it shows can be set to
/// the value it shows.
pub fn config_file(data: &[u8]) {
    let Ok(config) = load(data) else {
        return;
    };
    // Every duration a loaded config holds can be added to the clock: none can overflow
    // an `Instant` later (a reprovider deadline, a record's validity).
    for value in [
        &config.api.upload_idle_timeout,
        &config.api.header_timeout,
        &config.gateway.retrieval_timeout,
        &config.gateway.header_timeout,
        &config.routing.query_timeout,
        &config.swarm.idle_timeout,
        &config.bitswap.strict_cooldown,
        &config.bitswap.fetch_timeout,
        &config.provide.interval,
        &config.ipns.republish_period,
        &config.ipns.record_lifetime,
    ] {
        let d = node::config::parse_duration(value)
            .unwrap_or_else(|| panic!("a loaded config holds the unparsable duration {value:?}"));
        assert!(
            d <= node::config::MAX_LIFETIME,
            "a loaded config holds the unbounded duration {value:?}"
        );
        assert!(std::time::Instant::now().checked_add(d).is_some());
    }
    // A config that loads has its typed settings: nothing is left to fail later.
    let settings = config
        .settings()
        .unwrap_or_else(|e| panic!("a loaded config has no settings: {e}"));
    let _ = node::content::bitswap_config(&settings.bitswap, &repo_dir());
    let _ = config.api.allowed_origins();
    for profile in ["public", "local"] {
        let _ = node::config::apply_profile(&config, profile);
    }
    let written = serde_json::to_vec_pretty(&config).expect("a config serializes");
    let again = load(&written).expect("a written config loads");
    assert_eq!(
        again, config,
        "config changed when written and loaded again"
    );
    if let serde_json::Value::Object(sections) = config.to_value() {
        for (section, value) in sections {
            let same = config
                .with(&section, value)
                .unwrap_or_else(|e| panic!("setting {section} to its own value: {e}"));
            assert_eq!(
                same, config,
                "setting {section} to its own value changed it"
            );
        }
    }
}
