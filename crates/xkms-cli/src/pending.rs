//! `xkms pending status|fetch`: finish a request the service answered with Pending
//! (an asynchronous policy, or one waiting for an operator's approval).

use crate::args::{SecretArgs, WaitArgs};
use crate::explain::Operation;
use crate::files::{write_certificate, write_private};
use crate::output::{out, outln};
use crate::report;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::XkmsClient;
use xkms_client::krss::{first_certificate, returned_private_key};
use xkms_proto::{KeyBinding, PrivateKey, ResultAbstract, ResultMajor, ResultMessage};

#[derive(Debug, Subcommand)]
pub enum PendingCommand {
    /// Ask whether an asynchronous request has finished (exit 0: ready to fetch; 3: still
    /// pending).
    Status(StatusArgs),
    /// Fetch the result of a finished asynchronous request, writing its certificate and
    /// (service-generated or recovered) private key.
    Fetch(FetchArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The response Id the Pending result carried.
    response_id: String,
    /// The Id of the original request (printed with the response Id); the service then
    /// also checks that the two belong together.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The response Id the Pending result carried.
    response_id: String,
    /// The Id of the original request (printed with the response Id).
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
    /// Write the binding's certificate (PEM) here.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write a returned private key here (PEM, mode 0600; must not exist); needs the
    /// authorization code that encrypts it.
    #[arg(long, value_name = "FILE", requires = "secret_source")]
    key_out: Option<PathBuf>,
    // The authorization code the private key is encrypted under (with --key-out).
    #[command(flatten)]
    secret: SecretArgs,
}

pub async fn run(client: &XkmsClient, command: PendingCommand) -> anyhow::Result<ExitCode> {
    match command {
        PendingCommand::Status(args) => {
            let status = client
                .status_of(&args.response_id, args.request_id.as_deref())
                .await?;
            report::result_line(Operation::Status, &status.result);
            Ok(match status.result.result_major {
                ResultMajor::Success => {
                    outln!(
                        "ready: xkms pending fetch {}{}",
                        args.response_id,
                        args.request_id
                            .map(|id| format!(" --request-id {id}"))
                            .unwrap_or_default()
                    );
                    ExitCode::SUCCESS
                }
                _ => report::exit_code(&status.result),
            })
        }
        PendingCommand::Fetch(args) => fetch(client, args).await,
    }
}

async fn fetch(client: &XkmsClient, args: FetchArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = args.key_out.as_ref().filter(|p| p.exists()) {
        anyhow::bail!(
            "{} exists: fetch will not overwrite a key file",
            path.display()
        );
    }
    let secret = args.secret.read_optional()?;
    let result = client
        .fetch_result(&args.response_id, args.request_id.as_deref())
        .await?;
    let (header, bindings, private_key) = parts(&result);
    // Files first, output after: a closed stdout must not lose them.
    let mut written = Vec::new();
    if header.result_major == ResultMajor::Success {
        if let (Some(path), Some(secret)) = (&args.key_out, &secret) {
            let key =
                returned_private_key(private_key, bindings, secret, args.secret.preparation())?;
            write_private(path, key.to_pem().as_bytes())?;
            written.push(format!(
                "RSA-{} private key written to {}",
                key.bits(),
                path.display()
            ));
        }
        if let (Some(out), Some(cert)) = (&args.out, first_certificate(bindings)) {
            write_certificate(out, cert)?;
            written.push(format!("certificate written to {}", out.display()));
        }
    }
    report::result_line(Operation::of_result(&result), header);
    for binding in bindings {
        report::key_binding(binding);
    }
    for line in written {
        outln!("{line}");
    }
    Ok(report::exit_code(header))
}

/// Polls the status of `response_id` until it is no longer Pending, then fetches the
/// result. A final StatusResult comes back instead when the status request failed or
/// the request was still pending after the last poll.
pub async fn wait_and_fetch(
    client: &XkmsClient,
    response_id: &str,
    request_id: Option<&str>,
    polling: &WaitArgs,
) -> anyhow::Result<ResultMessage> {
    let interval = polling.interval();
    let mut poll = 0;
    loop {
        poll += 1;
        let status = client.status_of(response_id, request_id).await?;
        match status.result.result_major {
            ResultMajor::Pending if poll < polling.max_polls() => {
                out!("\rwaiting for the service (status poll {poll}) …");
                tokio::time::sleep(interval).await;
            }
            ResultMajor::Success => {
                if poll > 1 {
                    outln!();
                }
                return Ok(client.fetch_result(response_id, request_id).await?);
            }
            _ => {
                if poll > 1 {
                    outln!();
                }
                return Ok(ResultMessage::Status(status));
            }
        }
    }
}

/// The header, key bindings and private key of any result.
fn parts(result: &ResultMessage) -> (&ResultAbstract, &[KeyBinding], Option<&PrivateKey>) {
    match result {
        ResultMessage::Register(r) => (&r.result, &r.key_bindings, r.private_key.as_ref()),
        ResultMessage::Recover(r) => (&r.result, &r.key_bindings, r.private_key.as_ref()),
        ResultMessage::Reissue(r) => (&r.result, &r.key_bindings, None),
        ResultMessage::Revoke(r) => (&r.result, &r.key_bindings, None),
        ResultMessage::Validate(r) => (&r.result, &r.key_bindings, None),
        ResultMessage::Locate(r) => (&r.result, &[], None),
        ResultMessage::Compound(r) => (&r.result, &[], None),
        ResultMessage::Status(r) => (&r.result, &[], None),
        ResultMessage::Result(r) => (r, &[], None),
    }
}
