//! The subcommands' bodies: serving and administration.

use crate::app::{build_service, open_ca, pem_encode};
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
    spawn_worker(state.clone());
    let handle = tokio::spawn(crate::connection::serve(
        listener,
        router(state),
        config.connection_limits(),
        std::future::pending(),
    ));
    Ok(Running {
        service_uri,
        handle,
    })
}

async fn prepare(config: &Config) -> anyhow::Result<(tokio::net::TcpListener, Arc<AppState>)> {
    // Everything check-config checks fails here, before anything is created.
    crate::check::preflight(config)?;
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
            request_timeout: std::time::Duration::from_secs(config.server.request_timeout_seconds),
            metrics: crate::metrics::Metrics::new(),
        }),
    ))
}

/// Binds, prints where it listens, and serves until Ctrl-C / SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let (listener, state) = prepare(&config).await?;
    let service_uri = state.service.config().service_uri.clone();
    tracing::info!(data_dir = %config.data_dir.display(), database = %config.database_url(), "xkmsd ready");
    spawn_worker(state.clone());
    // The first line on stdout is the URL to post to: scripts and tests read it.
    let url = format!("http://{}/xkms", listener.local_addr()?);
    // Never fatal: a closed stdout must not stop a daemon.
    let _ = writeln!(std::io::stdout(), "xkmsd listening on {url}");
    if url != service_uri {
        let _ = writeln!(std::io::stdout(), "Service URI: {service_uri}");
    }
    std::io::stdout().flush().ok();
    crate::connection::serve(
        listener,
        router(state),
        config.connection_limits(),
        shutdown(),
    )
    .await?;
    Ok(())
}

/// The asynchronous-request worker: runs queued jobs as they appear.
fn spawn_worker(state: Arc<AppState>) {
    tokio::spawn(async move {
        loop {
            match state.service.run_pending_job().await {
                Ok(true) => continue,
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                Err(e) => {
                    tracing::error!(error = %e, "pending worker");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
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
            let service = admin_service(&config).await?;
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
                rfc3339(authorization.expires_at),
                authorization
                    .max_uses
                    .map(|n| format!(", at most {n} uses"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        AdminCommand::Pending { command } => pending(command, load).await,
        AdminCommand::MigrateStore { from, to } => migrate_store(&from, &to).await,
        AdminCommand::Crl { common, pem } => {
            let config = load(&common)?;
            let service = admin_service(&config).await?;
            let der = service.crl().await?;
            if pem {
                print!("{}", pem_encode("X509 CRL", &der));
            } else {
                std::io::stdout().write_all(&der)?;
            }
            Ok(())
        }
        AdminCommand::CaCertificate { common } => {
            let config = load(&common)?;
            std::fs::create_dir_all(&config.data_dir)?;
            print!("{}", open_ca(&config)?.certificate_pem());
            Ok(())
        }
        AdminCommand::Seed {
            count,
            start,
            identity_prefix,
            domain,
            common,
        } => {
            let params = crate::seed::SeedParams {
                count,
                start,
                identity_prefix,
                domain,
            };
            crate::seed::seed(&load(&common)?, &params).await.map(drop)
        }
    }
}

async fn pending(
    command: crate::cli::PendingCommand,
    load: impl Fn(&Common) -> anyhow::Result<Config>,
) -> anyhow::Result<()> {
    use crate::cli::PendingCommand;
    use xkms_service::store::PendingState;
    match command {
        PendingCommand::List { all, common } => {
            let config = load(&common)?;
            let service = admin_service(&config).await?;
            let state = if all {
                None
            } else {
                Some(PendingState::AwaitingApproval)
            };
            let records = service.list_pending(state, 1000).await?;
            if records.is_empty() {
                println!("no pending requests");
            }
            for r in records {
                println!(
                    "{}  {:<17}  {:<8}  {}  requested {}  (request {})",
                    r.response_id,
                    r.state.as_str(),
                    r.operation,
                    r.requester,
                    rfc3339(r.created_at),
                    r.original_request_id
                );
            }
            Ok(())
        }
        PendingCommand::Approve {
            response_id,
            common,
        } => {
            let config = load(&common)?;
            let service = admin_service(&config).await?;
            service.approve_pending(&response_id).await?;
            println!("{response_id} approved: queued for processing");
            Ok(())
        }
        PendingCommand::Reject {
            response_id,
            common,
        } => {
            let config = load(&common)?;
            let service = admin_service(&config).await?;
            service.reject_pending(&response_id).await?;
            println!("{response_id} rejected");
            Ok(())
        }
    }
}

/// An instant as admin commands print it: RFC 3339, UTC.
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The service as an admin command needs it: no key pool (nothing to pre-generate).
async fn admin_service(config: &Config) -> anyhow::Result<xkms_service::XkmsService> {
    let mut config = config.clone();
    config.policy.key_pool_size = 0;
    build_service(&config, config.server.listen).await
}

/// `xkmsd admin migrate-store`: copies every table, with a progress line per table.
async fn migrate_store(from: &str, to: &str) -> anyhow::Result<()> {
    use xkms_store::redact_url;
    eprintln!("copying {} to {}", redact_url(from), redact_url(to));
    let mut last = (String::new(), 0u64);
    let mut progress = |table: &str, done: u64, total: u64| {
        // Redraw at most every 1% (and at the end of each table).
        let step = (total / 100).max(1);
        if table != last.0 || done == total || done >= last.1 + step {
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            let filled = (percent / 5) as usize;
            eprint!(
                "\r{table:<20} [{:<20}] {done}/{total} ({percent}%)",
                "#".repeat(filled)
            );
            if done == total {
                eprintln!();
            }
            last = (table.to_owned(), done);
        }
    };
    let report = xkms_store::copy_store(from, to, &mut progress)
        .await
        .with_context(|| "copying the store (is the target empty and reachable?)")?;
    println!(
        "copied {} rows in {} tables",
        report.total_rows(),
        report.tables.len()
    );
    for table in &report.tables {
        println!("  {:<20} {}", table.table, table.rows);
    }
    Ok(())
}
