//! `xkms validate`.

use crate::args::{parse_instant, parse_key_usage, parse_respond_with, parse_use_key_with};
use crate::explain::Operation;
use crate::files::read_certificates;
use crate::report;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use time::OffsetDateTime;
use xkms_client::XkmsClient;
use xkms_client::validate::ValidateParams;
use xkms_proto::{KeyUsage, RespondWith, ResultMajor, StatusValue, UseKeyWith};

/// Exit code 0 only when the result is Success and every key binding is Valid; 1 for
/// any other XKMS answer (Invalid, Indeterminate, NoMatch, …); 2 for a local error.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Certificate to validate (PEM or DER; the first certificate is the end entity).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Further certificates for path building (PEM, repeatable).
    #[arg(long, value_name = "FILE")]
    chain: Vec<PathBuf>,
    /// APPLICATION=IDENTIFIER the key must be valid for (repeatable; all must hold).
    #[arg(long = "use-key-with", value_name = "APP=ID", value_parser = parse_use_key_with)]
    use_key_with: Vec<UseKeyWith>,
    /// Usages to validate for: Signature, Encryption, Exchange (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_key_usage)]
    key_usage: Vec<KeyUsage>,
    /// KeyName of a registered binding (or a name the certificate must carry).
    #[arg(long)]
    key_name: Vec<String>,
    /// Evaluate at this instant (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_instant)]
    at: Option<OffsetDateTime>,
    /// What the returned key bindings should contain (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with)]
    respond_with: Vec<RespondWith>,
}

pub async fn run(client: &XkmsClient, args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let params = params(args)?;
    let result = client.validate(&params).await?;
    Ok(print_result(&result))
}

/// The request parameters the arguments describe.
pub fn params(args: ValidateArgs) -> anyhow::Result<ValidateParams> {
    let mut certificates = match &args.cert {
        Some(path) => read_certificates(path)?,
        None => Vec::new(),
    };
    for path in &args.chain {
        certificates.extend(read_certificates(path)?);
    }
    if certificates.is_empty() && args.key_name.is_empty() && args.use_key_with.is_empty() {
        anyhow::bail!("name a certificate (--cert), a --key-name or a --use-key-with");
    }
    let params = ValidateParams {
        key_names: args.key_name,
        use_key_with: args.use_key_with,
        key_usage: args.key_usage,
        certificates,
        key_value: None,
        respond_with: args.respond_with,
        response_limit: None,
        time_instant: args.at,
    };
    Ok(params)
}

/// Prints a ValidateResult; exit code 0 only when it is Success and every binding is
/// Valid, 1 otherwise.
pub fn print_result(result: &xkms_proto::ValidateResult) -> ExitCode {
    report::result_line(Operation::Validate, &result.result);
    for binding in &result.key_bindings {
        report::key_binding(binding);
    }
    let all_valid = !result.key_bindings.is_empty()
        && result
            .key_bindings
            .iter()
            .all(|b| b.status.status_value == StatusValue::Valid);
    if result.result.result_major == ResultMajor::Success && all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(report::EXIT_RESULT)
    }
}
