//! `xkms reissue`: a new certificate for a registered key (seed T102).

use crate::register::{parse_respond_with, read_certificate, read_secret, write_certificate};
use crate::report;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::reissue::reissued_certificate;
use xkms_client::{BindingRef, ClientKey, ReissueParams, XkmsClient};
use xkms_proto::RespondWith;
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

#[derive(Debug, Args)]
pub struct ReissueArgs {
    /// The current certificate of the binding (PEM or DER).
    #[arg(long)]
    cert: PathBuf,
    /// The private key, for proof of possession (required when the key is your own).
    #[arg(long)]
    key: Option<PathBuf>,
    #[arg(
        long,
        conflicts_with = "secret_file",
        required_unless_present = "secret_file"
    )]
    secret: Option<String>,
    #[arg(long)]
    secret_file: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "X509Cert")]
    respond_with: Vec<RespondWith>,
    /// Write the new certificate (PEM) here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    legacy_secret: bool,
}

pub async fn run(client: &XkmsClient, args: ReissueArgs) -> anyhow::Result<ExitCode> {
    let certificate = read_certificate(&args.cert)?;
    let key = match &args.key {
        Some(path) => Some(ClientKey::from_pem(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?),
        None => None,
    };
    let secret = SharedSecret::new(read_secret(args.secret, args.secret_file.as_ref())?);
    let params = ReissueParams {
        binding: BindingRef {
            certificate: Some(certificate),
            ..Default::default()
        },
        key: key.as_ref(),
        secret: &secret,
        preparation: if args.legacy_secret {
            SecretPreparation::Legacy
        } else {
            SecretPreparation::SaslPrep
        },
        respond_with: args.respond_with,
    };
    let result = client.reissue(&params).await?;
    report::result_line(&result.result);
    for binding in &result.key_bindings {
        report::key_binding(binding);
    }
    write_certificate(args.out.as_ref(), reissued_certificate(&result))?;
    Ok(report::exit_code(&result.result))
}
