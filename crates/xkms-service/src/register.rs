//! Register (X-KRSS, digest §5.1): bind a client-generated RSA key to names, issue an
//! X.509 certificate for it, and persist binding, certificate and audit trail at once.

use crate::authenticate::{
    AuthenticationVerified, PossessionProven, SignedRequest, authenticate, prove_possession,
    rsa_key_of,
};
use crate::error::ServiceError;
use crate::identity::{
    candidate_identities, is_email_identity, normalize_identifier, stored_use_key_with,
};
use crate::respond::{BindingMaterial, describe};
use crate::service::{RequestContext, XkmsService};
use crate::store::{
    AuditEvent, BindingStatus, CertificateRecord, KeyBindingRecord, Purpose, Registration,
    StoreError,
};
use time::OffsetDateTime;
use xkms_ca::{
    DistinguishedName, DnAttribute, IssueRequest, IssuedCertificate, Serial, XkmsKeyUsage,
};
use xkms_proto::{
    Application, KeyBinding, KeyBindingAbstract, KeyUsage, PrototypeKeyBinding, Reason,
    RegisterRequest, RegisterResult, ResultMajor, ResultMinor, Status, StatusValue,
    ValidityInterval,
};

/// How many fresh serials to try before giving up (a 128-bit collision is practically
/// impossible; a duplicate means a store problem worth surfacing).
const SERIAL_ATTEMPTS: usize = 3;

impl XkmsService {
    /// Handles a RegisterRequest for a client-generated key.
    pub async fn register(
        &self,
        ctx: &RequestContext<'_>,
        req: &RegisterRequest,
    ) -> Result<RegisterResult, ServiceError> {
        let now = self.clock.now();
        let pkb = &req.prototype_key_binding;
        let signed = SignedRequest {
            document: ctx.document,
            request_id: &req.request.message.id,
        };
        if pkb.core.id.is_none() {
            return Err(ServiceError::InvalidRequest(
                "PrototypeKeyBinding has no Id",
            ));
        }
        let key_names = key_names_of(pkb);
        let identities = candidate_identities(&key_names, &pkb.core.use_key_with);
        let auth = authenticate(
            self.store.as_ref(),
            signed,
            &req.authentication,
            &identities,
            Purpose::Register,
            now,
        )
        .await?;
        check_names_against_identity(&auth, pkb)?;

        let Some(key) = rsa_key_of(pkb.core.key_info.as_ref())? else {
            return Err(ServiceError::OptionalElementNotSupported(
                "service-generated keys are not available on this service",
            ));
        };
        let bits = key.bits();
        if bits < self.config.policy.min_rsa_bits {
            return Err(ServiceError::KeyTooSmall {
                bits,
                minimum: self.config.policy.min_rsa_bits,
            });
        }
        let possession = prove_possession(signed, req.proof_of_possession.as_ref(), key)?;
        let issued = self
            .issue_and_commit(&req.request.message.id, &auth, &possession, pkb, now)
            .await?;
        Ok(self.register_result(req, pkb, &possession, &issued))
    }

    async fn issue_and_commit(
        &self,
        request_id: &str,
        auth: &AuthenticationVerified,
        possession: &PossessionProven,
        pkb: &PrototypeKeyBinding,
        now: OffsetDateTime,
    ) -> Result<Issued, ServiceError> {
        let issue_request = self.issue_request(pkb, possession)?;
        let serial = self.reserve_serial(now).await?;
        let certificate = self
            .ca
            .issue(&issue_request, &serial, now)
            .map_err(|e| match e {
                xkms_ca::CaError::KeyTooSmall { bits } => ServiceError::KeyTooSmall {
                    bits,
                    minimum: xkms_ca::MIN_RSA_BITS,
                },
                xkms_ca::CaError::InvalidPublicKey { .. } => {
                    ServiceError::Refused("the public key is not acceptable")
                }
                other => ServiceError::Ca(other.to_string()),
            })?;
        let binding_id = self.ids.message_id();
        let key = possession.key();
        let record = KeyBindingRecord {
            id: binding_id.clone(),
            key_name: key_names_of(pkb).into_iter().next(),
            modulus: key.modulus.clone(),
            exponent: key.exponent.clone(),
            key_fingerprint: crate::identity::key_fingerprint(key),
            key_usage: pkb
                .core
                .key_usage
                .iter()
                .map(|u| u.as_uri().to_owned())
                .collect(),
            use_key_with: pkb
                .core
                .use_key_with
                .iter()
                .filter_map(stored_use_key_with)
                .collect(),
            status: BindingStatus::Valid,
            revocation_code_identifier: pkb.revocation_code_identifier.clone(),
            authorization_id: Some(auth.authorization().id.clone()),
            created_at: now,
            revoked_at: None,
        };
        let serial_hex = certificate.serial.to_hex();
        let audit = vec![
            AuditEvent {
                at: now,
                kind: "authorization.used".into(),
                request_id: Some(request_id.to_owned()),
                subject: auth.authorization().id.clone(),
                detail: format!("register for {}", auth.authorization().identity),
            },
            AuditEvent {
                at: now,
                kind: "certificate.issued".into(),
                request_id: Some(request_id.to_owned()),
                subject: serial_hex.clone(),
                detail: format!("subject {} binding {binding_id}", certificate.subject),
            },
            AuditEvent {
                at: now,
                kind: "keybinding.registered".into(),
                request_id: Some(request_id.to_owned()),
                subject: binding_id.clone(),
                detail: format!("client-generated RSA-{} key", key.bits()),
            },
        ];
        let registration = Registration {
            certificate: CertificateRecord {
                serial: serial_hex,
                binding_id: binding_id.clone(),
                der: certificate.der.clone(),
                not_before: certificate.not_before,
                not_after: certificate.not_after,
                issued_at: now,
                revoked_at: None,
                revocation_reason: None,
            },
            binding: record,
            authorization_id: Some(auth.authorization().id.clone()),
            audit,
        };
        match self.store.commit_registration(&registration).await {
            Ok(()) => {}
            // The authorization was used up or expired by a concurrent request.
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::NoAuthentication(
                    "authorization is no longer usable",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(binding = %binding_id, serial = %registration.certificate.serial, "key registered");
        Ok(Issued {
            binding_id,
            certificate,
        })
    }

    async fn reserve_serial(&self, now: OffsetDateTime) -> Result<Serial, ServiceError> {
        for _ in 0..SERIAL_ATTEMPTS {
            let serial = Serial::random().map_err(|e| ServiceError::Ca(e.to_string()))?;
            match self.store.reserve_serial(&serial.to_hex(), now).await {
                Ok(()) => return Ok(serial),
                Err(StoreError::Duplicate { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Internal(
            "could not reserve a unique serial".into(),
        ))
    }

    fn issue_request(
        &self,
        pkb: &PrototypeKeyBinding,
        possession: &PossessionProven,
    ) -> Result<IssueRequest, ServiceError> {
        let mut req = IssueRequest {
            public_key: possession.key().clone(),
            validity: self.config.policy.certificate_validity,
            ..IssueRequest::default()
        };
        let mut subject = None;
        for ukw in &pkb.core.use_key_with {
            let id = ukw.identifier.trim();
            match &ukw.application {
                Application::Pkix => {
                    if subject.is_some() {
                        return Err(ServiceError::Refused("more than one X.509 subject name"));
                    }
                    subject =
                        Some(DistinguishedName::parse(id).map_err(|_| {
                            ServiceError::InvalidRequest("X.509 name does not parse")
                        })?);
                }
                Application::Smime | Application::Pgp => push_unique(
                    &mut req.email_addresses,
                    crate::identity::normalize_email(id),
                ),
                Application::TlsHttps | Application::TlsSmtp => push_unique(
                    &mut req.dns_names,
                    normalize_identifier(&ukw.application, id).unwrap_or_default(),
                ),
                Application::Tls => push_unique(&mut req.uris, id.to_owned()),
                Application::Ipsec => {
                    let ip = id.parse().map_err(|_| {
                        ServiceError::InvalidRequest("IPsec identifier is not an IP address")
                    })?;
                    if !req.ip_addresses.contains(&ip) {
                        req.ip_addresses.push(ip);
                    }
                }
                Application::Xkms | Application::XkmsProfile | Application::Other(_) => {}
            }
        }
        req.subject = match subject {
            Some(dn) => dn,
            None => {
                // No PKIX name: the certificate names its holder by KeyName or e-mail.
                let cn = key_names_of(pkb)
                    .into_iter()
                    .next()
                    .or_else(|| req.email_addresses.first().cloned())
                    .ok_or(ServiceError::Refused("the request names no subject"))?;
                let mut dn = DistinguishedName::new();
                dn.push(DnAttribute::CommonName, cn).map_err(|_| {
                    ServiceError::InvalidRequest("key name is not a usable subject")
                })?;
                dn
            }
        };
        req.key_usage = pkb
            .core
            .key_usage
            .iter()
            .map(|u| match u {
                KeyUsage::Signature => XkmsKeyUsage::Signature,
                KeyUsage::Encryption => XkmsKeyUsage::Encryption,
                KeyUsage::Exchange => XkmsKeyUsage::Exchange,
            })
            .collect();
        if let Some(vi) = &pkb.validity_interval {
            req.not_before = vi.not_before;
            req.not_after = vi.not_on_or_after;
        }
        Ok(req)
    }

    fn register_result(
        &self,
        req: &RegisterRequest,
        pkb: &PrototypeKeyBinding,
        possession: &PossessionProven,
        issued: &Issued,
    ) -> RegisterResult {
        let key = possession.key();
        let key_name = key_names_of(pkb).into_iter().next();
        let chain = vec![self.ca.certificate_der().to_vec()];
        let described = describe(
            &req.request.respond_with,
            &BindingMaterial {
                key_name: key_name.as_deref(),
                modulus: &key.modulus,
                exponent: &key.exponent,
                certificate: Some(&issued.certificate.der),
                chain: &chain,
            },
            false,
        );
        let minor = described.incomplete.then_some(ResultMinor::Incomplete);
        let binding = KeyBinding {
            core: KeyBindingAbstract {
                id: Some(issued.binding_id.clone()),
                key_info: described.key_info,
                key_usage: pkb.core.key_usage.clone(),
                use_key_with: pkb.core.use_key_with.clone(),
            },
            validity_interval: Some(ValidityInterval {
                not_before: Some(issued.certificate.not_before),
                not_on_or_after: Some(issued.certificate.not_after),
            }),
            status: Status {
                status_value: StatusValue::Valid,
                valid_reasons: vec![
                    Reason::IssuerTrust,
                    Reason::RevocationStatus,
                    Reason::ValidityInterval,
                    Reason::Signature,
                ],
                indeterminate_reasons: Vec::new(),
                invalid_reasons: Vec::new(),
            },
        };
        RegisterResult {
            result: self.result_for(&req.request, ResultMajor::Success, minor),
            key_bindings: vec![binding],
            private_key: None,
        }
    }
}

/// What a successful issue produced.
struct Issued {
    binding_id: String,
    certificate: IssuedCertificate,
}

/// KeyNames of the prototype's KeyInfo.
fn key_names_of(pkb: &PrototypeKeyBinding) -> Vec<String> {
    pkb.core
        .key_info
        .as_ref()
        .map(|ki| ki.key_names.clone())
        .unwrap_or_default()
}

/// An authorization for an e-mail identity may bind only that address as an e-mail
/// name; one for a DN only that DN as X.509 name. Other names are policy-free here.
fn check_names_against_identity(
    auth: &AuthenticationVerified,
    pkb: &PrototypeKeyBinding,
) -> Result<(), ServiceError> {
    let identity = &auth.authorization().identity;
    let email = is_email_identity(identity);
    for ukw in &pkb.core.use_key_with {
        let governed = match ukw.application {
            Application::Smime | Application::Pgp => email,
            Application::Pkix => !email,
            _ => false,
        };
        if !governed {
            continue;
        }
        let normalized = normalize_identifier(&ukw.application, &ukw.identifier);
        if normalized.as_deref() != Some(identity.as_str()) {
            return Err(ServiceError::Refused(
                "a requested name is not covered by the authorization",
            ));
        }
    }
    Ok(())
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}
