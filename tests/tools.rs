//! External command-line tools the tests run (`openssl`, `xmlsec1`, `xmllint`, …).
//!
//! Included by path (`#[path = "…/tests/tools.rs"] mod tools;`) into each crate's tests,
//! so there is one copy. A missing tool fails the test with the tool's name and the
//! command that installs it; `scripts/test` installs all of them before running.

#![allow(dead_code)]

use std::process::Command;

/// A `Command` for `name`, or a panic that names the Debian package to install.
pub fn tool(name: &str) -> Command {
    if !on_path(name) {
        let package = match name {
            "xmllint" => "libxml2-utils",
            "softhsm2-util" => "softhsm2",
            "psql" | "pg_isready" => "postgresql-client",
            "script" => "bsdutils",
            other => other,
        };
        panic!(
            "the test needs `{name}`, which is not installed: run `scripts/test` (it installs \
             what the tests need) or `apt-get install -y {package}`"
        );
    }
    Command::new(name)
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}
