//! Helpers shared by the integration tests in `tests/tests/` (multi-crate scenarios and
//! interop with the reference peers).

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether a missing reference peer (Kubo, Helia) or Chromium must fail the tests rather
/// than skip them: under CI (`CI=true`, which `.ci/run` sets) or when `scripts/test.sh`
/// says so (`IPFSD_REQUIRE_PEERS=1`, which it exports under CI).
pub fn peers_required() -> bool {
    required(&|k| std::env::var(k).ok())
}

fn required(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("CI").is_some_and(|v| v == "true") || env("IPFSD_REQUIRE_PEERS").is_some_and(|v| v == "1")
}

/// What a test that needs reference peers is to do.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Run,
    /// Skip, saying why on stderr.
    Skip(String),
    /// Fail: the peers are required here.
    Fail(String),
}

/// The one decision: `skip_vars` are the environment variables that ask for a skip
/// (`IPFSD_SKIP_INTEROP`, `SKIP_BROWSER`), `missing` what is not installed.
fn verdict(
    env: &dyn Fn(&str) -> Option<String>,
    skip_vars: &[&str],
    missing: Option<String>,
) -> Verdict {
    let asked = skip_vars.iter().find(|k| env(k).is_some_and(|v| v == "1"));
    let why = match (asked, missing) {
        (Some(k), _) => format!("{k}=1"),
        (None, Some(m)) => format!("{m} (run `bash scripts/setup-peers.sh` to install it)"),
        (None, None) => return Verdict::Run,
    };
    if required(env) {
        Verdict::Fail(format!(
            "{why}: refused, the reference peers are required under CI=true / IPFSD_REQUIRE_PEERS=1"
        ))
    } else {
        Verdict::Skip(why)
    }
}

fn decide(test: &str, skip_vars: &[&str], missing: Option<String>) -> bool {
    match verdict(&|k| std::env::var(k).ok(), skip_vars, missing) {
        Verdict::Run => false,
        Verdict::Skip(why) => {
            eprintln!("{test} skipped: {why}");
            true
        }
        Verdict::Fail(why) => panic!("{test}: {why}"),
    }
}

/// Whether interop tests are to be skipped (`IPFSD_SKIP_INTEROP=1`, for machines without
/// the reference peers); says so on stderr. Panics instead when [`peers_required`]: CI
/// must not pass by skipping.
pub fn skip_interop() -> bool {
    decide("interop test", &["IPFSD_SKIP_INTEROP"], None)
}

/// Whether the browser test is to be skipped: `IPFSD_SKIP_INTEROP=1`, `SKIP_BROWSER=1`, or
/// `missing` (Chromium or playwright-core not installed). Panics instead when
/// [`peers_required`].
pub fn skip_browser(missing: Option<String>) -> bool {
    decide(
        "browser test",
        &["IPFSD_SKIP_INTEROP", "SKIP_BROWSER"],
        missing,
    )
}

pub mod fixtures;
pub mod hostile;
pub mod http;
pub mod ipns_forge;
pub mod kad_wire;
pub mod mixed;
pub mod peer;
pub mod script;
pub mod testnet;

#[cfg(test)]
mod tests {
    use super::{Verdict, verdict};

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const VARS: &[&str] = &["IPFSD_SKIP_INTEROP", "SKIP_BROWSER"];

    #[test]
    fn outside_ci_a_skip_request_or_a_missing_peer_skips() {
        assert_eq!(verdict(&env(&[]), VARS, None), Verdict::Run);
        assert!(matches!(
            verdict(&env(&[("SKIP_BROWSER", "1")]), VARS, None),
            Verdict::Skip(w) if w == "SKIP_BROWSER=1"
        ));
        assert!(matches!(
            verdict(&env(&[("CI", "false")]), VARS, Some("chromium is missing".into())),
            Verdict::Skip(w) if w.starts_with("chromium is missing")
        ));
        // Only "1" asks for a skip.
        assert_eq!(
            verdict(&env(&[("IPFSD_SKIP_INTEROP", "0")]), VARS, None),
            Verdict::Run
        );
    }

    #[test]
    fn under_ci_a_skip_request_or_a_missing_peer_fails() {
        for ci in [("CI", "true"), ("IPFSD_REQUIRE_PEERS", "1")] {
            for case in [
                verdict(&env(&[ci, ("IPFSD_SKIP_INTEROP", "1")]), VARS, None),
                verdict(&env(&[ci, ("SKIP_BROWSER", "1")]), VARS, None),
                verdict(&env(&[ci]), VARS, Some("chromium is missing".into())),
            ] {
                assert!(
                    matches!(&case, Verdict::Fail(w) if w.contains("refused")),
                    "{ci:?}: {case:?}"
                );
            }
            assert_eq!(verdict(&env(&[ci]), VARS, None), Verdict::Run);
        }
    }

    /// `bash .ci/run` with a skip switch set is refused before anything runs: `.ci/run`
    /// sets `CI=true` itself and `scripts/test.sh` refuses the switch. The PATH holds only
    /// `bash` and `dirname`, so a script that did not refuse could not start the suite (it
    /// fails on the first other command instead, with another status and message).
    #[test]
    fn ci_run_refuses_every_skip_switch() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let bin = tmp.path();
        for tool in ["bash", "dirname"] {
            let found = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| std::path::Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{tool} not found"));
            std::os::unix::fs::symlink(found, bin.join(tool)).expect("symlink");
        }
        let ci_run = super::workspace_root().join(".ci/run");
        for var in [
            "IPFSD_SKIP_INTEROP",
            "SKIP_BROWSER",
            "SKIP_KUBO",
            "SKIP_HELIA",
        ] {
            let out = crate::script::run(
                std::process::Command::new(bin.join("bash"))
                    .arg(&ci_run)
                    .env_clear()
                    .env("PATH", bin)
                    .env(var, "1"),
                std::time::Duration::from_secs(30),
            )
            .expect("bash runs");
            assert_eq!(
                out.status.and_then(|s| s.code()),
                Some(2),
                "{var}=1 was not refused: {out:?}"
            );
            assert!(
                out.stderr
                    .contains(&format!("{var}=1 is refused under CI=true")),
                "{out:?}"
            );
        }
    }
}
