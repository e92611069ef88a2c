//! `xkmsd`: the XKMS 2.0 service provider.

use clap::Parser;
use xkms_server::admin;
use xkms_server::cli::{Cli, Command, Common};
use xkms_server::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XKMS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xkmsd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { common, listen } => {
            let mut config = load(&common)?;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            admin::serve(config).await
        }
        Command::CheckConfig { common } => {
            let config = load(&common)?;
            println!(
                "configuration OK (data directory {})",
                config.data_dir.display()
            );
            Ok(())
        }
        Command::Admin { command } => admin::run(command, load).await,
    }
}

/// Configuration from file + environment, then command-line overrides.
fn load(common: &Common) -> anyhow::Result<Config> {
    let mut config = Config::load(common.config.as_deref())?;
    if let Some(dir) = &common.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &common.database {
        config.database.url = Some(url.clone());
    }
    Ok(config)
}
