//! Secrets at rest: what the store holds of authorization codes and finished results is
//! sealed under the master key, so a copy of the database alone authenticates nobody
//! and decrypts no private key.
//!
//! - An authorization's derived keys (K_auth and the 0x04 values, both string
//!   preparations) are one blob whose associated data names the row: its id, identity,
//!   purpose and granted names. A blob copied to another row, or a row whose identity
//!   or grants were edited, no longer opens.
//! - A finished pending result is stored as `sealed:` + base64(blob), bound to its
//!   response id: a Recover result carries the private key encrypted only under the
//!   recovery code's 0x04 key, which a guessed code would open.
//! - Escrowed keys are bound to their binding (`crate::escrow`).
//!
//! Rows written by earlier versions are sealed at start ([`seal_legacy_records`]).

use crate::error::ServiceError;
use crate::escrow::{MasterKey, escrow_aad};
use crate::store::{Authorization, DerivedSecrets, Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

/// Prefix of a sealed result in the `result` column.
const SEALED_RESULT: &str = "sealed:";
/// Lengths of the four derived values in a sealed authorization.
const SECRET_LENGTHS: [usize; 4] = [20, 20, 32, 32];
/// Rows resealed per store round trip at start.
const BATCH: usize = 500;

/// Seals `secrets` for `authorization`'s row.
pub(crate) fn seal_authorization_secrets(
    master_key: &MasterKey,
    authorization: &Authorization,
    secrets: &DerivedSecrets,
) -> Result<Vec<u8>, ServiceError> {
    let parts = [
        &secrets.auth_key_saslprep,
        &secrets.auth_key_legacy,
        &secrets.kek_saslprep,
        &secrets.kek_legacy,
    ];
    let mut plain = Zeroizing::new(Vec::with_capacity(SECRET_LENGTHS.iter().sum()));
    for (part, len) in parts.into_iter().zip(SECRET_LENGTHS) {
        if part.len() != len {
            return Err(ServiceError::Internal(
                "derived secret of unexpected length",
            ));
        }
        plain.extend_from_slice(part);
    }
    master_key.seal(&plain, &authorization_aad(authorization))
}

/// The derived secrets of `authorization`, if its sealed blob opens for this row.
pub(crate) fn open_authorization_secrets(
    master_key: &MasterKey,
    authorization: &Authorization,
) -> Result<DerivedSecrets, ServiceError> {
    let plain = master_key.open(
        &authorization.sealed_secrets,
        &authorization_aad(authorization),
    )?;
    if plain.len() != SECRET_LENGTHS.iter().sum::<usize>() {
        return Err(ServiceError::Internal(
            "sealed authorization has the wrong length",
        ));
    }
    let (auth_key_saslprep, rest) = plain.split_at(SECRET_LENGTHS[0]);
    let (auth_key_legacy, rest) = rest.split_at(SECRET_LENGTHS[1]);
    let (kek_saslprep, kek_legacy) = rest.split_at(SECRET_LENGTHS[2]);
    Ok(DerivedSecrets {
        auth_key_saslprep: auth_key_saslprep.to_vec(),
        auth_key_legacy: auth_key_legacy.to_vec(),
        kek_saslprep: kek_saslprep.to_vec(),
        kek_legacy: kek_legacy.to_vec(),
    })
}

/// Everything that says whose the secrets are and what they may be used for.
fn authorization_aad(a: &Authorization) -> Vec<u8> {
    let mut aad = b"xkms authorization v1\0".to_vec();
    for field in [a.id.as_str(), a.identity.as_str(), a.purpose.as_str()] {
        aad.extend_from_slice(field.as_bytes());
        aad.push(0);
    }
    for name in &a.granted_names {
        aad.extend_from_slice(name.kind.as_str().as_bytes());
        aad.push(b':');
        aad.extend_from_slice(name.value.as_bytes());
        aad.push(0);
    }
    aad
}

fn result_aad(response_id: &str) -> Vec<u8> {
    let mut aad = b"xkms pending result v1\0".to_vec();
    aad.extend_from_slice(response_id.as_bytes());
    aad
}

/// A finished result as stored for `response_id`.
pub(crate) fn seal_result(
    master_key: &MasterKey,
    response_id: &str,
    xml: &str,
) -> Result<String, ServiceError> {
    let blob = master_key.seal(xml.as_bytes(), &result_aad(response_id))?;
    Ok(format!("{SEALED_RESULT}{}", B64.encode(blob)))
}

/// The result stored for `response_id`, opened.
pub(crate) fn open_result(
    master_key: &MasterKey,
    response_id: &str,
    stored: &str,
) -> Result<Zeroizing<String>, ServiceError> {
    let corrupt = || ServiceError::Internal("stored result is not sealed for this record");
    let encoded = stored.strip_prefix(SEALED_RESULT).ok_or_else(corrupt)?;
    let blob = B64.decode(encoded).map_err(|_| corrupt())?;
    let plain = master_key.open(&blob, &result_aad(response_id))?;
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| corrupt())
}

/// What [`seal_legacy_records`] sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealReport {
    pub authorizations: u64,
    pub escrowed_keys: u64,
    pub results: u64,
}

/// Seals what earlier versions stored in the clear or sealed without naming its row:
/// authorization secrets, escrowed keys of the first format, finished results. Run
/// at every start (cheap when there is nothing left); safe to run on several nodes
/// at once (each row is changed only while it is still in its old form).
pub(crate) async fn seal_legacy_records(
    store: &dyn Store,
    master_key: &MasterKey,
) -> Result<SealReport, ServiceError> {
    let mut report = SealReport::default();
    loop {
        let batch = store.unsealed_authorizations(BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for (authorization, secrets) in batch {
            let sealed = seal_authorization_secrets(master_key, &authorization, &secrets)?;
            if already_done(store.seal_authorization(&authorization.id, &sealed).await)? {
                report.authorizations += 1;
            }
        }
    }
    loop {
        let batch = store.legacy_escrowed_keys(BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for (binding_id, blob) in batch {
            let pkcs8 = master_key.open_legacy_escrow(&blob)?;
            let resealed = master_key.seal(&pkcs8, &escrow_aad(&binding_id))?;
            if already_done(store.reseal_escrowed_key(&binding_id, &resealed).await)? {
                report.escrowed_keys += 1;
            }
        }
    }
    loop {
        let batch = store.unsealed_pending_results(BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for (response_id, xml) in batch {
            let xml = Zeroizing::new(xml);
            let sealed = seal_result(master_key, &response_id, &xml)?;
            if already_done(store.seal_pending_result(&response_id, &sealed).await)? {
                report.results += 1;
            }
        }
    }
    if report != SealReport::default() {
        tracing::info!(
            authorizations = report.authorizations,
            escrowed_keys = report.escrowed_keys,
            results = report.results,
            "sealed records written by an earlier version under the master key"
        );
    }
    Ok(report)
}

/// `Ok(true)` if this call changed the row; `Ok(false)` if another node did first.
fn already_done(outcome: Result<(), StoreError>) -> Result<bool, ServiceError> {
    match outcome {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{GrantedName, NameKind, Purpose};
    use time::macros::datetime;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap()
    }

    fn authorization(id: &str) -> Authorization {
        Authorization {
            id: id.into(),
            identity: "joe@example.com".into(),
            purpose: Purpose::Register,
            granted_names: Vec::new(),
            sealed_secrets: Vec::new(),
            created_at: datetime!(2030-01-01 0:00 UTC),
            expires_at: datetime!(2030-02-01 0:00 UTC),
            max_uses: None,
            uses: 0,
            revoked_at: None,
        }
    }

    fn secrets() -> DerivedSecrets {
        DerivedSecrets {
            auth_key_saslprep: vec![1; 20],
            auth_key_legacy: vec![2; 20],
            kek_saslprep: vec![3; 32],
            kek_legacy: vec![4; 32],
        }
    }

    #[test]
    fn authorization_secrets_open_only_in_their_own_row() {
        let master = key();
        let mut a = authorization("a1");
        a.sealed_secrets = seal_authorization_secrets(&master, &a, &secrets()).unwrap();
        assert_eq!(open_authorization_secrets(&master, &a).unwrap(), secrets());
        assert!(
            !a.sealed_secrets.windows(20).any(|w| w == [1u8; 20]),
            "K_auth is not in the clear"
        );
        for edit in [
            |a: &mut Authorization| a.id = "a2".into(),
            |a: &mut Authorization| a.identity = "alice@example.com".into(),
            |a: &mut Authorization| a.purpose = Purpose::Recover,
            |a: &mut Authorization| {
                a.granted_names.push(GrantedName {
                    kind: NameKind::Dns,
                    value: "www.bank.example".into(),
                })
            },
        ] {
            let mut moved = a.clone();
            edit(&mut moved);
            assert!(open_authorization_secrets(&master, &moved).is_err());
        }
        assert!(
            open_authorization_secrets(&key(), &a).is_err(),
            "another master key"
        );
    }

    #[test]
    fn results_are_sealed_to_their_record() {
        let master = key();
        let stored = seal_result(&master, "Ir1", "<RecoverResult/>").unwrap();
        assert!(stored.starts_with("sealed:") && !stored.contains("RecoverResult"));
        assert_eq!(
            open_result(&master, "Ir1", &stored).unwrap().as_str(),
            "<RecoverResult/>"
        );
        assert!(open_result(&master, "Ir2", &stored).is_err());
        assert!(open_result(&master, "Ir1", "<RecoverResult/>").is_err());
    }
}
