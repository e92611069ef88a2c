//! `xkms recover`: recover an escrowed private key (seed T103), driving the asynchronous
//! exchange (Pending → Status → PendingRequest) with a progress line.

use crate::register::{
    parse_respond_with, read_certificate, read_secret, write_certificate, write_private,
};
use crate::report;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use xkms_client::krss::first_certificate;
use xkms_client::{BindingRef, Progress, RecoverParams, XkmsClient};
use xkms_proto::{RespondWith, ResultMajor};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// A certificate of the binding (PEM or DER).
    #[arg(long, required_unless_present = "key_name")]
    cert: Option<PathBuf>,
    /// The binding's KeyName.
    #[arg(long)]
    key_name: Option<String>,
    /// The recovery authorization code the operator issued.
    #[arg(
        long,
        conflicts_with = "secret_file",
        required_unless_present = "secret_file"
    )]
    secret: Option<String>,
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Where to write the recovered private key (PEM, mode 0600; must not exist).
    #[arg(long)]
    key_out: PathBuf,
    /// Write the binding's certificate (PEM) here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "KeyValue,X509Cert")]
    respond_with: Vec<RespondWith>,
    /// Seconds between status polls.
    #[arg(long, default_value_t = 1.0)]
    poll_seconds: f64,
    /// Give up after this many polls.
    #[arg(long, default_value_t = 600)]
    max_polls: u32,
    #[arg(long)]
    legacy_secret: bool,
}

pub async fn run(client: &XkmsClient, args: RecoverArgs) -> anyhow::Result<ExitCode> {
    if args.key_out.exists() {
        anyhow::bail!(
            "{} exists: recover will not overwrite a key file",
            args.key_out.display()
        );
    }
    let certificate = args.cert.as_ref().map(read_certificate).transpose()?;
    let secret = SharedSecret::new(read_secret(args.secret, args.secret_file.as_ref())?);
    let preparation = if args.legacy_secret {
        SecretPreparation::Legacy
    } else {
        SecretPreparation::SaslPrep
    };
    let params = RecoverParams {
        binding: BindingRef {
            certificate,
            key_name: args.key_name,
            ..Default::default()
        },
        secret: &secret,
        preparation,
        respond_with: args.respond_with,
        poll_interval: Duration::from_secs_f64(args.poll_seconds.max(0.05)),
        max_polls: args.max_polls,
    };
    let recovered = client
        .recover(&params, |progress| match progress {
            Progress::Accepted { response_id } => {
                println!("request accepted for asynchronous processing (response id {response_id})")
            }
            Progress::StillPending { poll } => {
                print!("\rwaiting for the service… (status poll {poll})");
                std::io::stdout().flush().ok();
            }
            Progress::Ready => println!("\rresult ready; fetching it"),
        })
        .await?;
    let header = &recovered.result.result;
    report::result_line(header);
    for binding in &recovered.result.key_bindings {
        report::key_binding(binding);
    }
    if header.result_major == ResultMajor::Success {
        let key = recovered.private_key(&secret, preparation)?;
        write_private(&args.key_out, key.to_pem().as_bytes())?;
        println!(
            "recovered RSA-{} private key written to {}",
            key.bits(),
            args.key_out.display()
        );
        write_certificate(
            args.out.as_ref(),
            first_certificate(&recovered.result.key_bindings),
        )?;
    }
    Ok(report::exit_code(header))
}
