//! `xkms`: the XKMS 2.0 command-line client.

mod args;
mod bench;
mod compound;
mod docs;
mod explain;
mod files;
mod locate;
mod options;
mod output;
mod pending;
mod recover;
mod register;
mod reissue;
mod report;
mod revoke;
mod validate;

use clap::{Parser, Subcommand};
use output::errln;
use std::process::ExitCode;
use std::time::Duration;

/// Exit statuses, shown by `--help` and documented in the README.
const EXIT_STATUS: &str = "\
Exit status:
  0  Success. validate: Success and every key binding Valid.
  1  The service answered with another result (printed with a hint). validate: also
     a Success whose key bindings are not all Valid (Invalid, Indeterminate) or NoMatch.
  2  Local or transport error: bad arguments, an unreadable or unusable file, a bad
     URL, connection refused, timeout, a result that does not answer the request.
  3  Pending: accepted for asynchronous processing and not finished yet
     (register --pending; pending status; register --wait after --max-polls).";

#[derive(Debug, Parser)]
#[command(
    name = "xkms",
    version,
    propagate_version = true,
    about = "XKMS 2.0 client: register, reissue, revoke, recover, locate, validate",
    after_help = EXIT_STATUS
)]
struct Cli {
    /// The service URL (also sent as the Service URI).
    #[arg(
        long,
        global = true,
        env = "XKMS_SERVICE",
        default_value = "http://127.0.0.1:8080/xkms"
    )]
    service: String,
    /// The Service URI to send and expect back, when it differs from the URL posted to
    /// (a proxy in front of the service).
    #[arg(long, global = true, value_name = "URI")]
    service_uri: Option<String>,
    /// For https:// services: trust this CA (PEM file, e.g. `xkmsd admin ca-certificate`)
    /// for the server's TLS certificate, besides the system's roots.
    #[arg(long, global = true, value_name = "CA.pem", env = "XKMS_CA_CERT")]
    ca_cert: Option<std::path::PathBuf>,
    /// Give up on an exchange with the service after this many seconds.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    timeout: u64,
    /// SOAP binding: soap12 (default), soap11 or bare.
    #[arg(long, global = true, default_value = "soap12")]
    binding: args::BindingArg,
    #[command(flatten)]
    protocol: options::ProtocolArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register a key: yours (generated into --key if the file does not exist) or, with
    /// --generate-key, one the service generates.
    Register(register::RegisterArgs),
    /// Get a new certificate for a registered key.
    Reissue(reissue::ReissueArgs),
    /// Revoke a key binding (revocation phrase or authorization code).
    Revoke(revoke::RevokeArgs),
    /// Recover an escrowed private key (waits for asynchronous completion).
    Recover(recover::RecoverArgs),
    /// Find keys by name, address, certificate or usage; shows each binding's status.
    Locate(locate::LocateArgs),
    /// Ask the service whether a key binding or certificate is valid.
    Validate(validate::ValidateArgs),
    /// Send several locate/validate requests (one per line of a file) as one CompoundRequest.
    Compound(compound::CompoundArgs),
    /// Finish an asynchronous request: ask its status, fetch its result.
    Pending {
        #[command(subcommand)]
        command: pending::PendingCommand,
    },
    /// Load generator: register, generate, locate or validate at a given concurrency.
    Bench(bench::BenchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write manual pages (xkms.1, xkms-register.1, …) into a directory.
    Man(docs::ManArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XKMS_LOG")
                // The platform verifier logs every refused certificate as an error; the
                // refusal is reported once, in words, by the client.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,rustls_platform_verifier=off")
                }),
        )
        .with_ansi(docs::colour_on_stderr())
        .with_writer(std::io::stderr)
        .init();
    let code = match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            errln!("xkms: {e:#}");
            if let Some(hint) = hint(&e) {
                errln!("hint: {hint}");
            }
            ExitCode::from(2)
        }
    };
    // A closed pipe is not an error (the reader had enough); anything else is.
    match output::failure() {
        Some(e) => {
            errln!("xkms: writing standard output: {e}");
            ExitCode::from(2)
        }
        None => code,
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        Command::Completions(args) => return docs::completions(&args),
        Command::Man(args) => return docs::man(&args),
        command => command,
    };
    // A bad URL fails before anything happens (a key generated, a file read).
    xkms_client::check_service_url(&cli.service)?;
    let options = cli.protocol.options()?;
    let mut client = xkms_client::XkmsClient::new(&cli.service)
        .with_binding(cli.binding.into())
        .with_options(options)
        .with_timeout(Duration::from_secs(cli.timeout.max(1)))?;
    if let Some(uri) = &cli.service_uri {
        client = client.with_service_uri(uri);
    }
    if let Some(path) = &cli.ca_cert {
        client = client.with_root_certificates(&files::read_certificates(path)?)?;
    }
    match command {
        Command::Register(args) => register::run(&client, args).await,
        Command::Reissue(args) => reissue::run(&client, args).await,
        Command::Revoke(args) => revoke::run(&client, args).await,
        Command::Recover(args) => recover::run(&client, args).await,
        Command::Locate(args) => locate::run(&client, args).await,
        Command::Validate(args) => validate::run(&client, args).await,
        Command::Compound(args) => compound::run(&client, args).await,
        Command::Pending { command } => pending::run(&client, command).await,
        Command::Bench(args) => bench::run(&client, cli.binding.into(), args).await,
        Command::Completions(_) | Command::Man(_) => Ok(ExitCode::SUCCESS),
    }
}

/// A next step for errors whose remedy is a flag of this command.
fn hint(e: &anyhow::Error) -> Option<String> {
    match e.downcast_ref::<xkms_client::ClientError>()? {
        xkms_client::ClientError::ServiceMismatch { answered, .. } => Some(format!(
            "if {answered} is the service you meant, pass --service-uri {answered}"
        )),
        xkms_client::ClientError::Timeout { .. } => {
            Some("a longer --timeout helps if the service is slow but alive".into())
        }
        xkms_client::ClientError::Tls { reason, .. } if reason.contains("--ca-cert") => Some(
            "the service's CA: xkmsd admin ca-certificate > ca.pem, then xkms --ca-cert ca.pem"
                .into(),
        ),
        xkms_client::ClientError::Http { url, .. } if url.starts_with("http://") => {
            Some("if the service speaks TLS (xkmsd serve --tls-cert), use an https:// URL".into())
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "../../../tests/cli_help.rs"]
mod cli_help;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every flag and positional argument of every subcommand says what it is for.
    #[test]
    fn every_argument_has_help() {
        let missing = super::cli_help::missing_help(&Cli::command());
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }

    #[test]
    fn help_documents_the_exit_status() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("Exit status:"), "{help}");
        assert!(help.contains("3  Pending"), "{help}");
    }
}
