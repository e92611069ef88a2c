//! `xkms`: the XKMS 2.0 command-line client.

mod register;
mod report;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register a key you hold (generated into --key if the file does not exist).
    Register(register::RegisterArgs),
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
    let client = xkms_client::XkmsClient::new(&cli.service).with_binding(cli.binding.into());
    let outcome = match cli.command {
        Command::Register(args) => register::run(&client, args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xkms: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
