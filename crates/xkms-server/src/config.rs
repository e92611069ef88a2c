//! `xkmsd` configuration: one TOML file, every table `deny_unknown_fields`, `XKMS_*`
//! environment overrides, secrets only by file path. With no file at all the service
//! runs on an embedded SQLite database and a CA created in the data directory.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use xkms_ca::CaKeyType;
use xkms_proto::Operation;

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

/// `[protocol]`: two-phase, replay protection and message signatures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolConfig {
    /// Two-phase policy for every operation: "never", "when-offered" or "required".
    pub two_phase: String,
    /// Per-operation overrides, e.g. `{ Register = "required", Locate = "never" }`.
    pub two_phase_operations: std::collections::BTreeMap<Operation, String>,
    /// How long a two-phase nonce is accepted.
    pub nonce_lifetime_seconds: i64,
    /// How long X-KRSS request Ids are remembered to refuse replays.
    pub replay_window_seconds: i64,
    /// Operations whose requests must be signed by one of `trusted_signers`, e.g.
    /// ["Register"].
    pub require_signed: Vec<Operation>,
    /// Certificate files (PEM) of the signers `require_signed` accepts: each is pinned
    /// (a certificate merely issued by a trusted CA is not enough).
    pub trusted_signers: Vec<PathBuf>,
    /// Sign every result with the service signing key (otherwise only on request).
    pub sign_results: bool,
    /// Inner requests one CompoundRequest may carry (more: Sender/Failure, nothing done).
    pub max_compound_requests: usize,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            two_phase: "when-offered".into(),
            two_phase_operations: Default::default(),
            nonce_lifetime_seconds: 300,
            replay_window_seconds: 600,
            require_signed: Vec::new(),
            trusted_signers: Vec::new(),
            sign_results: false,
            max_compound_requests: 64,
        }
    }
}

/// `[trust]`: PEM files (each may hold several certificates / CRLs) for Validate,
/// besides the built-in CA.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrustFiles {
    /// Trust anchors (root certificates).
    pub anchors: Vec<PathBuf>,
    /// Intermediate CA certificates available for path building.
    pub intermediates: Vec<PathBuf>,
    /// CRLs of external CAs (PEM or DER).
    pub crls: Vec<PathBuf>,
}

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
    /// TLS: the server's certificate chain (PEM, leaf first). With `tls_key`, the
    /// service speaks HTTPS only and its default Service URI starts with `https://`.
    pub tls_cert: Option<PathBuf>,
    /// TLS: the server's private key (PEM: PKCS#8, PKCS#1 or SEC1); readable by the
    /// service account only.
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://…` URL; default: `xkms.db` in the data directory.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaConfig {
    /// `rsa2048`, `rsa3072`, `rsa4096`, `ecdsa-p256`, `ecdsa-p384`.
    pub key_type: String,
    pub common_name: String,
    pub validity_days: i64,
    /// File whose first line is the passphrase the CA key file (`ca-key.pem`) is
    /// encrypted under (PKCS#8 PBES2); a new key is written encrypted.
    pub key_passphrase_file: Option<PathBuf>,
    /// PKCS#11 module (shared library) of the token holding the CA key; with it the key
    /// is generated in and used from the token, never written to a file.
    pub pkcs11_module: Option<PathBuf>,
    /// Label of the token (required with `pkcs11_module`).
    pub pkcs11_token_label: Option<String>,
    /// File whose first line is the token's user PIN (required with `pkcs11_module`).
    pub pkcs11_pin_file: Option<PathBuf>,
    /// Label of the CA key pair in the token (default "xkms-ca").
    pub pkcs11_key_label: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub certificate_validity_days: i64,
    pub authorization_lifetime_days: i64,
    pub min_rsa_bits: usize,
    /// Processing of each X-KRSS operation: "sync", "async" or "approval".
    pub register: String,
    pub reissue: String,
    pub revoke: String,
    pub recover: String,
    /// Size of service-generated RSA keys: 2048, 3072 or 4096.
    pub generated_key_bits: usize,
    /// Pre-generated keys kept ready (0: generate per request).
    pub key_pool_size: usize,
    /// Cipher of returned private keys: "tripledes-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc".
    pub private_key_cipher: String,
    /// Whether Recover revokes the binding whose key it returns.
    pub revoke_on_recover: bool,
    /// Hours a final asynchronous result is kept for its client (one with a private key
    /// is deleted as soon as it is fetched).
    pub result_retention_hours: i64,
    /// Consecutive failed authentications that lock an identity (or a binding's
    /// revocation code) for `lockout_seconds`.
    pub lockout_after_failures: u32,
    /// Failed authentications from one client address that lock the address (0: off).
    pub lockout_after_failures_per_address: u32,
    /// How long a lock lasts (and how long a quiet spell restarts a count).
    pub lockout_seconds: i64,
    /// Unfinished asynchronous requests one identity may have.
    pub max_pending_per_identity: u64,
    /// Unfinished asynchronous requests in total.
    pub max_pending_total: u64,
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
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            key_type: "rsa3072".into(),
            common_name: "XKMS Demo CA".into(),
            validity_days: 3650,
            key_passphrase_file: None,
            pkcs11_module: None,
            pkcs11_token_label: None,
            pkcs11_pin_file: None,
            pkcs11_key_label: None,
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            certificate_validity_days: 365,
            authorization_lifetime_days: 30,
            min_rsa_bits: 2048,
            register: "sync".into(),
            reissue: "sync".into(),
            revoke: "sync".into(),
            recover: "async".into(),
            generated_key_bits: 2048,
            key_pool_size: 8,
            private_key_cipher: "tripledes-cbc".into(),
            revoke_on_recover: false,
            result_retention_hours: 24 * 7,
            lockout_after_failures: 10,
            lockout_after_failures_per_address: 100,
            lockout_seconds: 900,
            max_pending_per_identity: 16,
            max_pending_total: 10_000,
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

    /// Semantic checks beyond the TOML shape.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.ca_key_type()?;
        let positive = |name, v: i64| {
            if v <= 0 {
                Err(ConfigError::Invalid {
                    name,
                    message: "must be positive".into(),
                })
            } else {
                Ok(())
            }
        };
        positive("ca.validity_days", self.ca.validity_days)?;
        positive(
            "policy.certificate_validity_days",
            self.policy.certificate_validity_days,
        )?;
        positive(
            "policy.authorization_lifetime_days",
            self.policy.authorization_lifetime_days,
        )?;
        positive(
            "policy.result_retention_hours",
            self.policy.result_retention_hours,
        )?;
        positive("policy.lockout_seconds", self.policy.lockout_seconds)?;
        for (name, value) in [
            (
                "policy.lockout_after_failures",
                u64::from(self.policy.lockout_after_failures),
            ),
            (
                "policy.max_pending_per_identity",
                self.policy.max_pending_per_identity,
            ),
            ("policy.max_pending_total", self.policy.max_pending_total),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    message: "must be at least 1".into(),
                });
            }
        }
        if self.policy.min_rsa_bits < 2048 {
            return Err(ConfigError::Invalid {
                name: "policy.min_rsa_bits",
                message: "must be at least 2048".into(),
            });
        }
        for (name, value) in [
            ("policy.register", &self.policy.register),
            ("policy.reissue", &self.policy.reissue),
            ("policy.revoke", &self.policy.revoke),
            ("policy.recover", &self.policy.recover),
        ] {
            if xkms_service::Processing::parse(value).is_none() {
                return Err(ConfigError::Invalid {
                    name,
                    message: "one of sync, async, approval".into(),
                });
            }
        }
        if ![2048, 3072, 4096].contains(&self.policy.generated_key_bits) {
            return Err(ConfigError::Invalid {
                name: "policy.generated_key_bits",
                message: "one of 2048, 3072, 4096".into(),
            });
        }
        self.private_key_cipher_uri()?;
        self.protocol_policy()?;
        if !self.protocol.require_signed.is_empty() && self.protocol.trusted_signers.is_empty() {
            return Err(ConfigError::Invalid {
                name: "protocol.trusted_signers",
                message: "required when protocol.require_signed names operations (the \
                          certificates whose signatures they accept)"
                    .into(),
            });
        }
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
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                name: "server.tls_cert",
                message: "tls_cert and tls_key go together (the certificate chain and its key)"
                    .into(),
            });
        }
        self.check_ca_key()
    }

    /// `[ca]`: a token needs its label and PIN file; a file key's passphrase makes no
    /// sense with a token.
    fn check_ca_key(&self) -> Result<(), ConfigError> {
        let ca = &self.ca;
        if ca.pkcs11_module.is_none() {
            for (name, set) in [
                ("ca.pkcs11_token_label", ca.pkcs11_token_label.is_some()),
                ("ca.pkcs11_pin_file", ca.pkcs11_pin_file.is_some()),
                ("ca.pkcs11_key_label", ca.pkcs11_key_label.is_some()),
            ] {
                if set {
                    return Err(ConfigError::Invalid {
                        name,
                        message: "only with ca.pkcs11_module".into(),
                    });
                }
            }
            return Ok(());
        }
        if ca.key_passphrase_file.is_some() {
            return Err(ConfigError::Invalid {
                name: "ca.key_passphrase_file",
                message: "the CA key is in the PKCS#11 token (ca.pkcs11_module): there is no \
                          key file to encrypt"
                    .into(),
            });
        }
        for (name, missing) in [
            ("ca.pkcs11_token_label", ca.pkcs11_token_label.is_none()),
            ("ca.pkcs11_pin_file", ca.pkcs11_pin_file.is_none()),
        ] {
            if missing {
                return Err(ConfigError::Invalid {
                    name,
                    message: "required with ca.pkcs11_module".into(),
                });
            }
        }
        if ca.pkcs11_key_label.as_deref() == Some("") {
            return Err(ConfigError::Invalid {
                name: "ca.pkcs11_key_label",
                message: "must not be empty".into(),
            });
        }
        Ok(())
    }

    /// Whether the service speaks TLS (`[server] tls_cert` and `tls_key`).
    pub fn tls(&self) -> bool {
        self.server.tls_cert.is_some() && self.server.tls_key.is_some()
    }

    /// The label of the CA key pair in the token.
    pub fn pkcs11_key_label(&self) -> &str {
        self.ca.pkcs11_key_label.as_deref().unwrap_or("xkms-ca")
    }

    /// The accept loop's limits from `[server]`.
    pub fn connection_limits(&self) -> crate::connection::ConnectionLimits {
        use std::time::Duration;
        crate::connection::ConnectionLimits {
            header_timeout: Duration::from_secs(self.server.header_timeout_seconds),
            idle_timeout: Duration::from_secs(self.server.idle_timeout_seconds),
            max_connections: self.server.max_connections,
            shutdown_grace: Duration::from_secs(self.server.shutdown_grace_seconds),
        }
    }

    /// The service's protocol policy from `[protocol]`.
    pub fn protocol_policy(&self) -> Result<xkms_service::ProtocolPolicy, ConfigError> {
        use xkms_service::{ProtocolPolicy, TwoPhase};
        let mode = |name: &'static str, value: &str| {
            TwoPhase::parse(value).ok_or(ConfigError::Invalid {
                name,
                message: "one of never, when-offered, required".into(),
            })
        };
        let positive = |name: &'static str, v: i64| {
            if v > 0 {
                Ok(time::Duration::seconds(v))
            } else {
                Err(ConfigError::Invalid {
                    name,
                    message: "must be positive".into(),
                })
            }
        };
        let mut two_phase = Vec::new();
        for (op, value) in &self.protocol.two_phase_operations {
            two_phase.push((*op, mode("protocol.two_phase_operations", value)?));
        }
        Ok(ProtocolPolicy {
            two_phase,
            default_two_phase: mode("protocol.two_phase", &self.protocol.two_phase)?,
            nonce_lifetime: positive(
                "protocol.nonce_lifetime_seconds",
                self.protocol.nonce_lifetime_seconds,
            )?,
            replay_window: positive(
                "protocol.replay_window_seconds",
                self.protocol.replay_window_seconds,
            )?,
            require_signed: self.protocol.require_signed.clone(),
            // Read from `trusted_signers` at start (files).
            trusted_signers: Vec::new(),
            sign_results: self.protocol.sign_results,
            max_compound_requests: match self.protocol.max_compound_requests {
                0 => {
                    return Err(ConfigError::Invalid {
                        name: "protocol.max_compound_requests",
                        message: "must be at least 1".into(),
                    });
                }
                n => n,
            },
        })
    }

    /// The XML Encryption URI of `policy.private_key_cipher`.
    pub fn private_key_cipher_uri(&self) -> Result<String, ConfigError> {
        let uri = format!(
            "http://www.w3.org/2001/04/xmlenc#{}",
            self.policy.private_key_cipher
        );
        match xkms_xmlsec::encryption::key_length(&uri) {
            Some(_) => Ok(uri),
            None => Err(ConfigError::Invalid {
                name: "policy.private_key_cipher",
                message: "one of tripledes-cbc, aes128-cbc, aes192-cbc, aes256-cbc".into(),
            }),
        }
    }

    pub fn ca_key_type(&self) -> Result<CaKeyType, ConfigError> {
        self.ca.key_type.parse().map_err(|_| ConfigError::Invalid {
            name: "ca.key_type",
            message: "one of rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384".into(),
        })
    }

    /// The database URL: configured, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("xkms.db").display()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.max_body_bytes, 1 << 20);
        c.check().unwrap();
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(toml::from_str::<Config>("[server]\nlisten_on = \"x\"\n").is_err());
        assert!(toml::from_str::<Config>("colour = 1\n").is_err());
    }

    #[test]
    fn env_overrides_apply() {
        let mut c = Config::default();
        c.apply_env(|n| match n {
            "XKMS_LISTEN" => Some("127.0.0.1:9999".into()),
            "XKMS_CA_KEY_TYPE" => Some("ecdsa-p256".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.server.listen.port(), 9999);
        c.check().unwrap();
        assert!(
            c.apply_env(|n| (n == "XKMS_LISTEN").then(|| "nope".into()))
                .is_err()
        );
    }

    #[test]
    fn operation_names_are_checked_at_load() {
        let c: Config = toml::from_str(
            "[protocol]\nrequire_signed = [\"register\", \"Revoke\"]\n\
             two_phase_operations = { locate = \"never\" }\n",
        )
        .unwrap();
        assert_eq!(
            c.protocol.require_signed,
            [Operation::Register, Operation::Revoke]
        );
        let policy = c.protocol_policy().unwrap();
        assert_eq!(
            policy.require_signed,
            [Operation::Register, Operation::Revoke]
        );
        assert_eq!(policy.two_phase[0].0, Operation::Locate);
        for bad in [
            "[protocol]\nrequire_signed = [\"Registr\"]\n",
            "[protocol]\ntwo_phase_operations = { Lookup = \"never\" }\n",
        ] {
            let err = toml::from_str::<Config>(bad).unwrap_err().to_string();
            assert!(err.contains("unknown operation (one of Locate,"), "{err}");
        }
    }

    #[test]
    fn tls_files_go_together_and_make_the_uri_https() {
        let mut c = Config::default();
        let bound: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        assert_eq!(c.service_uri(bound), "http://127.0.0.1:8443/xkms");
        c.apply_env(|n| (n == "XKMS_TLS_CERT").then(|| "server.pem".into()))
            .unwrap();
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("server.tls_cert"), "{err}");
        c.apply_env(|n| (n == "XKMS_TLS_KEY").then(|| "server-key.pem".into()))
            .unwrap();
        c.check().unwrap();
        assert_eq!(c.service_uri(bound), "https://127.0.0.1:8443/xkms");
    }

    #[test]
    fn pkcs11_settings_are_checked() {
        let token = "[ca]\npkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\"\n";
        let c: Config = toml::from_str(token).unwrap();
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("pkcs11_token_label")
        );
        let full = format!("{token}pkcs11_token_label = \"ca\"\npkcs11_pin_file = \"pin\"\n");
        let c: Config = toml::from_str(&full).unwrap();
        c.check().unwrap();
        assert_eq!(c.pkcs11_key_label(), "xkms-ca");
        let both: Config =
            toml::from_str(&format!("{full}key_passphrase_file = \"pass\"\n")).unwrap();
        assert!(
            both.check()
                .unwrap_err()
                .to_string()
                .contains("key_passphrase_file")
        );
        let stray: Config = toml::from_str("[ca]\npkcs11_pin_file = \"pin\"\n").unwrap();
        assert!(
            stray
                .check()
                .unwrap_err()
                .to_string()
                .contains("pkcs11_module")
        );
    }

    #[test]
    fn bad_values_are_named() {
        let c: Config = toml::from_str("[ca]\nkey_type = \"dsa\"\n").unwrap();
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("ca.key_type"), "{err}");
    }
}
