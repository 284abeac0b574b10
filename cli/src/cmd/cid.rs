//! `ipfsd cid format|base32|bases|codecs|hashes`: CID utilities, computed locally (no
//! repository or daemon needed) by [`node::cidfmt`], which the RPC API's `/api/v0/cid/*`
//! also uses.

use crate::output::ignore_broken_pipe;
use anyhow::Result;
use node::cidfmt::{self, FormatOptions};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum CidCommand {
    /// Rewrite CIDs: another version (-v), multibase (-b), or a format string (-f).
    ///
    /// Format tokens: %s the CID in the base, %S without its multibase prefix, %b / %B
    /// the base's name / prefix, %v / %V the version (cidv1 / 1), %c / %C the codec name /
    /// code, %h / %H the hash name / code, %L the digest length, %m / %M the multihash in
    /// the base with / without prefix, %d / %D the digest likewise, %P the prefix
    /// (cidv1-dag-pb-sha2-256-32), %% a percent sign. Others are refused.
    Format {
        /// Format string.
        #[arg(short = 'f', default_value = "%s")]
        format: String,
        /// CID version to convert to (0 or 1).
        #[arg(short = 'v')]
        version: Option<String>,
        /// Multibase to write in (name or prefix: base32, b, base58btc, z, ...).
        #[arg(short = 'b')]
        base: Option<String>,
        /// CIDs.
        #[arg(required = true)]
        cids: Vec<String>,
    },
    /// Convert CIDs to CIDv1 in base32.
    Base32 {
        /// CIDs.
        #[arg(required = true)]
        cids: Vec<String>,
    },
    /// List the multibases.
    Bases {
        /// Show each base's prefix character.
        #[arg(long)]
        prefix: bool,
        /// Show each base's numeric code.
        #[arg(long)]
        numeric: bool,
    },
    /// List the codecs ipfsd knows.
    Codecs {
        /// Show each codec's numeric code.
        #[arg(long)]
        numeric: bool,
    },
    /// List the hash functions ipfsd implements.
    Hashes {
        /// Show each function's numeric code.
        #[arg(long)]
        numeric: bool,
    },
}

pub fn run(cmd: CidCommand) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        CidCommand::Format {
            format,
            version,
            base,
            cids,
        } => {
            let opts = FormatOptions {
                format: Some(format),
                version: version.as_deref().map(cidfmt::version_named).transpose()?,
                base: base.as_deref().map(cidfmt::base_named).transpose()?,
            };
            each(&mut out, &cids, |c| cidfmt::format_one(c, &opts))
        }
        CidCommand::Base32 { cids } => each(&mut out, &cids, cidfmt::base32),
        CidCommand::Bases { prefix, numeric } => {
            for (code, name) in cidfmt::bases() {
                let ch = char::from_u32(code)
                    .filter(|c| !c.is_control())
                    .unwrap_or(' ');
                let line = match (prefix, numeric) {
                    (true, true) => format!("{ch} {code:>5}  {name}"),
                    (true, false) => format!("{ch}  {name}"),
                    (false, true) => format!("{code:>5}  {name}"),
                    (false, false) => name.to_string(),
                };
                ignore_broken_pipe(writeln!(out, "{line}"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        CidCommand::Codecs { numeric } => list(&mut out, cidfmt::codecs(), numeric),
        CidCommand::Hashes { numeric } => list(&mut out, cidfmt::hashes(), numeric),
    }
}

/// Prints `f` of each CID; a CID that fails is reported on stderr, the rest still printed,
/// and the exit status is then 1.
fn each(
    out: &mut impl Write,
    cids: &[String],
    f: impl Fn(&str) -> Result<String, String>,
) -> Result<ExitCode> {
    let mut failed = false;
    for c in cids {
        match f(c) {
            Ok(s) => ignore_broken_pipe(writeln!(out, "{s}"))?,
            Err(e) => {
                out.flush()?;
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn list(out: &mut impl Write, rows: Vec<(u64, &str)>, numeric: bool) -> Result<ExitCode> {
    for (code, name) in rows {
        let line = if numeric {
            format!("{code:>5}  {name}")
        } else {
            name.to_string()
        };
        ignore_broken_pipe(writeln!(out, "{line}"))?;
    }
    Ok(ExitCode::SUCCESS)
}
