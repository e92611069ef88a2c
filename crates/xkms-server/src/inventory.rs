//! The operator's inventory commands: `xkmsd admin bindings list|show`, `xkmsd admin
//! revoke`, `xkmsd admin authorizations list|revoke`. Text for people, `--json` for
//! scripts; times in RFC 3339 (UTC). Authorization codes are listed by id, identity,
//! purpose, names and state: their secrets are never stored, and what is stored (sealed
//! derived keys) is never printed.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use xkms_service::XkmsService;
use xkms_service::operator::{OperatorReason, reason_name};
use xkms_service::store::{
    Authorization, AuthorizationFilter, BindingFilter, BindingSelector, BindingStatus,
    CertificateRecord, KeyBindingRecord, StoreError,
};

use crate::display::{hex, rfc3339};

/// `xkmsd admin bindings list`: oldest first, at most `limit`.
pub async fn list_bindings(
    service: &XkmsService,
    filter: &BindingFilter,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let bindings = service.store().list_bindings(filter, limit).await?;
    let mut described = Vec::with_capacity(bindings.len());
    for binding in &bindings {
        let certificates = service.store().certificates_of(&binding.id).await?;
        described.push((binding, certificates));
    }
    if json {
        let list: Vec<Value> = described
            .iter()
            .map(|(b, certs)| binding_json(b, certs))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if bindings.is_empty() {
        println!("no key bindings");
        return Ok(());
    }
    for (binding, certificates) in &described {
        println!("{}", binding_line(binding, certificates));
    }
    println!(
        "{} key binding(s){}",
        bindings.len(),
        if bindings.len() == limit {
            " (the limit: there may be more, raise --limit)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `xkmsd admin bindings show ID | --serial S`.
pub async fn show_binding(
    service: &XkmsService,
    id: Option<String>,
    serial: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let binding = find_binding(service, id, serial).await?;
    let certificates = service.store().certificates_of(&binding.id).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&binding_json(&binding, &certificates))?
        );
        return Ok(());
    }
    let key = xkms_ca::RsaPublicKey {
        modulus: binding.modulus.clone(),
        exponent: binding.exponent.clone(),
    };
    println!("binding        {}", binding.id);
    println!("status         {}", status_words(&binding));
    if let Some(name) = &binding.key_name {
        println!("key name       {name}");
    }
    println!(
        "key            RSA-{}, SHA-256 SPKI fingerprint {}",
        key.bits(),
        hex(&binding.key_fingerprint)
    );
    println!(
        "key usage      {}",
        if binding.key_usage.is_empty() {
            "any (none asserted)".to_owned()
        } else {
            binding
                .key_usage
                .iter()
                .map(|u| u.as_uri().rsplit('#').next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    for (i, pair) in binding.use_key_with.iter().enumerate() {
        let label = if i == 0 { "use key with" } else { "" };
        println!(
            "{label:<14} {} = {}",
            pair.application.as_uri(),
            pair.identifier
        );
    }
    println!(
        "authorization  {}",
        binding
            .authorization_id
            .as_deref()
            .unwrap_or("none (issued by the operator)")
    );
    println!("created        {}", rfc3339(binding.created_at));
    println!(
        "revocation code {}",
        if binding.revocation_code_identifier.is_some() {
            "set"
        } else {
            "none"
        }
    );
    for certificate in &certificates {
        let subject = xkms_ca::parse_certificate(&certificate.der)
            .map(|info| info.subject)
            .unwrap_or_else(|_| "(unreadable)".into());
        println!(
            "certificate    {}  {subject}  {} to {}{}",
            certificate.serial,
            rfc3339(certificate.not_before),
            rfc3339(certificate.not_after),
            certificate_revocation(certificate)
        );
    }
    Ok(())
}

/// `xkmsd admin revoke ID | --serial S --reason R`.
pub async fn revoke(
    service: &XkmsService,
    id: Option<String>,
    serial: Option<String>,
    reason: OperatorReason,
) -> anyhow::Result<()> {
    let binding = find_binding(service, id, serial).await?;
    let revoked = match service
        .revoke_binding_as_operator(&binding.id, reason)
        .await
    {
        Ok(revoked) => revoked,
        Err(xkms_service::ServiceError::Refused(_)) => {
            bail!("key binding {} is already revoked", binding.id)
        }
        Err(e) => return Err(e.into()),
    };
    let serials: Vec<String> = service
        .store()
        .certificates_of(&revoked.id)
        .await?
        .into_iter()
        .map(|c| c.serial.to_hex())
        .collect();
    println!(
        "key binding {} revoked ({}); certificate(s) {} are in the CRL from now on",
        revoked.id,
        reason_name(reason.code()),
        serials.join(", ")
    );
    if reason == OperatorReason::KeyCompromise {
        println!("its key is refused by Register and Reissue from now on");
    }
    Ok(())
}

/// `xkmsd admin authorizations list`.
pub async fn list_authorizations(
    service: &XkmsService,
    identity: Option<String>,
    usable: bool,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    let identity = match identity {
        Some(identity) => Some(
            xkms_service::identity::normalize_authorization_identity(&identity)
                .with_context(|| format!("{identity}: not an e-mail address or an X.509 name"))?,
        ),
        None => None,
    };
    let filter = AuthorizationFilter {
        identity,
        usable_at: usable.then_some(now),
    };
    let authorizations = service.store().list_authorizations(&filter, limit).await?;
    if json {
        let list: Vec<Value> = authorizations
            .iter()
            .map(|a| authorization_json(a, now))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if authorizations.is_empty() {
        println!("no authorization codes");
        return Ok(());
    }
    for a in &authorizations {
        let granted: Vec<String> = a
            .granted_names
            .iter()
            .map(|g| format!("{}:{}", g.kind.as_str(), g.value))
            .collect();
        println!(
            "{}  {:<8}  {:<9}  {}  uses {}{}  expires {}{}",
            a.id,
            a.purpose.as_str(),
            authorization_state(a, now),
            a.identity,
            a.uses,
            a.max_uses.map(|m| format!("/{m}")).unwrap_or_default(),
            rfc3339(a.expires_at),
            if granted.is_empty() {
                String::new()
            } else {
                format!("  also grants {}", granted.join(", "))
            }
        );
    }
    println!(
        "{} authorization code(s){}",
        authorizations.len(),
        if authorizations.len() == limit {
            " (the limit: there may be more, raise --limit)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `xkmsd admin authorizations revoke ID`.
pub async fn revoke_authorization(service: &XkmsService, id: &str) -> anyhow::Result<()> {
    match service.revoke_authorization(id).await {
        Ok(a) => {
            println!(
                "authorization {} for {} ({}) revoked: it authenticates nobody from now on",
                a.id,
                a.identity,
                a.purpose.as_str()
            );
            Ok(())
        }
        Err(xkms_service::ServiceError::Store(StoreError::NotFound { .. })) => {
            bail!("no authorization code {id} (xkmsd admin authorizations list shows them)")
        }
        Err(xkms_service::ServiceError::Store(StoreError::Conflict { .. })) => {
            bail!("authorization code {id} is already revoked")
        }
        Err(e) => Err(e.into()),
    }
}

/// The binding an operator names by id or by a certificate's serial.
async fn find_binding(
    service: &XkmsService,
    id: Option<String>,
    serial: Option<String>,
) -> anyhow::Result<KeyBindingRecord> {
    let (selector, named) = match (id, serial) {
        (Some(id), None) => (BindingSelector::Id(id.clone()), format!("key binding {id}")),
        (None, Some(serial)) => {
            let parsed = xkms_ca::Serial::from_hex(&serial)
                .map_err(|e| anyhow::anyhow!("--serial {serial}: {e}"))?;
            (
                BindingSelector::CertificateSerial(parsed),
                format!("certificate with serial {}", parsed.to_hex()),
            )
        }
        _ => bail!("name the key binding by its id or by --serial"),
    };
    service
        .store()
        .find_bindings(&selector, 1)
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("no {named} in the store (xkmsd admin bindings list shows them)"))
}

fn binding_line(binding: &KeyBindingRecord, certificates: &[CertificateRecord]) -> String {
    let names: Vec<&str> = binding
        .use_key_with
        .iter()
        .map(|p| p.identifier.as_str())
        .collect();
    let newest = certificates
        .first()
        .map(|c| {
            format!(
                "  certificate {} until {}{}",
                c.serial,
                rfc3339(c.not_after),
                certificate_revocation(c)
            )
        })
        .unwrap_or_default();
    format!(
        "{}  {:<7}  {}  created {}  names: {}{newest}",
        binding.id,
        binding.status.as_str(),
        binding.key_name.as_deref().unwrap_or("-"),
        rfc3339(binding.created_at),
        names.join(", ")
    )
}

fn status_words(binding: &KeyBindingRecord) -> String {
    match (binding.status, binding.revoked_at) {
        (BindingStatus::Valid, _) => "valid".into(),
        (BindingStatus::Revoked, Some(at)) => format!("revoked at {}", rfc3339(at)),
        (BindingStatus::Revoked, None) => "revoked".into(),
    }
}

fn certificate_revocation(c: &CertificateRecord) -> String {
    match (c.revoked_at, c.revocation_reason) {
        (Some(at), reason) => format!(
            "  revoked {} ({})",
            rfc3339(at),
            reason_name(reason.unwrap_or(0))
        ),
        (None, _) => String::new(),
    }
}

fn authorization_state(a: &Authorization, now: time::OffsetDateTime) -> &'static str {
    if a.revoked_at.is_some() {
        "revoked"
    } else if a.expires_at <= now {
        "expired"
    } else if a.max_uses.is_some_and(|m| a.uses >= m) {
        "used up"
    } else {
        "usable"
    }
}

fn binding_json(binding: &KeyBindingRecord, certificates: &[CertificateRecord]) -> Value {
    let key = xkms_ca::RsaPublicKey {
        modulus: binding.modulus.clone(),
        exponent: binding.exponent.clone(),
    };
    json!({
        "id": binding.id,
        "status": binding.status.as_str(),
        "key_name": binding.key_name,
        "key_bits": key.bits(),
        "key_fingerprint_sha256": hex(&binding.key_fingerprint),
        "key_usage": binding.key_usage.iter().map(|u| u.as_uri()).collect::<Vec<_>>(),
        "use_key_with": binding.use_key_with.iter().map(|p| json!({
            "application": p.application.as_uri(),
            "identifier": p.identifier,
        })).collect::<Vec<_>>(),
        "authorization_id": binding.authorization_id,
        "created_at": rfc3339(binding.created_at),
        "revoked_at": binding.revoked_at.map(rfc3339),
        "certificates": certificates.iter().map(|c| json!({
            "serial": c.serial.to_hex(),
            "not_before": rfc3339(c.not_before),
            "not_after": rfc3339(c.not_after),
            "issued_at": rfc3339(c.issued_at),
            "revoked_at": c.revoked_at.map(rfc3339),
            "revocation_reason": c.revocation_reason.map(reason_name),
        })).collect::<Vec<_>>(),
    })
}

fn authorization_json(a: &Authorization, now: time::OffsetDateTime) -> Value {
    json!({
        "id": a.id,
        "identity": a.identity,
        "purpose": a.purpose.as_str(),
        "state": authorization_state(a, now),
        "granted_names": a.granted_names.iter()
            .map(|g| format!("{}:{}", g.kind.as_str(), g.value)).collect::<Vec<_>>(),
        "created_at": rfc3339(a.created_at),
        "expires_at": rfc3339(a.expires_at),
        "uses": a.uses,
        "max_uses": a.max_uses,
        "revoked_at": a.revoked_at.map(rfc3339),
    })
}
