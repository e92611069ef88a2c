//! `xkmsd` configuration: one TOML file, every table `deny_unknown_fields`, `XKMS_*`
//! environment overrides, secrets only by file path. With no file at all the service
//! runs on an embedded SQLite database and a CA created in the data directory.
//!
//! One file per table and what is derived from it: `server` (`[server]`: listening,
//! limits, TLS), `store` (`[database]`), `ca` (`[ca]`: key type, file key or PKCS#11
//! token), `policy` (`[policy]`: processing, keys, lockout, pending limits), `protocol`
//! (`[protocol]` and `[trust]`). This file holds the whole, loading, environment
//! overrides and the order of the checks.

mod ca;
mod policy;
mod protocol;
mod server;
mod store;
#[cfg(test)]
mod tests;

pub use ca::CaConfig;
pub use policy::PolicyConfig;
pub use protocol::{ProtocolConfig, TrustFiles};
pub use server::ServerConfig;
pub use store::DatabaseConfig;

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the database, the CA key and certificate.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub ca: CaConfig,
    pub policy: PolicyConfig,
    pub trust: TrustFiles,
    pub protocol: ProtocolConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("xkms-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            ca: CaConfig::default(),
            policy: PolicyConfig::default(),
            trust: TrustFiles::default(),
            protocol: ProtocolConfig::default(),
        }
    }
}

/// Errors reading or checking the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value of {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

impl Config {
    /// Reads `path` if given (else defaults), then applies `XKMS_*` environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_owned(),
                    message: e.message().to_owned(),
                })?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.check()?;
        Ok(config)
    }

    /// Environment overrides (`XKMS_DATA_DIR`, `XKMS_LISTEN`, `XKMS_SERVICE_URI`,
    /// `XKMS_DATABASE_URL`, `XKMS_CA_KEY_TYPE`, `XKMS_MAX_BODY_BYTES`, `XKMS_TLS_CERT`,
    /// `XKMS_TLS_KEY`).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("XKMS_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("XKMS_LISTEN") {
            self.server.listen = v.parse().map_err(|_| ConfigError::Invalid {
                name: "XKMS_LISTEN",
                message: "expected address:port".into(),
            })?;
        }
        if let Some(v) = get("XKMS_SERVICE_URI") {
            self.server.service_uri = Some(v);
        }
        if let Some(v) = get("XKMS_DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = get("XKMS_CA_KEY_TYPE") {
            self.ca.key_type = v;
        }
        if let Some(v) = get("XKMS_KEY_POOL_SIZE") {
            self.policy.key_pool_size = v.parse().map_err(|_| ConfigError::Invalid {
                name: "XKMS_KEY_POOL_SIZE",
                message: "expected a number of keys".into(),
            })?;
        }
        if let Some(v) = get("XKMS_TLS_CERT") {
            self.server.tls_cert = Some(PathBuf::from(v));
        }
        if let Some(v) = get("XKMS_TLS_KEY") {
            self.server.tls_key = Some(PathBuf::from(v));
        }
        if let Some(v) = get("XKMS_MAX_BODY_BYTES") {
            self.server.max_body_bytes = v.parse().map_err(|_| ConfigError::Invalid {
                name: "XKMS_MAX_BODY_BYTES",
                message: "expected a number of bytes".into(),
            })?;
        }
        Ok(())
    }

    /// Semantic checks beyond the TOML shape (the first failing one is reported).
    pub fn check(&self) -> Result<(), ConfigError> {
        self.ca_key_type()?;
        positive("ca.validity_days", self.ca.validity_days)?;
        self.check_policy()?;
        self.check_protocol()?;
        self.check_server()?;
        self.check_ca_key()
    }
}

/// `Invalid` unless `value` is positive.
fn positive(name: &'static str, value: i64) -> Result<(), ConfigError> {
    if value <= 0 {
        Err(ConfigError::Invalid {
            name,
            message: "must be positive".into(),
        })
    } else {
        Ok(())
    }
}
