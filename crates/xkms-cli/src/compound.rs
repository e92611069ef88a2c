//! `xkms compound FILE`: one CompoundRequest from several operations, one per line:
//!
//! ```text
//! locate --key-name joe@example.com
//! locate --use-key-with urn:ietf:rfc:2633=bob@example.com --key-usage Encryption
//! validate --cert joe.pem
//! ```
//!
//! Blank lines and lines starting with `#` are ignored; arguments are split on white
//! space, with "double quotes" grouping.

use crate::explain::Operation;
use crate::output::outln;
use crate::{locate, report, validate};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::{Progress, XkmsClient};
use xkms_proto::{InnerRequest, InnerResult, ResultMajor};

#[derive(Debug, Args)]
pub struct CompoundArgs {
    /// The file of operations (one `locate …` or `validate …` command line per line).
    file: PathBuf,
    /// Accept asynchronous processing of the compound (ResponseMechanism Pending).
    #[arg(long)]
    pending: bool,
}

#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct Line {
    #[command(subcommand)]
    op: Op,
}

#[derive(Debug, Subcommand)]
enum Op {
    Locate(locate::LocateArgs),
    Validate(validate::ValidateArgs),
}

pub async fn run(client: &XkmsClient, args: CompoundArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut requests = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = Line::try_parse_from(split(line))
            .with_context(|| format!("{} line {}", args.file.display(), number + 1))?;
        requests.push(match parsed.op {
            Op::Locate(a) => InnerRequest::Locate(client.locate_request(&locate::params(a)?)),
            Op::Validate(a) => {
                InnerRequest::Validate(client.validate_request(&validate::params(a)?))
            }
        });
    }
    anyhow::ensure!(
        !requests.is_empty(),
        "{} holds no operation",
        args.file.display()
    );
    let result = client
        .compound(
            requests,
            args.pending,
            |doc, _| Ok(doc),
            |p| {
                if let Progress::Accepted { response_id } = p {
                    outln!(
                        "compound accepted for asynchronous processing (response id {response_id})"
                    );
                }
            },
        )
        .await?;
    report::result_line(Operation::Compound, &result.result);
    let mut all_success = result.result.result_major == ResultMajor::Success;
    for (i, inner) in result.results.iter().enumerate() {
        outln!("--- request {}", i + 1);
        match inner {
            InnerResult::Locate(r) => {
                all_success &= r.result.result_major == ResultMajor::Success;
                locate::print_result(r, &[]);
            }
            InnerResult::Validate(r) => {
                all_success &= validate::print_result(r) == ExitCode::SUCCESS;
            }
            other => {
                all_success = false;
                outln!("unexpected inner result {}", inner_kind(other));
            }
        }
    }
    Ok(if all_success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(report::EXIT_RESULT)
    })
}

fn inner_kind(result: &InnerResult) -> &'static str {
    match result {
        InnerResult::Locate(_) => "LocateResult",
        InnerResult::Validate(_) => "ValidateResult",
        InnerResult::Register(_) => "RegisterResult",
        InnerResult::Reissue(_) => "ReissueResult",
        InnerResult::Recover(_) => "RecoverResult",
        InnerResult::Revoke(_) => "RevokeResult",
    }
}

/// Splits a line on white space; "double quotes" group words.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut current));
                    any = false;
                }
            }
            c => {
                current.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_parse() {
        assert_eq!(
            split(r#"locate --use-key-with "urn:ietf:rfc:2459=C=US;CN=Joe Doe"  --key-name x"#),
            vec![
                "locate",
                "--use-key-with",
                "urn:ietf:rfc:2459=C=US;CN=Joe Doe",
                "--key-name",
                "x"
            ]
        );
        assert!(Line::try_parse_from(split("locate --key-name joe@example.com")).is_ok());
        assert!(Line::try_parse_from(split("register --key k.pem")).is_err());
    }
}
