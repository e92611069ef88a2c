//! Documentation generated from the command-line definition: shell completions and
//! manual pages, so they never drift from the flags.

use crate::Cli;
use crate::output::outln;
use anyhow::Context;
use clap::{Args, CommandFactory};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing).
    dir: PathBuf,
}

/// `xkms completions SHELL`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "xkms", &mut script);
    crate::output::bytes(&script);
    Ok(ExitCode::SUCCESS)
}

/// `xkms man DIR`: one page per command (`xkms.1`, `xkms-register.1`, …).
pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.dir)
        .with_context(|| format!("writing manual pages into {}", args.dir.display()))?;
    outln!("manual pages written to {}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}

/// ANSI colour in log lines only on a terminal, and never with `NO_COLOR` set
/// (no-color.org: any non-empty value).
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
