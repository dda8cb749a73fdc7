//! The `tripline` command line: `scan`, `tail`, `convert`, `rules check`.

mod cli;
mod mode;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command, RulesCommand};
use crate::mode::Exit;

/// mimalloc on Linux: see the dependency's note in Cargo.toml (measured, 20-25% less CPU per scan).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return if usage {
                Exit::Error.into()
            } else {
                Exit::Clean.into()
            };
        }
    };
    let res = match cli.command {
        Command::Scan(a) => mode::scan::scan(a),
        Command::Convert(a) => mode::scan::convert(a),
        Command::Tail(a) => mode::tail::tail(a),
        Command::Completions { shell } => {
            cli::doc::completions(shell, &mut std::io::stdout().lock());
            Ok(Exit::Clean)
        }
        Command::Man => cli::doc::man(&mut std::io::stdout().lock())
            .map(|()| Exit::Clean)
            .map_err(anyhow::Error::from),
        Command::Rules {
            command: RulesCommand::Check(a),
        } => mode::check::check(a),
    };
    match res {
        Ok(code) => code.into(),
        Err(e) if mode::is_broken_pipe(&e) => Exit::Clean.into(),
        Err(e) => {
            eprintln!(
                "tripline: error: {}",
                tripline::pipeline::escape(&format!("{e:#}"))
            );
            Exit::Error.into()
        }
    }
}
