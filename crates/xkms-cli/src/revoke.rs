//! `xkms revoke`: revoke a key binding (seed T104).

use crate::args::{parse_respond_with, preparation};
use crate::explain::Operation;
use crate::files::{read_certificate, read_secret};
use crate::report;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::{BindingRef, RevokeParams, RevokeWith, XkmsClient};
use xkms_proto::RespondWith;
use xkms_xmlsec::kdf::SharedSecret;

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// A certificate of the binding (PEM or DER).
    #[arg(long, value_name = "FILE", required_unless_present = "key_name")]
    cert: Option<PathBuf>,
    /// The binding's KeyName (when there is no certificate at hand).
    #[arg(long)]
    key_name: Option<String>,
    /// The revocation pass phrase given at registration.
    #[arg(long, required_unless_present_any = ["secret", "secret_file"])]
    revocation_phrase: Option<String>,
    /// Or an authorization code (KeyBindingAuthentication).
    #[arg(long, conflicts_with_all = ["revocation_phrase", "secret_file"])]
    secret: Option<String>,
    /// Or a file holding the authorization code (a trailing newline is ignored).
    #[arg(long, value_name = "FILE", conflicts_with = "revocation_phrase")]
    secret_file: Option<PathBuf>,
    /// What the result should contain (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "KeyName")]
    respond_with: Vec<RespondWith>,
    /// Prepare the phrase or code with the pre-REC rule (lower case, spaces removed).
    #[arg(long)]
    legacy_secret: bool,
}

pub async fn run(client: &XkmsClient, args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let certificate = args.cert.as_deref().map(read_certificate).transpose()?;
    let phrase;
    let secret;
    let with = match args.revocation_phrase {
        Some(p) => {
            phrase = SharedSecret::new(p);
            RevokeWith::Phrase(&phrase)
        }
        None => {
            secret = SharedSecret::new(read_secret(args.secret, args.secret_file.as_deref())?);
            RevokeWith::Secret(&secret)
        }
    };
    let params = RevokeParams {
        binding: BindingRef {
            certificate,
            key_name: args.key_name,
            ..Default::default()
        },
        with,
        preparation: preparation(args.legacy_secret),
        respond_with: args.respond_with,
    };
    let result = client.revoke(&params).await?;
    report::result_line(Operation::Revoke, &result.result);
    for binding in &result.key_bindings {
        report::key_binding(binding);
    }
    Ok(report::exit_code(&result.result))
}
