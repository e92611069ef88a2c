//! `xkms`: the XKMS 2.0 command-line client.

mod bench;
mod compound;
mod locate;
mod options;
mod recover;
mod register;
mod reissue;
mod report;
mod revoke;
mod validate;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "xkms",
    version,
    about = "XKMS 2.0 client: register, reissue, revoke, recover, locate, validate"
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
    /// SOAP binding: soap12 (default), soap11 or bare.
    #[arg(long, global = true, default_value = "soap12")]
    binding: register::BindingArg,
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
    /// Find keys by name, address, certificate or usage.
    Locate(locate::LocateArgs),
    /// Ask the service whether a key binding or certificate is valid.
    Validate(validate::ValidateArgs),
    /// Send several locate/validate requests (one per line of a file) as one CompoundRequest.
    Compound(compound::CompoundArgs),
    /// Load generator: register, generate, locate or validate at a given concurrency.
    Bench(bench::BenchArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XKMS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let options = match cli.protocol.options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("xkms: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let client = xkms_client::XkmsClient::new(&cli.service)
        .with_binding(cli.binding.into())
        .with_options(options);
    let outcome = match cli.command {
        Command::Register(args) => register::run(&client, args).await,
        Command::Reissue(args) => reissue::run(&client, args).await,
        Command::Revoke(args) => revoke::run(&client, args).await,
        Command::Recover(args) => recover::run(&client, args).await,
        Command::Locate(args) => locate::run(&client, args).await,
        Command::Validate(args) => validate::run(&client, args).await,
        Command::Compound(args) => compound::run(&client, args).await,
        Command::Bench(args) => bench::run(&client, cli.binding.into(), args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xkms: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
