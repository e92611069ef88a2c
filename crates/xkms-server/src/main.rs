//! `xkmsd`: the XKMS 2.0 service provider.

use clap::{CommandFactory, Parser};
use xkms_server::admin;
use xkms_server::cli::{Cli, Command, Common};
use xkms_server::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Before anything creates a file: the database, its WAL and every key file are
    // private to the service account.
    xkms_server::keyfiles::restrict_umask();
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { .. });
    let log = xkms_server::telemetry::init(cli.log_format, serving);
    let outcome = run(cli).await;
    // Every line logged so far is out before the last word.
    drop(log);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xkmsd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            common,
            listen,
            tls_cert,
            tls_key,
        } => {
            let mut config = load(&common)?;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            if tls_cert.is_some() {
                config.server.tls_cert = tls_cert;
                config.server.tls_key = tls_key;
            }
            admin::serve(config).await
        }
        Command::CheckConfig { common } => {
            let config = load(&common)?;
            let found = xkms_server::check::preflight(&config)?;
            println!("configuration OK");
            for line in found {
                println!("  {line}");
            }
            Ok(())
        }
        Command::Admin { command } => admin::run(command, load).await,
        Command::Completions { shell } => {
            use std::io::Write;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "xkmsd", &mut script);
            // A closed pipe (`| head`) is not an error.
            let _ = std::io::stdout().write_all(&script);
            Ok(())
        }
        Command::Man { dir } => xkms_server::cli::write_man_pages(Cli::command(), &dir),
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
