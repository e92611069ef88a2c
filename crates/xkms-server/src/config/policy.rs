//! `[policy]`: certificate and authorization lifetimes, key sizes, processing of each
//! X-KRSS operation, service-generated keys, lockout and pending limits.

use super::{Config, ConfigError, positive};
use serde::Deserialize;

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

impl Config {
    /// `[policy]` values in range.
    pub(super) fn check_policy(&self) -> Result<(), ConfigError> {
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
        Ok(())
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
}
