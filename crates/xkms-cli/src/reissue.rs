//! `xkms reissue`: a new certificate for a registered key (seed T102).

use crate::args::{SecretArgs, parse_respond_with, required};
use crate::explain::Operation;
use crate::files::{read_certificate, read_key, write_certificate};
use crate::output::outln;
use crate::report;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::reissue::reissued_certificate;
use xkms_client::{BindingRef, ReissueParams, XkmsClient};
use xkms_proto::RespondWith;

#[derive(Debug, Args)]
#[command(mut_group("secret_source", required))]
pub struct ReissueArgs {
    /// The current certificate of the binding (PEM or DER).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The private key, for proof of possession (required when the key is your own).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    #[command(flatten)]
    secret: SecretArgs,
    /// What the result should contain (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "X509Cert")]
    respond_with: Vec<RespondWith>,
    /// Write the new certificate (PEM) here.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub async fn run(client: &XkmsClient, args: ReissueArgs) -> anyhow::Result<ExitCode> {
    let certificate = read_certificate(&args.cert)?;
    let key = args.key.as_deref().map(read_key).transpose()?;
    let (secret, preparation) = args.secret.read()?;
    let params = ReissueParams {
        binding: BindingRef {
            certificate: Some(certificate),
            ..Default::default()
        },
        key: key.as_ref(),
        secret: &secret,
        preparation,
        respond_with: args.respond_with,
    };
    let result = client.reissue(&params).await?;
    // Files first, output after: a closed stdout must not lose them.
    let written = match (&args.out, reissued_certificate(&result)) {
        (Some(out), Some(cert)) => {
            write_certificate(out, cert)?;
            Some(out)
        }
        _ => None,
    };
    report::result_line(Operation::Reissue, &result.result);
    for binding in &result.key_bindings {
        report::key_binding(binding);
    }
    if let Some(out) = written {
        outln!("certificate written to {}", out.display());
    }
    Ok(report::exit_code(&result.result))
}
