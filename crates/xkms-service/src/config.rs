//! The configuration of the registration authority: everything the server reads from its
//! configuration file and hands to [`crate::XkmsService::new`]. Plain data with `Default`;
//! no other module of this crate is needed to build it.

use time::Duration;
use xkms_proto::Operation;

/// Static configuration of a service instance.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The URI requests must carry in `Service` (e.g. `http://127.0.0.1:8080/xkms`).
    pub service_uri: String,
    pub policy: Policy,
    /// Trust anchors, intermediates and CRLs for Validate besides the built-in CA.
    pub trust: TrustConfig,
    /// Two-phase, replay and message-signature policy.
    pub protocol: ProtocolPolicy,
}

/// Policy knobs of the registration authority.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Validity of issued certificates (clipped to the CA's).
    pub certificate_validity: Duration,
    /// Default lifetime of an authorization code.
    pub authorization_lifetime: Duration,
    /// Minimum RSA modulus size accepted for registration.
    pub min_rsa_bits: usize,
    /// Processing of each X-KRSS operation.
    pub register: Processing,
    pub reissue: Processing,
    pub revoke: Processing,
    pub recover: Processing,
    /// Size of service-generated RSA keys (2048, 3072 or 4096).
    pub generated_key_bits: usize,
    /// Cipher for returned private keys (tripledes-cbc is the interop convention).
    pub private_key_cipher: String,
    /// Whether a recovery revokes the binding (its key was exposed to the operator).
    pub revoke_on_recover: bool,
    /// Uses of a recover authorization code (single-use by default).
    pub recover_authorization_uses: u32,
    /// Brute-force limits on authentication.
    pub lockout: LockoutPolicy,
    /// Unfinished asynchronous jobs one identity may have.
    pub max_pending_per_identity: u64,
    /// Unfinished asynchronous jobs in total.
    pub max_pending_total: u64,
    /// Lifetime of a CRL (nextUpdate − thisUpdate).
    pub crl_lifetime: Duration,
    /// How long a final asynchronous result is kept for its client to fetch (one that
    /// carries a private key is deleted as soon as it is fetched).
    pub result_retention: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            certificate_validity: Duration::days(365),
            authorization_lifetime: Duration::days(30),
            min_rsa_bits: xkms_ca::MIN_RSA_BITS,
            register: Processing::Synchronous,
            reissue: Processing::Synchronous,
            revoke: Processing::Synchronous,
            recover: Processing::Asynchronous,
            generated_key_bits: 2048,
            private_key_cipher: xkms_proto::alg::TRIPLEDES_CBC.to_owned(),
            revoke_on_recover: false,
            recover_authorization_uses: 1,
            lockout: LockoutPolicy::default(),
            max_pending_per_identity: 16,
            max_pending_total: 10_000,
            crl_lifetime: Duration::days(1),
            result_retention: Duration::hours(24),
        }
    }
}

/// How an operation is processed (digest §6.1–6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processing {
    /// Answered at once.
    Synchronous,
    /// Answered `Pending` (when offered) and completed by a worker.
    Asynchronous,
    /// Answered `Pending` (when offered); an operator approves before a worker runs it.
    Approval,
}

impl Processing {
    pub fn parse(s: &str) -> Option<Processing> {
        match s {
            "sync" | "synchronous" => Some(Processing::Synchronous),
            "async" | "asynchronous" => Some(Processing::Asynchronous),
            "approval" => Some(Processing::Approval),
            _ => None,
        }
    }
}

/// Protocol policy: per-operation two-phase modes, nonce and replay windows, message
/// signatures.
#[derive(Debug, Clone)]
pub struct ProtocolPolicy {
    /// (operation, mode) overrides; every other operation is `default_two_phase`.
    pub two_phase: Vec<(Operation, TwoPhase)>,
    pub default_two_phase: TwoPhase,
    /// How long a two-phase nonce is accepted.
    pub nonce_lifetime: Duration,
    /// How long a request Id is remembered (X-KRSS and Compound requests).
    pub replay_window: Duration,
    /// Operations whose requests must carry a message signature by one of
    /// `trusted_signers`.
    pub require_signed: Vec<Operation>,
    /// The signers (certificates, DER) whose signatures satisfy `require_signed`: pinned,
    /// not merely issued by a trusted CA — our CA certifies every registered user.
    pub trusted_signers: Vec<Vec<u8>>,
    /// Sign every result (otherwise only when the client asks for RequestSignatureValue).
    pub sign_results: bool,
    /// Inner requests one CompoundRequest may carry; more is refused before any inner work.
    pub max_compound_requests: usize,
}

impl Default for ProtocolPolicy {
    fn default() -> Self {
        ProtocolPolicy {
            two_phase: Vec::new(),
            default_two_phase: TwoPhase::WhenOffered,
            nonce_lifetime: Duration::minutes(5),
            replay_window: Duration::minutes(10),
            require_signed: Vec::new(),
            trusted_signers: Vec::new(),
            sign_results: false,
            max_compound_requests: 64,
        }
    }
}

impl ProtocolPolicy {
    pub fn two_phase_of(&self, operation: Operation) -> TwoPhase {
        self.two_phase
            .iter()
            .find(|(op, _)| *op == operation)
            .map(|(_, mode)| *mode)
            .unwrap_or(self.default_two_phase)
    }
}

/// Two-phase policy of one operation (digest §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoPhase {
    /// Never answer Represent; the option is ignored.
    Never,
    /// Answer Represent when the client offers it.
    WhenOffered,
    /// Refuse requests that do not offer it (Sender/RepresentRequired).
    Required,
}

impl TwoPhase {
    pub fn parse(s: &str) -> Option<TwoPhase> {
        match s {
            "never" => Some(TwoPhase::Never),
            "when-offered" | "when offered" => Some(TwoPhase::WhenOffered),
            "required" => Some(TwoPhase::Required),
            _ => None,
        }
    }
}

/// The brute-force policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock an identity or a binding's revocation code.
    pub after_failures: u32,
    /// Failures from one client address (within `window`) that lock the address; 0: off.
    pub per_address: u32,
    /// How long a lock lasts, and how long a quiet spell restarts a count.
    pub window: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            after_failures: 10,
            per_address: 100,
            window: Duration::seconds(900),
        }
    }
}

/// Operator-configured trust: anchors and intermediates besides the built-in CA.
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    /// Additional trust anchors (DER certificates).
    pub anchors: Vec<Vec<u8>>,
    /// Intermediate certificates available for path building (DER).
    pub intermediates: Vec<Vec<u8>>,
    /// CRLs of external CAs (DER).
    pub crls: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lookup() {
        let p = ProtocolPolicy {
            two_phase: vec![(Operation::Register, TwoPhase::Required)],
            ..ProtocolPolicy::default()
        };
        assert_eq!(p.two_phase_of(Operation::Register), TwoPhase::Required);
        assert_eq!(p.two_phase_of(Operation::Locate), TwoPhase::WhenOffered);
        assert_eq!(TwoPhase::parse("never"), Some(TwoPhase::Never));
        assert_eq!(TwoPhase::parse("sometimes"), None);
    }
}
