//! Register (X-KRSS, digest §5.1): bind a client-generated RSA key, or a key the service
//! generates, to names; issue an X.509 certificate for it; persist binding, certificate
//! (and escrowed key) and audit trail in one transaction.

use crate::audit::audit_event;
use crate::authenticate::{
    AuthenticationVerified, PossessionProven, SignedRequest, prove_possession, rsa_key_of,
};
use crate::config::Policy;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::identity::{candidate_identities, normalize_identifier, stored_use_key_with};
use crate::issuance::{
    Issuer, certificate_record, check_key_size, issue_certificate, private_key_for,
    refuse_compromised_key, valid_key_binding, xkms_key_usage,
};
use crate::names::Grants;
use crate::results::result_header;
use crate::store::{
    BindingStatus, KeyBindingRecord, Purpose, Registration, StoreError, StoredUseKeyWith,
};
use time::OffsetDateTime;
use xkms_ca::{DistinguishedName, DnAttribute, IssueRequest, IssuedCertificate, RsaPublicKey};
use xkms_proto::{
    Application, PrivateKey, PrototypeKeyBinding, RegisterRequest, RegisterResult, ResultMajor,
    ResultMinor, RsaKeyPair,
};
use xkms_xmlsec::key_pair::rsa_key_pair_from_pkcs8;
use zeroize::Zeroizing;

/// Handles a RegisterRequest: a client-generated key (with proof of possession), or
/// no key at all, which asks the service to generate one (returned encrypted under
/// the authorization's 0x04 key and escrowed for Recover).
pub(crate) async fn register(
    cx: &Issuer<'_>,
    ctx: &RequestContext<'_>,
    req: &RegisterRequest,
) -> Result<RegisterResult, ServiceError> {
    let now = cx.clock.now();
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
    // The key's size is checked before any signature work: a 16384-bit modulus costs
    // a proof-of-possession check, an oversized one must not.
    let client_key = rsa_key_of(pkb.core.key_info.as_ref())?;
    if let Some(key) = &client_key {
        check_key_size(cx.policy, key)?;
    }
    let key_names = key_names_of(pkb);
    let identities = candidate_identities(&key_names, &pkb.core.use_key_with);
    let auth = cx
        .guard
        .authenticate(
            ctx,
            signed,
            &req.authentication,
            &identities,
            Purpose::Register,
        )
        .await?;
    // Every name the binding and the certificate will carry, before any key is
    // generated or anything signed.
    let names = issue_request(cx.policy, pkb)?;
    Grants::of(auth.authorization()).check(&key_names, &pkb.core.use_key_with, &names)?;

    let new_key = match client_key {
        Some(key) => {
            refuse_compromised_key(cx.store, &key).await?;
            NewKey::Client(prove_possession(
                signed,
                req.proof_of_possession.as_ref(),
                key,
            )?)
        }
        None => NewKey::Generated(Box::new(generated_key(cx).await?)),
    };
    let private_key = match &new_key {
        NewKey::Generated(generated) => Some(private_key_for(cx.policy, &auth, &generated.pair)?),
        NewKey::Client(_) => None,
    };
    let issued = issue_and_commit(
        cx,
        &req.request.message.id,
        &auth,
        &new_key,
        pkb,
        names,
        now,
    )
    .await?;
    Ok(register_result(
        cx,
        req,
        pkb,
        new_key.public_key(),
        &issued,
        private_key,
    ))
}

/// A key from the pool, or a freshly generated one when the pool is empty.
async fn generated_key(cx: &Issuer<'_>) -> Result<GeneratedKeyPair, ServiceError> {
    let escrow = cx.escrow.ok_or(ServiceError::OptionalElementNotSupported(
        "service-generated keys are not enabled on this service",
    ))?;
    let pkcs8 = match escrow.key_pool.try_take() {
        Some(key) => key,
        None => {
            let bits = escrow.key_pool.bits();
            tracing::info!(bits, "key pool empty: generating on the request path");
            tokio::task::spawn_blocking(move || crate::keypool::generate(bits))
                .await
                .map_err(|_| ServiceError::Internal("key generation task failed"))?
                .ok_or(ServiceError::Internal("key generation failed"))?
        }
    };
    let pair = rsa_key_pair_from_pkcs8(&pkcs8)
        .map_err(|_| ServiceError::Internal("generated key does not parse"))?;
    let public = RsaPublicKey {
        modulus: pair.modulus.clone(),
        exponent: pair.exponent.clone(),
    };
    Ok(GeneratedKeyPair {
        pair,
        public,
        pkcs8: Zeroizing::new(pkcs8.to_vec()),
    })
}

async fn issue_and_commit(
    cx: &Issuer<'_>,
    request_id: &str,
    auth: &AuthenticationVerified,
    new_key: &NewKey,
    pkb: &PrototypeKeyBinding,
    mut issue_request: IssueRequest,
    now: OffsetDateTime,
) -> Result<Issued, ServiceError> {
    let key = new_key.public_key();
    issue_request.public_key = key.clone();
    let binding_id = cx.ids.message_id();
    let escrowed_private_key = match new_key {
        NewKey::Generated(g) => Some(
            cx.master_key
                .seal(&g.pkcs8, &crate::escrow::escrow_aad(&binding_id))?,
        ),
        NewKey::Client(_) => None,
    };
    let mut replay = auth.replay_marks();
    if let NewKey::Client(proof) = new_key {
        replay.push(proof.replay_mark(auth));
    }
    let certificate = issue_certificate(cx.store, cx.ca, cx.serials, &issue_request, now).await?;
    let mut use_key_with: Vec<_> = pkb
        .core
        .use_key_with
        .iter()
        .filter_map(stored_use_key_with)
        .collect();
    // The certificate's subject is always findable as a PKIX name.
    let pkix = StoredUseKeyWith {
        application: Application::Pkix,
        identifier: certificate.subject.clone(),
    };
    if !use_key_with.contains(&pkix) {
        use_key_with.push(pkix);
    }
    let record = KeyBindingRecord {
        id: binding_id.clone(),
        key_name: key_names_of(pkb).into_iter().next(),
        modulus: key.modulus.clone(),
        exponent: key.exponent.clone(),
        key_fingerprint: crate::identity::key_fingerprint(key),
        key_usage: pkb.core.key_usage.clone(),
        use_key_with,
        status: BindingStatus::Valid,
        revocation_code_identifier: pkb.revocation_code_identifier.clone(),
        authorization_id: Some(auth.authorization().id.clone()),
        created_at: now,
        revoked_at: None,
    };
    let origin = match new_key {
        NewKey::Client(_) => "client-generated",
        NewKey::Generated(_) => "service-generated (escrowed)",
    };
    let mut audit = vec![audit_event(
        now,
        crate::store::AuditKind::AuthorizationUsed,
        request_id,
        &auth.authorization().id,
        format!("register for {}", auth.authorization().identity),
    )];
    if let NewKey::Generated(_) = new_key {
        audit.push(audit_event(
            now,
            crate::store::AuditKind::KeyGenerated,
            request_id,
            &binding_id,
            format!("RSA-{} key generated and escrowed", key.bits()),
        ));
    }
    audit.push(audit_event(
        now,
        crate::store::AuditKind::CertificateIssued,
        request_id,
        &certificate.serial.to_hex(),
        format!("subject {} binding {binding_id}", certificate.subject),
    ));
    audit.push(audit_event(
        now,
        crate::store::AuditKind::KeyBindingRegistered,
        request_id,
        &binding_id,
        format!("{origin} RSA-{} key", key.bits()),
    ));
    let registration = Registration {
        certificate: certificate_record(&binding_id, &certificate, now),
        binding: record,
        authorization_id: Some(auth.authorization().id.clone()),
        escrowed_private_key,
        replay,
        audit,
    };
    match cx.store.commit_registration(&registration).await {
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

/// What the certificate for `pkb` will say (its key is filled in later).
fn issue_request(policy: &Policy, pkb: &PrototypeKeyBinding) -> Result<IssueRequest, ServiceError> {
    let mut req = IssueRequest {
        validity: policy.certificate_validity,
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
                subject = Some(
                    DistinguishedName::parse(id)
                        .map_err(|_| ServiceError::InvalidRequest("X.509 name does not parse"))?,
                );
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
            dn.push(DnAttribute::CommonName, cn)
                .map_err(|_| ServiceError::InvalidRequest("key name is not a usable subject"))?;
            dn
        }
    };
    req.key_usage = pkb.core.key_usage.iter().map(xkms_key_usage).collect();
    if let Some(vi) = &pkb.validity_interval {
        req.not_before = vi.not_before;
        req.not_after = vi.not_on_or_after.map(crate::respond::not_after_for);
    }
    Ok(req)
}

fn register_result(
    cx: &Issuer<'_>,
    req: &RegisterRequest,
    pkb: &PrototypeKeyBinding,
    key: &RsaPublicKey,
    issued: &Issued,
    private_key: Option<PrivateKey>,
) -> RegisterResult {
    let key_name = key_names_of(pkb).into_iter().next();
    let binding = valid_key_binding(
        cx.ca,
        &req.request.respond_with,
        &issued.binding_id,
        key_name.as_deref(),
        key,
        &issued.certificate,
        &pkb.core.key_usage,
        &pkb.core.use_key_with,
        private_key.is_some(),
    );
    let minor = binding.1.then_some(ResultMinor::Incomplete);
    RegisterResult {
        result: result_header(cx.service_uri, &req.request, ResultMajor::Success, minor),
        key_bindings: vec![binding.0],
        private_key,
    }
}

/// The key a registration binds.
enum NewKey {
    /// The client's own key, its possession proven.
    Client(PossessionProven),
    /// A key the service generated for the client.
    Generated(Box<GeneratedKeyPair>),
}

impl NewKey {
    fn public_key(&self) -> &RsaPublicKey {
        match self {
            NewKey::Client(proof) => proof.key(),
            NewKey::Generated(generated) => &generated.public,
        }
    }
}

/// A service-generated key: components (for the client), public key, PKCS#8 (sealed
/// for escrow once the binding has its id).
struct GeneratedKeyPair {
    pair: RsaKeyPair,
    public: RsaPublicKey,
    pkcs8: Zeroizing<Vec<u8>>,
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

fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}
