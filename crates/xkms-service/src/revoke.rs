//! Revoke (X-KRSS, digest §5.3) and the CRL that publishes revocations.

use crate::audit::audit_event;
use crate::authenticate::SignedRequest;
use crate::binding::{binding_identities, identify_binding};
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::guard::Guard;
use crate::respond::{ExtraMaterial, stored_binding, valid_status};
use crate::results::result_header;
use crate::store::{
    BindingStatus, KeyBindingRecord, Purpose, ReplayMark, Revocation, Store, StoreError,
};
use xkms_ca::Ca;
use xkms_proto::{
    KeyBinding, Reason, RespondWith, ResultMajor, ResultMinor, RevokeAuthorization, RevokeRequest,
    RevokeResult, Status, StatusValue,
};
use xkms_xmlsec::kdf::{constant_time_eq, revocation_code_identifier};

/// CRLReason keyCompromise: the REC's revocation is for a compromised key.
const KEY_COMPROMISE: u8 = 1;

/// What Revoke uses: the store (to find the binding and record its revocation), the CA
/// (to recognise its certificates and describe the binding), the clock and the
/// authentication checks.
pub(crate) struct Revoker<'a> {
    pub store: &'a dyn Store,
    pub ca: &'a Ca,
    pub clock: &'a dyn Clock,
    pub guard: Guard<'a>,
    /// How long a used revocation code is remembered at least.
    pub replay_window: time::Duration,
    /// For result headers.
    pub service_uri: &'a str,
    /// Dropped at once when this node revokes.
    pub validate_cache: &'a crate::validate_cache::ValidateCache,
}

/// Handles a RevokeRequest: the binding is named by certificate, KeyValue or KeyName;
/// the authority to revoke is the RevocationCode (whose HMAC-SHA1 under 0x03 must
/// equal the stored RevocationCodeIdentifier) or a KeyBindingAuthentication with an
/// authorization code for the binding's identity.
pub(crate) async fn revoke(
    cx: &Revoker<'_>,
    ctx: &RequestContext<'_>,
    req: &RevokeRequest,
) -> Result<RevokeResult, ServiceError> {
    let now = cx.clock.now();
    let kb = &req.revoke_key_binding;
    let binding = identify_binding(cx.store, cx.ca, kb).await?;
    let request_id = &req.request.message.id;
    let (authority, replay) = match &req.authorization {
        RevokeAuthorization::RevocationCode(code) => {
            let stored = binding.revocation_code_identifier.as_deref().ok_or(
                ServiceError::NoAuthentication("the binding has no revocation code"),
            )?;
            cx.guard
                .check_revocation_code(ctx, &binding.id, || {
                    constant_time_eq(&revocation_code_identifier(code), stored)
                })
                .await?;
            let mark = revocation_code_mark(cx, &binding.id, code, now).await?;
            ("revocation code".to_owned(), vec![mark])
        }
        RevokeAuthorization::Authentication(authentication) => {
            if kb.core.id.is_none() {
                return Err(ServiceError::InvalidRequest("RevokeKeyBinding has no Id"));
            }
            let signed = SignedRequest {
                document: ctx.document,
                request_id,
            };
            let auth = cx
                .guard
                .authenticate(
                    ctx,
                    signed,
                    authentication,
                    &binding_identities(&binding),
                    Purpose::Register,
                )
                .await?;
            (
                format!("authorization {}", auth.authorization().id),
                auth.replay_marks(),
            )
        }
    };
    if binding.status == BindingStatus::Revoked {
        return Err(ServiceError::Refused("the key binding is already revoked"));
    }
    let revocation = Revocation {
        binding_id: binding.id.clone(),
        at: now,
        reason: KEY_COMPROMISE,
        replay,
        audit: vec![audit_event(
            now,
            crate::store::AuditKind::KeyBindingRevoked,
            request_id,
            &binding.id,
            format!("revoked by {authority} (keyCompromise)"),
        )],
    };
    let revoked = cx.store.revoke_binding(&revocation).await;
    cx.validate_cache.revoked_here();
    match revoked {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(ServiceError::Refused("the key binding is already revoked"));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(binding = %binding.id, "key binding revoked");
    let mut revoked = binding;
    revoked.status = BindingStatus::Revoked;
    revoked.revoked_at = Some(now);
    let (key_binding, incomplete) =
        described_binding(cx.store, cx.ca, &req.request.respond_with, &revoked, false).await?;
    Ok(RevokeResult {
        result: result_header(
            cx.service_uri,
            &req.request,
            ResultMajor::Success,
            incomplete.then_some(ResultMinor::Incomplete),
        ),
        key_bindings: vec![key_binding],
    })
}

/// The use of a revocation code, remembered (as a hash) while the binding has a
/// certificate that could still be revoked.
async fn revocation_code_mark(
    cx: &Revoker<'_>,
    binding_id: &str,
    code: &[u8],
    now: time::OffsetDateTime,
) -> Result<ReplayMark, ServiceError> {
    let until = cx
        .store
        .certificates_of(binding_id)
        .await?
        .iter()
        .map(|c| c.not_after)
        .max()
        .unwrap_or(now)
        .max(now + cx.replay_window);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code);
    Ok(ReplayMark {
        kind: "revocation-code".to_owned(),
        value: digest.as_ref().to_vec(),
        expires_at: until,
    })
}

/// A stored binding as a `KeyBinding`: Valid (all reasons) or, when revoked, Invalid
/// with reason RevocationStatus; KeyInfo per RespondWith from its newest certificate.
pub(crate) async fn described_binding(
    store: &dyn Store,
    ca: &Ca,
    respond_with: &[RespondWith],
    binding: &KeyBindingRecord,
    private_key_handled: bool,
) -> Result<(KeyBinding, bool), ServiceError> {
    let newest = store.certificates_of(&binding.id).await?.into_iter().next();
    let chain = vec![ca.certificate_der().to_vec()];
    let described = stored_binding(
        respond_with,
        binding,
        newest.as_ref(),
        &chain,
        &ExtraMaterial::default(),
        private_key_handled,
    );
    let status = match binding.status {
        BindingStatus::Valid => valid_status(),
        BindingStatus::Revoked => Status {
            status_value: StatusValue::Invalid,
            valid_reasons: Vec::new(),
            indeterminate_reasons: Vec::new(),
            invalid_reasons: vec![Reason::RevocationStatus],
        },
    };
    let key_binding = KeyBinding {
        core: described.core,
        validity_interval: described.validity_interval,
        status,
    };
    Ok((key_binding, described.incomplete))
}
