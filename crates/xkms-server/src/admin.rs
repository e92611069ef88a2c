//! The subcommands' bodies: serving and administration.

use crate::app::{build_service, open_ca};
use crate::cli::{AdminCommand, Common, PurposeArg};
use crate::config::Config;
use crate::http::{AppState, router};
use anyhow::Context;
use std::io::Write;
use std::sync::Arc;
use xkms_service::NewAuthorization;
use xkms_service::store::Purpose;
use xkms_xmlsec::kdf::SharedSecret;

/// A server started in this process (tests, embedding).
pub struct Running {
    /// The Service URI (= the URL to post to).
    pub service_uri: String,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds and starts serving in the background; returns once requests are accepted.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let (listener, state) = prepare(&config).await?;
    let service_uri = state.service.config().service_uri.clone();
    let handle = tokio::spawn(async move { axum::serve(listener, router(state)).await });
    Ok(Running {
        service_uri,
        handle,
    })
}

async fn prepare(config: &Config) -> anyhow::Result<(tokio::net::TcpListener, Arc<AppState>)> {
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let bound = listener.local_addr()?;
    let service = build_service(config, bound).await?;
    Ok((
        listener,
        Arc::new(AppState {
            service,
            max_body_bytes: config.server.max_body_bytes,
        }),
    ))
}

/// Binds, prints where it listens, and serves until Ctrl-C / SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let (listener, state) = prepare(&config).await?;
    let service_uri = state.service.config().service_uri.clone();
    tracing::info!(data_dir = %config.data_dir.display(), database = %config.database_url(), "xkmsd ready");
    // The first line on stdout is the service URI: scripts and tests read it.
    println!("xkmsd listening on {service_uri}");
    std::io::stdout().flush().ok();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    ctrl_c.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}

pub async fn run(
    command: AdminCommand,
    load: impl Fn(&Common) -> anyhow::Result<Config>,
) -> anyhow::Result<()> {
    match command {
        AdminCommand::Authorize {
            identity,
            secret,
            secret_file,
            purpose,
            lifetime_days,
            max_uses,
            common,
        } => {
            let config = load(&common)?;
            let secret = match (secret, secret_file) {
                (Some(s), _) => s,
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                (None, None) => anyhow::bail!("--secret or --secret-file is required"),
            };
            let service = build_service(&config, config.server.listen).await?;
            let request = NewAuthorization {
                identity,
                purpose: match purpose {
                    PurposeArg::Register => Purpose::Register,
                    PurposeArg::Recover => Purpose::Recover,
                },
                lifetime: lifetime_days.map(time::Duration::days),
                max_uses,
            };
            let authorization = service
                .create_authorization(&request, &SharedSecret::new(secret))
                .await?;
            println!(
                "authorization {} for {} ({}) valid until {}{}",
                authorization.id,
                authorization.identity,
                authorization.purpose.as_str(),
                authorization.expires_at,
                authorization
                    .max_uses
                    .map(|n| format!(", at most {n} uses"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        AdminCommand::CaCertificate { common } => {
            let config = load(&common)?;
            std::fs::create_dir_all(&config.data_dir)?;
            print!("{}", open_ca(&config)?.certificate_pem());
            Ok(())
        }
    }
}
