//! Reissue (X-KRSS, digest §5.2): a new certificate (new serial, new validity) for an
//! existing, valid key binding.

use crate::audit::audit_event;
use crate::authenticate::{SignedRequest, prove_possession};
use crate::binding::binding_identities;
use crate::config::Policy;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::issuance::{
    Issuer, certificate_record, issue_certificate, refuse_compromised_key, valid_key_binding,
    xkms_key_usage,
};
use crate::names::Grants;
use crate::results::result_header;
use crate::store::{BindingStatus, KeyBindingRecord, Purpose, Reissue, StoreError};
use xkms_ca::{DistinguishedName, IssueRequest, RsaPublicKey};
use xkms_proto::{ReissueRequest, ReissueResult, ResultMajor, ResultMinor};

/// Handles a ReissueRequest. The binding is named by its certificate (the seed's
/// T102), KeyValue or KeyName; authentication is a KeyBindingAuthentication with an
/// authorization code for one of the binding's identities; the client proves
/// possession when the key is its own (a service-generated key needs no proof: the
/// service made it).
pub(crate) async fn reissue(
    cx: &Issuer<'_>,
    ctx: &RequestContext<'_>,
    req: &ReissueRequest,
) -> Result<ReissueResult, ServiceError> {
    let now = cx.clock.now();
    let kb = &req.reissue_key_binding;
    if kb.core.id.is_none() {
        return Err(ServiceError::InvalidRequest("ReissueKeyBinding has no Id"));
    }
    let signed = SignedRequest {
        document: ctx.document,
        request_id: &req.request.message.id,
    };
    let binding = crate::binding::identify_binding(cx.store, cx.ca, kb).await?;
    let auth = cx
        .guard
        .authenticate(
            ctx,
            signed,
            &req.authentication,
            &binding_identities(&binding),
            Purpose::Register,
        )
        .await?;
    if binding.status != BindingStatus::Valid {
        return Err(ServiceError::Refused("the key binding is revoked"));
    }
    let key = RsaPublicKey {
        modulus: binding.modulus.clone(),
        exponent: binding.exponent.clone(),
    };
    refuse_compromised_key(cx.store, &key).await?;
    let mut replay = auth.replay_marks();
    let escrowed = cx.store.escrowed_key(&binding.id).await?.is_some();
    if !escrowed || req.proof_of_possession.is_some() {
        let proof = prove_possession(signed, req.proof_of_possession.as_ref(), key.clone())?;
        replay.push(proof.replay_mark(&auth));
    }

    let previous = cx
        .store
        .certificates_of(&binding.id)
        .await?
        .into_iter()
        .next()
        .ok_or(ServiceError::Internal("binding without certificate"))?;
    let issue_request = reissue_request(cx.policy, &binding, &previous.der, key.clone())?;
    // The new certificate repeats the binding's names: the code that asks for it must
    // grant them all (a code for one of the binding's names does not suffice).
    Grants::of(auth.authorization()).check(
        &binding.key_name.iter().cloned().collect::<Vec<_>>(),
        &binding.use_key_with_elements(),
        &issue_request,
    )?;
    let certificate = issue_certificate(cx.store, cx.ca, cx.serials, &issue_request, now).await?;
    let request_id = &req.request.message.id;
    let reissue = Reissue {
        binding_id: binding.id.clone(),
        certificate: certificate_record(&binding.id, &certificate, now),
        authorization_id: Some(auth.authorization().id.clone()),
        replay,
        audit: vec![
            audit_event(
                now,
                crate::store::AuditKind::AuthorizationUsed,
                request_id,
                &auth.authorization().id,
                format!("reissue for {}", auth.authorization().identity),
            ),
            audit_event(
                now,
                crate::store::AuditKind::CertificateIssued,
                request_id,
                &certificate.serial.to_hex(),
                format!(
                    "reissue of binding {} (previous serial {})",
                    binding.id, previous.serial
                ),
            ),
        ],
    };
    match cx.store.commit_reissue(&reissue).await {
        Ok(()) => {}
        Err(StoreError::Conflict { what }) => {
            tracing::info!(binding = %binding.id, what, "reissue refused by the store");
            return Err(ServiceError::Refused(
                "the key binding can no longer be reissued",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let key_usage = binding.key_usage.clone();
    let use_key_with = binding.use_key_with_elements();
    let (key_binding, incomplete) = valid_key_binding(
        cx.ca,
        &req.request.respond_with,
        &binding.id,
        binding.key_name.as_deref(),
        &key,
        &certificate,
        &key_usage,
        &use_key_with,
        false,
    );
    Ok(ReissueResult {
        result: result_header(
            cx.service_uri,
            &req.request,
            ResultMajor::Success,
            incomplete.then_some(ResultMinor::Incomplete),
        ),
        key_bindings: vec![key_binding],
    })
}

/// The new certificate names what the previous one named, for the same key.
fn reissue_request(
    policy: &Policy,
    binding: &KeyBindingRecord,
    previous_der: &[u8],
    key: RsaPublicKey,
) -> Result<IssueRequest, ServiceError> {
    let info = xkms_ca::parse_certificate(previous_der)
        .map_err(|_| ServiceError::Internal("stored certificate does not parse"))?;
    let subject = DistinguishedName::parse(&info.subject)
        .map_err(|_| ServiceError::Internal("stored subject does not parse"))?;
    Ok(IssueRequest {
        subject,
        public_key: key,
        email_addresses: info.email_addresses,
        dns_names: info.dns_names,
        uris: info.uris,
        ip_addresses: info.ip_addresses,
        key_usage: binding
            .key_usage
            .clone()
            .iter()
            .map(xkms_key_usage)
            .collect(),
        validity: policy.certificate_validity,
        ..IssueRequest::default()
    })
}
