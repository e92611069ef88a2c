//! What an operator does besides issuing authorization codes (`admin`): revoke a key
//! binding with a reason of their choosing, revoke an authorization code, and certify
//! the service's own TLS key. Each change is audited in its own transaction; none is
//! reachable from the network.

use std::net::IpAddr;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use xkms_ca::{Ca, CertificateProfile, DistinguishedName, DnAttribute, IssueRequest, RsaPublicKey};
use xkms_proto::Application;

use crate::clock::Clock;
use crate::config::Policy;
use crate::error::ServiceError;
use crate::ids::IdSource;
use crate::issuance::certificate_record;
use crate::store::{
    AuditEvent, AuditKind, Authorization, BindingSelector, BindingStatus, CertificateRecord,
    KeyBindingRecord, Registration, Revocation, Store, StoreError, StoredUseKeyWith,
};

/// Why an operator revokes a binding: the RFC 5280 CRLReasons that fit an end-entity
/// certificate and a final decision (no certificateHold, removeFromCRL or CA
/// compromise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorReason {
    Unspecified,
    /// The key is refused by Register and Reissue from then on, as after a Revoke.
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    PrivilegeWithdrawn,
}

impl OperatorReason {
    pub const ALL: [OperatorReason; 6] = [
        OperatorReason::Unspecified,
        OperatorReason::KeyCompromise,
        OperatorReason::AffiliationChanged,
        OperatorReason::Superseded,
        OperatorReason::CessationOfOperation,
        OperatorReason::PrivilegeWithdrawn,
    ];

    /// The name on the command line: `key-compromise`, `superseded`, …
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorReason::Unspecified => "unspecified",
            OperatorReason::KeyCompromise => "key-compromise",
            OperatorReason::AffiliationChanged => "affiliation-changed",
            OperatorReason::Superseded => "superseded",
            OperatorReason::CessationOfOperation => "cessation-of-operation",
            OperatorReason::PrivilegeWithdrawn => "privilege-withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<OperatorReason> {
        OperatorReason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The CRLReason code stored with the certificates and listed in the CRL.
    pub fn code(self) -> u8 {
        match self {
            OperatorReason::Unspecified => 0,
            OperatorReason::KeyCompromise => 1,
            OperatorReason::AffiliationChanged => 3,
            OperatorReason::Superseded => 4,
            OperatorReason::CessationOfOperation => 5,
            OperatorReason::PrivilegeWithdrawn => 9,
        }
    }
}

/// The RFC 5280 name of a stored CRLReason code, for listings.
pub fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unknown",
    }
}

/// A TLS server certificate the operator asks for (`xkmsd admin server-certificate`).
#[derive(Debug, Clone)]
pub struct ServerCertificateRequest {
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// The server's key (the admin command generates it).
    pub public_key: RsaPublicKey,
    /// Default: the policy's certificate validity.
    pub validity: Option<Duration>,
}

/// The binding that records an operator-issued server certificate, and the certificate.
#[derive(Debug, Clone)]
pub struct IssuedServerCertificate {
    pub binding: KeyBindingRecord,
    pub certificate: CertificateRecord,
}

/// What the operator's actions use: the store, the CA (server certificates), the clock,
/// identifiers and the policy (key sizes, certificate validity).
pub(crate) struct Operator<'a> {
    pub store: &'a dyn Store,
    /// Shared: the CA signs on a blocking thread.
    pub ca: &'a Arc<Ca>,
    pub clock: &'a dyn Clock,
    pub ids: IdSource,
    pub policy: &'a Policy,
    /// Dropped at once when the operator revokes.
    pub validate_cache: &'a crate::validate_cache::ValidateCache,
    pub serials: &'a crate::issuance::SerialPool,
}

/// Revokes a binding (and every certificate of it not yet revoked) for `reason`, as
/// the operator: audited, listed in the CRL with that reason from then on.
/// `NoSuchBinding` for an unknown id, `Refused` for an already revoked binding.
pub(crate) async fn revoke_binding_as_operator(
    cx: &Operator<'_>,
    binding_id: &str,
    reason: OperatorReason,
) -> Result<KeyBindingRecord, ServiceError> {
    let binding = cx
        .store
        .find_bindings(&BindingSelector::Id(binding_id.to_owned()), 1)
        .await?
        .into_iter()
        .next()
        .ok_or(ServiceError::NoSuchBinding)?;
    if binding.status == BindingStatus::Revoked {
        return Err(ServiceError::Refused("the key binding is already revoked"));
    }
    let now = cx.clock.now();
    let revocation = Revocation {
        binding_id: binding.id.clone(),
        at: now,
        reason: reason.code(),
        replay: Vec::new(),
        audit: vec![operator_event(
            now,
            AuditKind::KeyBindingRevoked,
            &binding.id,
            format!("revoked by the operator ({})", reason_name(reason.code())),
        )],
    };
    let revoked = cx.store.revoke_binding(&revocation).await;
    cx.validate_cache.revoked_here();
    match revoked {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(ServiceError::Refused("the key binding is already revoked"));
        }
        Err(StoreError::NotFound { .. }) => return Err(ServiceError::NoSuchBinding),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(binding = %binding.id, reason = reason.as_str(), "key binding revoked by the operator");
    Ok(KeyBindingRecord {
        status: BindingStatus::Revoked,
        revoked_at: Some(now),
        ..binding
    })
}

/// Revokes an authorization code: from now on it authenticates nobody. Audited.
/// `NotFound`/`Conflict` from the store for an unknown or already revoked code.
pub(crate) async fn revoke_authorization(
    cx: &Operator<'_>,
    id: &str,
) -> Result<Authorization, ServiceError> {
    let now = cx.clock.now();
    let event = operator_event(
        now,
        AuditKind::AuthorizationRevoked,
        id,
        "revoked by the operator".to_owned(),
    );
    cx.store.revoke_authorization(id, now, &event).await?;
    tracing::info!(authorization = %id, "authorization code revoked by the operator");
    cx.store
        .get_authorization(id)
        .await?
        .ok_or(ServiceError::Store(StoreError::NotFound {
            what: "authorization",
        }))
}

/// Certifies the service's own TLS key for `dns_names` and `ip_addresses`
/// (extendedKeyUsage serverAuth only). Recorded like any binding — KeyName the first
/// name, a TLS/HTTPS UseKeyWith per name — so the operator can list and revoke it.
pub(crate) async fn issue_server_certificate(
    cx: &Operator<'_>,
    request: &ServerCertificateRequest,
) -> Result<IssuedServerCertificate, ServiceError> {
    let hosts: Vec<String> = request
        .dns_names
        .iter()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .chain(request.ip_addresses.iter().map(IpAddr::to_string))
        .collect();
    let first = hosts
        .first()
        .ok_or(ServiceError::InvalidRequest(
            "a server certificate needs a DNS name or an IP address",
        ))?
        .clone();
    crate::issuance::check_key_size(cx.policy, &request.public_key)?;
    let mut subject = DistinguishedName::new();
    subject
        .push(DnAttribute::CommonName, first.clone())
        .map_err(|_| ServiceError::InvalidRequest("not a usable server name"))?;
    let now: OffsetDateTime = cx.clock.now();
    let issue = IssueRequest {
        subject,
        public_key: request.public_key.clone(),
        dns_names: hosts[..request.dns_names.len()].to_vec(),
        ip_addresses: request.ip_addresses.clone(),
        validity: request.validity.unwrap_or(cx.policy.certificate_validity),
        profile: CertificateProfile::TlsServer,
        ..IssueRequest::default()
    };
    let certificate =
        crate::issuance::issue_certificate(cx.store, cx.ca, cx.serials, &issue, now).await?;
    let binding_id = cx.ids.message_id();
    let mut use_key_with: Vec<StoredUseKeyWith> = hosts
        .iter()
        .map(|host| StoredUseKeyWith {
            application: Application::TlsHttps,
            identifier: host.clone(),
        })
        .collect();
    use_key_with.push(StoredUseKeyWith {
        application: Application::Pkix,
        identifier: certificate.subject.clone(),
    });
    let binding = KeyBindingRecord {
        id: binding_id.clone(),
        key_name: Some(first),
        modulus: request.public_key.modulus.clone(),
        exponent: request.public_key.exponent.clone(),
        key_fingerprint: crate::identity::key_fingerprint(&request.public_key),
        key_usage: Vec::new(),
        use_key_with,
        status: BindingStatus::Valid,
        revocation_code_identifier: None,
        authorization_id: None,
        created_at: now,
        revoked_at: None,
    };
    let serial = certificate.serial.to_hex();
    let registration = Registration {
        certificate: certificate_record(&binding_id, &certificate, now),
        binding,
        authorization_id: None,
        escrowed_private_key: None,
        replay: Vec::new(),
        audit: vec![
            operator_event(
                now,
                AuditKind::CertificateIssued,
                &serial,
                format!(
                    "TLS server certificate for {} issued by the operator, binding {binding_id}",
                    hosts.join(", ")
                ),
            ),
            operator_event(
                now,
                AuditKind::KeyBindingRegistered,
                &binding_id,
                format!("TLS server key RSA-{}", request.public_key.bits()),
            ),
        ],
    };
    cx.store.commit_registration(&registration).await?;
    tracing::info!(binding = %binding_id, %serial, "TLS server certificate issued");
    Ok(IssuedServerCertificate {
        binding: registration.binding,
        certificate: registration.certificate,
    })
}

/// A certificate for the service's own result-signing key ("XKMS Service", key usage
/// Signature), issued by the built-in CA with a reserved serial.
pub(crate) async fn issue_signing_certificate(
    cx: &Operator<'_>,
    modulus: &[u8],
    exponent: &[u8],
) -> Result<Vec<u8>, ServiceError> {
    let mut subject = xkms_ca::DistinguishedName::new();
    subject.push(xkms_ca::DnAttribute::CommonName, "XKMS Service")?;
    let request = xkms_ca::IssueRequest {
        subject,
        public_key: xkms_ca::RsaPublicKey {
            modulus: modulus.to_vec(),
            exponent: exponent.to_vec(),
        },
        key_usage: vec![xkms_ca::XkmsKeyUsage::Signature],
        validity: cx.policy.certificate_validity,
        ..xkms_ca::IssueRequest::default()
    };
    let issued =
        crate::issuance::issue_certificate(cx.store, cx.ca, cx.serials, &request, cx.clock.now())
            .await?;
    Ok(issued.der)
}

/// An audit event of an operator action (no request caused it).
fn operator_event(
    at: OffsetDateTime,
    kind: AuditKind,
    subject: &str,
    detail: String,
) -> AuditEvent {
    AuditEvent {
        at,
        kind,
        request_id: None,
        subject: subject.to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_map_to_crl_codes() {
        for reason in OperatorReason::ALL {
            assert_eq!(OperatorReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(OperatorReason::parse("certificate-hold"), None);
        assert_eq!(OperatorReason::Superseded.code(), 4);
        assert_eq!(
            reason_name(OperatorReason::KeyCompromise.code()),
            "keyCompromise"
        );
    }
}
