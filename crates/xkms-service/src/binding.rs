//! Finding the stored key binding a Reissue/Revoke/Recover request names, and the
//! identities it may be authorized under.

use crate::error::ServiceError;
use crate::identity::key_fingerprint;
use crate::store::{BindingSelector, KeyBindingRecord, Store};
use xkms_ca::{Ca, RsaPublicKey, Serial};
use xkms_proto::{Application, KeyBinding, KeyValue};

/// At most this many candidates are considered for one identification.
const CANDIDATE_LIMIT: usize = 16;

/// The one stored binding `kb` identifies: by X.509 certificate (serial of one we
/// issued, else its key), by KeyValue, or by KeyName — in that order of precision.
pub(crate) async fn identify_binding(
    store: &dyn Store,
    ca: &Ca,
    kb: &KeyBinding,
) -> Result<KeyBindingRecord, ServiceError> {
    let key_info = kb
        .core
        .key_info
        .as_ref()
        .ok_or(ServiceError::InvalidRequest(
            "the key binding has no KeyInfo",
        ))?;
    let mut selectors = Vec::new();
    for data in &key_info.x509_data {
        for der in &data.certificates {
            let info = xkms_ca::parse_certificate(der)
                .map_err(|_| ServiceError::InvalidRequest("certificate does not parse"))?;
            if ca.verify_issued(der).is_ok()
                && let Some(serial) = info.serial
            {
                selectors.push(BindingSelector::CertificateSerial(serial));
            }
            if let Some(key) = &info.rsa_public_key {
                selectors.push(BindingSelector::KeyFingerprint(key_fingerprint(key)));
            }
        }
    }
    for value in &key_info.key_values {
        if let KeyValue::Rsa(rsa) = value {
            let key = RsaPublicKey {
                modulus: rsa.modulus.clone(),
                exponent: rsa.exponent.clone(),
            };
            selectors.push(BindingSelector::KeyFingerprint(key_fingerprint(&key)));
        }
    }
    for name in &key_info.key_names {
        selectors.push(BindingSelector::KeyName(name.clone()));
    }
    if selectors.is_empty() {
        return Err(ServiceError::InvalidRequest(
            "the key binding names no certificate, key value or key name",
        ));
    }
    for selector in &selectors {
        let mut found = store.find_bindings(selector, CANDIDATE_LIMIT).await?;
        match found.len() {
            0 => continue,
            1 => return Ok(found.remove(0)),
            _ => {
                // Several bindings share a key name or key: prefer the one valid one.
                let valid: Vec<_> = found
                    .into_iter()
                    .filter(|b| b.status == crate::store::BindingStatus::Valid)
                    .collect();
                return match <[KeyBindingRecord; 1]>::try_from(valid) {
                    Ok([one]) => Ok(one),
                    Err(_) => Err(ServiceError::Refused(
                        "the key binding is ambiguous: name it by certificate or key value",
                    )),
                };
            }
        }
    }
    Err(ServiceError::NoSuchBinding)
}

/// The identities an authorization for `binding` may name: its e-mail and X.509 names
/// and its KeyName (normalised as stored).
pub(crate) fn binding_identities(binding: &KeyBindingRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ukw in &binding.use_key_with {
        if matches!(
            ukw.application,
            Application::Smime | Application::Pgp | Application::Pkix
        ) && !out.contains(&ukw.identifier)
        {
            out.push(ukw.identifier.clone());
        }
    }
    if let Some(id) = binding
        .key_name
        .as_deref()
        .and_then(crate::identity::normalize_authorization_identity)
        && !out.contains(&id)
    {
        out.push(id);
    }
    out
}

/// A certificate this service issued, by serial (hex, any case): what
/// `RetrievalMethod` URLs resolve to.
pub(crate) async fn certificate_by_serial(
    store: &dyn Store,
    serial: &str,
) -> Result<Option<Vec<u8>>, ServiceError> {
    if serial.len() > 64 {
        return Ok(None);
    }
    let Ok(serial) = Serial::from_hex(serial) else {
        return Ok(None);
    };
    let bindings = store
        .find_bindings(&BindingSelector::CertificateSerial(serial), 1)
        .await?;
    for binding in bindings {
        for cert in store.certificates_of(&binding.id).await? {
            if cert.serial == serial {
                return Ok(Some(cert.der));
            }
        }
    }
    Ok(None)
}
