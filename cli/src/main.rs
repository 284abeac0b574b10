//! `ipfsd`: the command line. Parses arguments, runs one command, prints one clear line on
//! error. The work itself lives in the `dag` and `node` crates.

// The `///` comments on arguments are clap's `--help` text, which prints them verbatim:
// `<cid>` there is the usual placeholder, not an HTML tag (rustdoc renders these docs too).
#![allow(rustdoc::invalid_html_tags)]

mod cmd;
mod output;
mod remote;

use clap::Parser;
use std::process::ExitCode;

// Blocks are 256 KiB-1 MiB buffers allocated and freed at a high rate; mimalloc keeps them
// in reusable segments instead of a fresh mmap (page faults and zeroing) per block.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            ExitCode::FAILURE
        }
    }
}
