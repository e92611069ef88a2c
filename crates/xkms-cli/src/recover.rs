//! `xkms recover`: recover an escrowed private key (seed T103), driving the asynchronous
//! exchange (Pending → Status → PendingRequest) with a progress line.

use crate::args::{BindingArgs, SecretArgs, WaitArgs, parse_respond_with, required};
use crate::explain::Operation;
use crate::files::{write_certificate, write_private};
use crate::output::{out, outln};
use crate::report;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::krss::first_certificate;
use xkms_client::{Progress, RecoverParams, XkmsClient};
use xkms_proto::{RespondWith, ResultMajor};

#[derive(Debug, Args)]
#[command(mut_group("secret_source", required))]
pub struct RecoverArgs {
    #[command(flatten)]
    binding: BindingArgs,
    #[command(flatten)]
    secret: SecretArgs,
    /// Where to write the recovered private key (PEM, mode 0600; must not exist).
    #[arg(long, value_name = "FILE")]
    key_out: PathBuf,
    /// Write the binding's certificate (PEM) here.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// What the result should contain (comma separated; PrivateKey is always asked for).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "KeyValue,X509Cert")]
    respond_with: Vec<RespondWith>,
    #[command(flatten)]
    polling: WaitArgs,
}

pub async fn run(client: &XkmsClient, args: RecoverArgs) -> anyhow::Result<ExitCode> {
    if args.key_out.exists() {
        anyhow::bail!(
            "{} exists: recover will not overwrite a key file",
            args.key_out.display()
        );
    }
    let (secret, preparation) = args.secret.read()?;
    let params = RecoverParams {
        binding: args.binding.binding_ref()?,
        secret: &secret,
        preparation,
        respond_with: args.respond_with,
        poll_interval: args.polling.interval(),
        max_polls: args.polling.max_polls(),
    };
    let recovered = client
        .recover(&params, |progress| match progress {
            Progress::Accepted { response_id } => {
                outln!("request accepted for asynchronous processing (response id {response_id})")
            }
            Progress::StillPending { poll } => {
                out!("\rwaiting for the service (status poll {poll}) …");
            }
            Progress::Ready => outln!("\rresult ready; fetching it"),
        })
        .await?;
    let header = &recovered.result.result;
    // Files first, output after: a closed stdout must not lose them.
    let mut written = Vec::new();
    if header.result_major == ResultMajor::Success {
        let key = recovered.private_key(&secret, preparation)?;
        write_private(&args.key_out, key.to_pem().as_bytes())?;
        written.push(format!(
            "recovered RSA-{} private key written to {}",
            key.bits(),
            args.key_out.display()
        ));
        if let (Some(out), Some(cert)) =
            (&args.out, first_certificate(&recovered.result.key_bindings))
        {
            write_certificate(out, cert)?;
            written.push(format!("certificate written to {}", out.display()));
        }
    }
    report::result_line(Operation::Recover, header);
    for binding in &recovered.result.key_bindings {
        report::key_binding(binding);
    }
    for line in written {
        outln!("{line}");
    }
    Ok(report::exit_code(header))
}
