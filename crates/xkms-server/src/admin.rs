//! The subcommands' bodies: serving and administration.

use crate::app::{admin_service, build_service};
use crate::cli::{AdminCommand, AuthorizationsCommand, BindingsCommand, Common, PurposeArg};
use crate::config::Config;
use crate::display::rfc3339;
use crate::http::{AppState, router};
use anyhow::Context;
use std::io::Write;
use std::sync::Arc;
use xkms_service::NewAuthorization;
use xkms_service::store::{BindingFilter, Purpose};
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
    let tls = crate::tls::acceptor(&config)?;
    spawn_worker(state.clone());
    let handle = tokio::spawn(crate::connection::serve_with(
        listener,
        router(state),
        config.connection_limits(),
        tls,
        std::future::pending(),
    ));
    Ok(Running {
        service_uri,
        handle,
    })
}

async fn prepare(config: &Config) -> anyhow::Result<(tokio::net::TcpListener, Arc<AppState>)> {
    // Wider modes of an existing data directory are tightened first (check-config
    // reports them); then everything check-config checks fails here, before anything is
    // created.
    crate::keyfiles::tighten_data_dir(&config.data_dir)?;
    crate::check::preflight(config)?;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let bound = listener.local_addr()?;
    let service = build_service(config, bound).await?;
    Ok((listener, Arc::new(AppState::new(service, config))))
}

/// Binds, prints where it listens, and serves until Ctrl-C / SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let (listener, state) = prepare(&config).await?;
    let service_uri = state.service.config().service_uri.clone();
    let tls = crate::tls::acceptor(&config)?;
    tracing::info!(data_dir = %config.data_dir.display(), database = %config.database_url(), tls = tls.is_some(), "xkmsd ready");
    spawn_worker(state.clone());
    // The first line on stdout is the URL to post to: scripts and tests read it.
    let url = config.listening_url(listener.local_addr()?);
    // Never fatal: a closed stdout must not stop a daemon.
    let _ = writeln!(std::io::stdout(), "xkmsd listening on {url}");
    if url != service_uri {
        let _ = writeln!(std::io::stdout(), "Service URI: {service_uri}");
    }
    std::io::stdout().flush().ok();
    crate::connection::serve_with(
        listener,
        router(state),
        config.connection_limits(),
        tls,
        shutdown(),
    )
    .await?;
    Ok(())
}

/// How often a worker deletes final results past their retention.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The asynchronous-request worker: runs queued jobs as they appear, and now and then
/// deletes final results past their retention.
fn spawn_worker(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
                last_purge = Some(std::time::Instant::now());
                match state.service.purge_finished_results().await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(deleted = n, "final results past their retention deleted")
                    }
                    Err(e) => tracing::error!(error = %e, "purging final results"),
                }
            }
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
            dn,
            allow_name,
            lifetime_days,
            max_uses,
            common,
        } => {
            let config = load(&common)?;
            let mut granted_names = Vec::new();
            if let Some(dn) = dn {
                granted_names.push(
                    xkms_service::names::granted_name(xkms_service::store::NameKind::Dn, &dn)
                        .map_err(|_| anyhow::anyhow!("--dn: not a distinguished name"))?,
                );
            }
            for spec in &allow_name {
                granted_names.push(
                    xkms_service::names::parse_granted_name(spec)
                        .map_err(|e| anyhow::anyhow!("--allow-name {spec}: {e}"))?,
                );
            }
            let (secret, generated) = authorization_secret(secret, secret_file)?;
            let service = admin_service(&config).await?;
            let request = NewAuthorization {
                identity,
                purpose: match purpose {
                    PurposeArg::Register => Purpose::Register,
                    PurposeArg::Recover => Purpose::Recover,
                },
                lifetime: lifetime_days.map(time::Duration::days),
                max_uses,
                granted_names,
            };
            let authorization = service
                .create_authorization(&request, &SharedSecret::new(secret.to_string()))
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
            for name in &authorization.granted_names {
                println!("  also grants {}:{}", name.kind.as_str(), name.value);
            }
            if generated {
                // Shown this once: only keys derived from it are stored.
                println!("authorization code: {}", secret.as_str());
            }
            Ok(())
        }
        AdminCommand::SigningCertificate { common } => {
            let config = load(&common)?;
            admin_service(&config).await?;
            let (_, cert_path) = crate::keyfiles::signing_files(&config.data_dir);
            let pem = std::fs::read_to_string(&cert_path)
                .with_context(|| format!("reading {}", cert_path.display()))?;
            print!("{pem}");
            Ok(())
        }
        AdminCommand::Audit {
            since,
            verify,
            common,
        } => {
            let config = load(&common)?;
            let since = since
                .map(|t| {
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .with_context(|| format!("--since {t}: not an RFC 3339 instant"))
                })
                .transpose()?;
            let service = admin_service(&config).await?;
            crate::audit::print_and_verify(&service, since, verify).await
        }
        AdminCommand::Pending { command } => pending(command, load).await,
        AdminCommand::Lockouts { command } => lockouts(command, load).await,
        AdminCommand::MigrateStore { from, to } => migrate_store(&from, &to).await,
        AdminCommand::Crl { common, pem } => {
            let config = load(&common)?;
            let service = admin_service(&config).await?;
            let der = service.crl().await?;
            if pem {
                print!(
                    "{}",
                    xkms_ca::pem::encode(xkms_ca::pem::Label::X509Crl, &der)
                );
            } else {
                std::io::stdout().write_all(&der)?;
            }
            Ok(())
        }
        AdminCommand::CaCertificate { common } => {
            let config = load(&common)?;
            print!("{}", admin_service(&config).await?.ca().certificate_pem());
            Ok(())
        }
        AdminCommand::Bindings { command } => match command {
            BindingsCommand::List {
                name,
                revoked,
                limit,
                json,
                common,
            } => {
                let service = admin_service(&load(&common)?).await?;
                let filter = BindingFilter {
                    name,
                    revoked_only: revoked,
                };
                crate::inventory::list_bindings(&service, &filter, limit, json).await
            }
            BindingsCommand::Show {
                id,
                serial,
                json,
                common,
            } => {
                let service = admin_service(&load(&common)?).await?;
                crate::inventory::show_binding(&service, id, serial, json).await
            }
        },
        AdminCommand::Revoke {
            id,
            serial,
            reason,
            common,
        } => {
            let service = admin_service(&load(&common)?).await?;
            crate::inventory::revoke(&service, id, serial, reason.into()).await
        }
        AdminCommand::Authorizations { command } => match command {
            AuthorizationsCommand::List {
                identity,
                usable,
                limit,
                json,
                common,
            } => {
                let service = admin_service(&load(&common)?).await?;
                crate::inventory::list_authorizations(&service, identity, usable, limit, json).await
            }
            AuthorizationsCommand::Revoke { id, common } => {
                let service = admin_service(&load(&common)?).await?;
                crate::inventory::revoke_authorization(&service, &id).await
            }
        },
        AdminCommand::Backup { dir, common } => crate::backup::backup(&load(&common)?, &dir).await,
        AdminCommand::ServerCertificate {
            dns,
            ip,
            cert_out,
            key_out,
            days,
            common,
        } => {
            let service = admin_service(&load(&common)?).await?;
            let request = crate::tls::ServerCertificateFiles {
                dns_names: dns,
                ip_addresses: ip,
                cert_out,
                key_out,
                days,
            };
            crate::tls::issue_server_certificate(&service, &request).await
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

async fn lockouts(
    command: crate::cli::LockoutCommand,
    load: impl Fn(&Common) -> anyhow::Result<Config>,
) -> anyhow::Result<()> {
    use crate::cli::LockoutCommand;
    match command {
        LockoutCommand::List { common } => {
            let service = admin_service(&load(&common)?).await?;
            let locked = service.locked_subjects().await?;
            if locked.is_empty() {
                println!("no lockouts");
            }
            for record in locked {
                println!(
                    "{}  locked until {}  ({} failures, last {})",
                    record.subject,
                    record
                        .locked_until
                        .map(rfc3339)
                        .unwrap_or_else(|| "-".into()),
                    record.failures,
                    rfc3339(record.last_failure)
                );
            }
            Ok(())
        }
        LockoutCommand::Clear { subject, common } => {
            let service = admin_service(&load(&common)?).await?;
            if service.unlock(&subject).await? {
                println!("{subject}: lock lifted");
                Ok(())
            } else {
                anyhow::bail!("{subject}: no failures on record (see `xkmsd admin lockouts list`)")
            }
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
                    r.operation.as_str(),
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

/// The secret of a new authorization code: given, read from a file (`-`: stdin), or
/// generated (then `true`). A short given secret gets a warning on stderr.
fn authorization_secret(
    secret: Option<String>,
    secret_file: Option<std::path::PathBuf>,
) -> anyhow::Result<(zeroize::Zeroizing<String>, bool)> {
    use std::io::Read;
    let given = match (secret, secret_file) {
        (Some(s), _) => zeroize::Zeroizing::new(s),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the secret from standard input")?;
            zeroize::Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, Some(path)) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
            );
            zeroize::Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None) => return Ok((xkms_service::admin::generate_authorization_code()?, true)),
    };
    anyhow::ensure!(!given.is_empty(), "the secret is empty");
    if xkms_service::admin::is_short_secret(&given) {
        eprintln!(
            "xkmsd: warning: a secret of fewer than {} characters can be guessed offline by \
             anyone who sees one request made with it; omit --secret to have a 100-bit code \
             generated",
            xkms_service::admin::SHORT_SECRET_CHARS
        );
    }
    Ok((given, false))
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
