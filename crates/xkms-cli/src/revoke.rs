//! `xkms revoke`: revoke a key binding (seed T104).

use crate::args::{BindingArgs, SecretArgs, parse_respond_with};
use crate::explain::Operation;
use crate::report;
use clap::Args;
use std::process::ExitCode;
use xkms_client::{RevokeParams, RevokeWith, XkmsClient};
use xkms_proto::RespondWith;
use xkms_xmlsec::kdf::SharedSecret;

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    binding: BindingArgs,
    /// The revocation pass phrase given at registration.
    #[arg(
        long,
        required_unless_present = "secret_source",
        conflicts_with = "secret_source"
    )]
    revocation_phrase: Option<String>,
    // Or an authorization code (KeyBindingAuthentication).
    #[command(flatten)]
    secret: SecretArgs,
    /// What the result should contain (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "KeyName")]
    respond_with: Vec<RespondWith>,
}

pub async fn run(client: &XkmsClient, args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let phrase;
    let secret;
    let with = match args.revocation_phrase {
        Some(p) => {
            phrase = SharedSecret::new(p);
            RevokeWith::Phrase(&phrase)
        }
        None => {
            (secret, _) = args.secret.read()?;
            RevokeWith::Secret(&secret)
        }
    };
    let params = RevokeParams {
        binding: args.binding.binding_ref()?,
        with,
        preparation: args.secret.preparation(),
        respond_with: args.respond_with,
    };
    let result = client.revoke(&params).await?;
    report::result_line(Operation::Revoke, &result.result);
    for binding in &result.key_bindings {
        report::key_binding(binding);
    }
    Ok(report::exit_code(&result.result))
}
