//! `ipfsd`: the command line. Parses arguments, runs one command, prints one clear line on
//! error. The work itself lives in the `dag` and `node` crates.

mod cmd;
mod output;

use clap::Parser;
use std::process::ExitCode;

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
