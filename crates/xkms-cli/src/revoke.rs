//! `xkms revoke`: revoke a key binding (seed T104).

use crate::register::{parse_respond_with, read_certificate, read_secret};
use crate::report;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::{BindingRef, RevokeParams, RevokeWith, XkmsClient};
use xkms_proto::RespondWith;
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// A certificate of the binding (PEM or DER).
    #[arg(long, required_unless_present = "key_name")]
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
    #[arg(long, conflicts_with = "revocation_phrase")]
    secret_file: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "KeyName")]
    respond_with: Vec<RespondWith>,
    #[arg(long)]
    legacy_secret: bool,
}

pub async fn run(client: &XkmsClient, args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let certificate = args.cert.as_ref().map(read_certificate).transpose()?;
    let phrase;
    let secret;
    let with = match args.revocation_phrase {
        Some(p) => {
            phrase = SharedSecret::new(p);
            RevokeWith::Phrase(&phrase)
        }
        None => {
            secret = SharedSecret::new(read_secret(args.secret, args.secret_file.as_ref())?);
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
        preparation: if args.legacy_secret {
            SecretPreparation::Legacy
        } else {
            SecretPreparation::SaslPrep
        },
        respond_with: args.respond_with,
    };
    let result = client.revoke(&params).await?;
    report::result_line(&result.result);
    for binding in &result.key_bindings {
        report::key_binding(binding);
    }
    Ok(report::exit_code(&result.result))
}
