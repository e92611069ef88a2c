//! Command line of `xkmsd`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "xkmsd",
    version,
    propagate_version = true,
    about = "XKMS 2.0 trust service with a built-in CA",
    after_help = "Exit status: 0 on success, 1 on any error (the message says which)."
)]
pub struct Cli {
    /// Format of the log lines on standard error (colour only on a terminal, never
    /// with NO_COLOR set).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "XKMS_LOG_FORMAT",
        default_value_t = crate::telemetry::LogFormat::Text
    )]
    pub log_format: crate::telemetry::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Listen address (port 0 picks a free port; the address is printed).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Serve HTTPS with this certificate chain (PEM, leaf first), e.g. one from
        /// `xkmsd admin server-certificate`; the default Service URI becomes https://.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The TLS certificate's private key (PEM, mode 0600).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Administrative commands (work on the data directory / database directly).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Check the configuration as `serve` would (values, database URL, trust files,
    /// existing key files) without creating or connecting to anything, then exit.
    CheckConfig {
        #[command(flatten)]
        common: Common,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Write manual pages (xkmsd.1, xkmsd-serve.1, …) into a directory.
    Man {
        /// Directory to write the pages into (created if missing).
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an authorization code (shared secret) for an identity. Without --secret or
    /// --secret-file a random code (100 bits) is generated and printed once.
    Authorize {
        /// E-mail address or X.509 distinguished name the code is for (always granted).
        identity: String,
        /// The shared secret (prefer --secret-file: command lines are visible to others).
        #[arg(long, conflicts_with = "secret_file")]
        secret: Option<String>,
        /// File holding the shared secret (trailing newline ignored); `-` reads stdin.
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// What the code authorizes: registering a key, or recovering an escrowed one
        /// (recovery codes work once).
        #[arg(long, value_enum, default_value_t = PurposeArg::Register)]
        purpose: PurposeArg,
        /// Also grant this certificate subject (seed form `C=US;S=VA;…;CN=Joe Doe` or
        /// RFC 4514).
        #[arg(long)]
        dn: Option<String>,
        /// Also grant this name: TYPE is email, dns, ip, uri, dn or keyname (repeatable).
        #[arg(long = "allow-name", value_name = "TYPE:VALUE")]
        allow_name: Vec<String>,
        /// Lifetime in days (default: policy, 30).
        #[arg(long)]
        lifetime_days: Option<i64>,
        /// How many requests may use it (default: unlimited until expiry).
        #[arg(long)]
        max_uses: Option<u32>,
        #[command(flatten)]
        common: Common,
    },
    /// Copy every record from one store to another (e.g. SQLite to PostgreSQL); the
    /// target must be empty. Stop the service first.
    MigrateStore {
        /// Source database URL, e.g. sqlite://xkms-data/xkms.db
        #[arg(long)]
        from: String,
        /// Target database URL, e.g. postgres://xkms@db.example/xkms
        #[arg(long)]
        to: String,
    },
    /// Pending (asynchronous) requests: list, approve, reject.
    Pending {
        #[command(subcommand)]
        command: PendingCommand,
    },
    /// Identities, bindings and client addresses locked after repeated failed
    /// authentications: list, clear.
    Lockouts {
        #[command(subcommand)]
        command: LockoutCommand,
    },
    /// Print the CA's current CRL (DER, or PEM with --pem) on standard output.
    Crl {
        /// PEM instead of DER.
        #[arg(long)]
        pem: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Print the CA certificate (PEM) on standard output.
    CaCertificate {
        #[command(flatten)]
        common: Common,
    },
    /// Print the service's result-signing certificate (PEM): what clients pin with
    /// `xkms --verify-with`.
    SigningCertificate {
        #[command(flatten)]
        common: Common,
    },
    /// Print the audit trail (hash-chained) and, with --verify, check the chain.
    Audit {
        /// Only events at or after this instant (RFC 3339, e.g. 2025-06-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Check every link of the chain and the head; exit non-zero if broken.
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Key bindings in the store: list and search them, show one with its certificates.
    Bindings {
        #[command(subcommand)]
        command: BindingsCommand,
    },
    /// Revoke a key binding and its certificates as the operator (audited); the CRL lists
    /// them with the reason from then on.
    Revoke {
        /// The binding's Id (as `bindings list` shows it).
        #[arg(required_unless_present = "serial", conflicts_with = "serial")]
        id: Option<String>,
        /// Name the binding by the serial (hex) of one of its certificates instead.
        #[arg(long)]
        serial: Option<String>,
        /// Why (RFC 5280 CRLReason); key-compromise also bars the key from Register and
        /// Reissue for good.
        #[arg(long, value_enum)]
        reason: ReasonArg,
        #[command(flatten)]
        common: Common,
    },
    /// Authorization codes: list them (never their secrets), revoke one.
    Authorizations {
        #[command(subcommand)]
        command: AuthorizationsCommand,
    },
    /// Copy the database (consistent, while the service runs) and the data directory's
    /// key files into a new directory, with a manifest (docs/OPERATIONS.md, "Backups").
    Backup {
        /// The backup directory: created (mode 0700), or an empty one.
        dir: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Issue a TLS server certificate for this service from the built-in CA
    /// (extendedKeyUsage serverAuth) with a new RSA-2048 key, for `serve --tls-cert`.
    ServerCertificate {
        /// A DNS name the server answers to (repeatable).
        #[arg(long = "dns", value_name = "NAME")]
        dns: Vec<String>,
        /// An IP address the server answers on (repeatable).
        #[arg(long = "ip", value_name = "ADDRESS")]
        ip: Vec<std::net::IpAddr>,
        /// Where to write the certificate (PEM); must not exist.
        #[arg(long, value_name = "FILE")]
        cert_out: PathBuf,
        /// Where to write the private key (PKCS#8 PEM, mode 0600); must not exist.
        #[arg(long, value_name = "FILE")]
        key_out: PathBuf,
        /// Validity in days (default: the policy's certificate validity).
        #[arg(long)]
        days: Option<i64>,
        #[command(flatten)]
        common: Common,
    },
    /// Fill the store with synthetic key bindings (benchmarks): <prefix><i>@<domain>.
    Seed {
        /// Number of key bindings to add.
        #[arg(long)]
        count: u64,
        /// Index of the first binding (to grow an already seeded store).
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Local part before the index.
        #[arg(long, default_value = "user")]
        identity_prefix: String,
        /// Domain of the synthetic e-mail addresses.
        #[arg(long, default_value = "seed.example")]
        domain: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `xkmsd admin bindings …`.
#[derive(Debug, Subcommand)]
pub enum BindingsCommand {
    /// Key bindings, oldest first, with their newest certificate.
    List {
        /// Only bindings whose KeyName or a UseKeyWith identifier contains this text
        /// (case-insensitive).
        #[arg(long)]
        name: Option<String>,
        /// Only revoked bindings.
        #[arg(long)]
        revoked: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// One key binding with every certificate issued for it.
    Show {
        /// The binding's Id.
        #[arg(required_unless_present = "serial", conflicts_with = "serial")]
        id: Option<String>,
        /// Find the binding by the serial (hex) of one of its certificates instead.
        #[arg(long)]
        serial: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

/// `xkmsd admin authorizations …`.
#[derive(Debug, Subcommand)]
pub enum AuthorizationsCommand {
    /// Authorization codes, oldest first: id, purpose, state, identity, uses, expiry,
    /// granted names (never a secret).
    List {
        /// Only codes for this identity (e-mail address or DN).
        #[arg(long)]
        identity: Option<String>,
        /// Only codes that can still authenticate (not expired, used up or revoked).
        #[arg(long)]
        usable: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a code: from now on it authenticates nobody (audited).
    Revoke {
        /// The code's id (as `authorizations list` shows it).
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Why an operator revokes a key binding (RFC 5280 CRLReason).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReasonArg {
    /// No reason given.
    Unspecified,
    /// The private key is (feared) compromised; the key is barred for good.
    KeyCompromise,
    /// The holder's name or affiliation changed.
    AffiliationChanged,
    /// Replaced by another certificate.
    Superseded,
    /// No longer needed.
    CessationOfOperation,
    /// The holder may no longer use it.
    PrivilegeWithdrawn,
}

impl From<ReasonArg> for xkms_service::operator::OperatorReason {
    fn from(r: ReasonArg) -> Self {
        use xkms_service::operator::OperatorReason as R;
        match r {
            ReasonArg::Unspecified => R::Unspecified,
            ReasonArg::KeyCompromise => R::KeyCompromise,
            ReasonArg::AffiliationChanged => R::AffiliationChanged,
            ReasonArg::Superseded => R::Superseded,
            ReasonArg::CessationOfOperation => R::CessationOfOperation,
            ReasonArg::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PurposeArg {
    /// Register a key (KeyBindingAuthentication of a RegisterRequest).
    Register,
    /// Recover an escrowed private key (single use).
    Recover,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Data directory (database, CA key and certificate). Default ./xkms-data.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Database URL (default: sqlite file in the data directory).
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PendingCommand {
    /// Requests awaiting approval (--all: in every state).
    List {
        /// List requests in every state (queued, running, finished, rejected).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Queue a request awaiting approval for processing.
    Approve {
        /// The ResponseId the client got with its Pending result.
        response_id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Refuse a request awaiting approval (its result becomes Sender/Refused).
    Reject {
        /// The ResponseId the client got with its Pending result.
        response_id: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Subcommand)]
pub enum LockoutCommand {
    /// Subjects locked now (`id:IDENTITY`, `binding:ID`, `ip:ADDRESS`) and until when.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Lift a lock and forget its failures (audited).
    Clear {
        /// The subject as `list` prints it, e.g. `id:joe@example.com` or `ip:192.0.2.7`.
        subject: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `xkmsd man DIR`: one page per command (`xkmsd.1`, `xkmsd-serve.1`, …).
pub fn write_man_pages(cmd: clap::Command, dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("writing manual pages into {}", dir.display()))?;
    println!("manual pages written to {}", dir.display());
    Ok(())
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
}
