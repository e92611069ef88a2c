//! `[server]`: the listening address, the Service URI, connection and body limits, TLS.

use super::{Config, ConfigError};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// The URI requests must name in `Service`. Default `http://<listen address>/xkms`.
    pub service_uri: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time a client has to send a request's line and headers.
    pub header_timeout_seconds: u64,
    /// Time a client has to send a request's whole body.
    pub request_timeout_seconds: u64,
    /// A keep-alive connection with no request in flight for this long is closed.
    pub idle_timeout_seconds: u64,
    /// Connections served at once (beyond it: health checks and 503s only).
    pub max_connections: usize,
    /// How long in-flight requests may finish after SIGTERM / Ctrl-C.
    pub shutdown_grace_seconds: u64,
    /// Threads serving connections (each a single-threaded runtime); 0 = one per core.
    pub threads: usize,
    /// TLS: the server's certificate chain (PEM, leaf first). With `tls_key`, the
    /// service speaks HTTPS only and its default Service URI starts with `https://`.
    pub tls_cert: Option<PathBuf>,
    /// TLS: the server's private key (PEM: PKCS#8, PKCS#1 or SEC1); readable by the
    /// service account only.
    pub tls_key: Option<PathBuf>,
}

/// The most connection threads `[server] threads` may ask for.
pub const MAX_THREADS: usize = 256;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            service_uri: None,
            max_body_bytes: 1024 * 1024,
            header_timeout_seconds: 10,
            request_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 1024,
            shutdown_grace_seconds: 30,
            threads: 0,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Config {
    /// `[server]` limits: positive, and TLS certificate and key together.
    pub(super) fn check_server(&self) -> Result<(), ConfigError> {
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid {
                name: "server.max_body_bytes",
                message: "must be at least 1024".into(),
            });
        }
        for (name, value) in [
            (
                "server.header_timeout_seconds",
                self.server.header_timeout_seconds,
            ),
            (
                "server.request_timeout_seconds",
                self.server.request_timeout_seconds,
            ),
            (
                "server.idle_timeout_seconds",
                self.server.idle_timeout_seconds,
            ),
            ("server.max_connections", self.server.max_connections as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    message: "must be at least 1".into(),
                });
            }
        }
        if self.server.threads > MAX_THREADS {
            return Err(ConfigError::Invalid {
                name: "server.threads",
                message: format!("at most {MAX_THREADS} (0 = one per core)"),
            });
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                name: "server.tls_cert",
                message: "tls_cert and tls_key go together (the certificate chain and its key)"
                    .into(),
            });
        }
        Ok(())
    }

    /// Whether the service speaks TLS (`[server] tls_cert` and `tls_key`).
    pub fn tls(&self) -> bool {
        self.server.tls_cert.is_some() && self.server.tls_key.is_some()
    }

    /// The accept loop's limits from `[server]`.
    pub fn connection_limits(&self) -> crate::connection::ConnectionLimits {
        use std::time::Duration;
        crate::connection::ConnectionLimits {
            header_timeout: Duration::from_secs(self.server.header_timeout_seconds),
            idle_timeout: Duration::from_secs(self.server.idle_timeout_seconds),
            max_connections: self.server.max_connections,
            shutdown_grace: Duration::from_secs(self.server.shutdown_grace_seconds),
            threads: self.server.threads,
        }
    }

    /// The Service URI for a server bound to `bound`.
    pub fn service_uri(&self, bound: SocketAddr) -> String {
        self.server
            .service_uri
            .clone()
            .unwrap_or_else(|| self.listening_url(bound))
    }

    /// The URL a server bound to `bound` answers on: `https://` with TLS.
    pub fn listening_url(&self, bound: SocketAddr) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        format!("{scheme}://{bound}/xkms")
    }
}
