//! A check both binaries' command lines share: every argument says what it is for.
//!
//! Included by path (`#[path = "…/tests/cli_help.rs"] mod cli_help;`) into the unit tests
//! of `xkms` and `xkmsd`, so there is one copy.

#![allow(dead_code)]

/// `PATH --ARG` of every argument (and subcommand) of `cmd` without help text.
pub fn missing_help(cmd: &clap::Command) -> Vec<String> {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} --{id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() && sub.get_name() != "help" {
                missing.push(format!("{path} {} (no about)", sub.get_name()));
            }
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    cmd.clone().debug_assert();
    let mut missing = Vec::new();
    walk(cmd, cmd.get_name(), &mut missing);
    missing
}
