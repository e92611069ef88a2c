//! `[protocol]` (two-phase, replay protection, message signatures, compound limits) and
//! `[trust]` (the anchors, intermediates and CRLs Validate uses besides the built-in CA).

use super::{Config, ConfigError};
use serde::Deserialize;
use std::path::PathBuf;
use xkms_proto::Operation;

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

impl Config {
    /// `[protocol]`: the policy builds, and required signatures name their signers.
    pub(super) fn check_protocol(&self) -> Result<(), ConfigError> {
        self.protocol_policy()?;
        if !self.protocol.require_signed.is_empty() && self.protocol.trusted_signers.is_empty() {
            return Err(ConfigError::Invalid {
                name: "protocol.trusted_signers",
                message: "required when protocol.require_signed names operations (the \
                          certificates whose signatures they accept)"
                    .into(),
            });
        }
        Ok(())
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
}
