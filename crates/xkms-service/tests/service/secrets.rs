//! Finding 4: the database gave away what it protects; finding 6: the escrow's
//! associated data was a constant.

use std::sync::Arc;

use crate::harness::*;
use xkms_client::krss::{BindingRef, sign_request};
use xkms_proto::{
    PendingRequest, Request, RequestAbstract, ResultMajor, ResultMessage, ResultMinor,
};
use xkms_service::Policy;
use xkms_service::escrow::MasterKey;
use xkms_service::store::Purpose;
use xkms_xmlsec::kdf::{KeyId, SecretPreparation, SharedSecret, derive};

/// Every byte of the database: the file, its WAL and shared memory.
fn database_bytes(h: &Harness) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(h.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("xkms.db")
        {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn sql(h: &Harness, statement: &str) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", h.db_path().display()))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// K_auth is the HMAC verification key and the 0x04 value decrypts returned keys: the
/// file held both in the clear. Now neither is in it, and a service with the same
/// database but another master key authenticates nobody.
#[tokio::test]
async fn a_copy_of_the_database_authenticates_nobody() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    let secret = SharedSecret::new("secret".into());
    let bytes = database_bytes(&h);
    for preparation in [SecretPreparation::SaslPrep, SecretPreparation::Legacy] {
        let prepared = secret.prepare(preparation).unwrap();
        let k_auth = derive(&prepared, KeyId::Authentication, 20);
        let kek = derive(&prepared, KeyId::PrivateKeyEncryption, 24);
        assert!(
            !contains(&bytes, &k_auth),
            "K_auth ({preparation:?}) in the database"
        );
        assert!(
            !contains(&bytes, &kek),
            "0x04 key ({preparation:?}) in the database"
        );
    }

    let other_master = MasterKey::generate_bytes().unwrap();
    let thief = service_on(
        Arc::clone(&h.store),
        h.service.ca().clone(),
        h.now,
        Policy::default(),
        &other_master,
    );
    let (doc, _) = h.register_document(&t100(Some(key()), &secret));
    assert_eq!(
        codes(&process_with(&thief, &doc).await),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );
    let (doc, _) = h.register_document(&t100(Some(key()), &secret));
    assert_eq!(
        codes(&h.process(&doc).await),
        success(),
        "the real key opens it"
    );
}

fn sync_recovery() -> Policy {
    Policy {
        recover: xkms_service::Processing::Synchronous,
        ..Policy::default()
    }
}

/// A RecoverRequest for the binding of `certificate`, signed with `code`.
fn recover_document(
    h: &Harness,
    certificate: Vec<u8>,
    code: &SharedSecret,
    pending: bool,
) -> (String, String) {
    let binding = BindingRef {
        certificate: Some(certificate),
        ..Default::default()
    };
    let request = h.client.recover_request(&binding, &[], pending);
    let id = request.request.message.id.clone();
    let doc = sign_request(
        &document(&Request::Recover(request)),
        &id,
        Some((code, SASL)),
        None,
    )
    .unwrap();
    (doc, id)
}

/// An escrow blob moved to another binding's row no longer decrypts there (it used to:
/// the associated data was a constant, so recovering the second binding returned the
/// first one's private key).
#[tokio::test]
async fn an_escrowed_key_decrypts_only_for_its_binding() {
    let h = Harness::with_policy(sync_recovery()).await;
    h.authorize_joe().await;
    h.authorize("joe@example.com", "secret1", Purpose::Recover, &[])
        .await;
    let secret = SharedSecret::new("secret".into());
    let first = h.register(&t100(None, &secret)).await;
    let second = h.register(&t100(None, &secret)).await;
    let binding_id = |r: &ResultMessage| match r {
        ResultMessage::Register(r) => r.key_bindings[0].core.id.clone().unwrap(),
        _ => panic!(),
    };
    sql(
        &h,
        &format!(
            "UPDATE escrowed_keys SET private_key = \
             (SELECT private_key FROM escrowed_keys WHERE binding_id = '{}') \
             WHERE binding_id = '{}'",
            binding_id(&first),
            binding_id(&second)
        ),
    )
    .await;
    let code = SharedSecret::new("secret1".into());
    let (doc, _) = recover_document(&h, certificate_of(&second), &code, false);
    let result = h.process(&doc).await;
    assert_eq!(
        codes(&result),
        (ResultMajor::Receiver, Some(ResultMinor::Failure))
    );
    let ResultMessage::Recover(r) = result else {
        panic!()
    };
    assert!(r.private_key.is_none());
}

/// A finished Recover result waits in the store sealed (the private key in it is only
/// encrypted under the recovery code) and is deleted once fetched.
#[tokio::test]
async fn recover_results_are_sealed_and_deleted_once_fetched() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    h.authorize("joe@example.com", "secret1", Purpose::Recover, &[])
        .await;
    let secret = SharedSecret::new("secret".into());
    let generated = h.register(&t100(None, &secret)).await;
    assert_eq!(codes(&generated), success());
    let code = SharedSecret::new("secret1".into());
    let (doc, original) = recover_document(&h, certificate_of(&generated), &code, true);
    let pending = h.process(&doc).await;
    assert_eq!(
        xkms_client::result_header(&pending).result_major,
        ResultMajor::Pending
    );
    let response_id = xkms_client::result_header(&pending).message.id.clone();
    assert!(h.service.run_pending_job().await.unwrap());

    let stored = h.store.get_pending(&response_id).await.unwrap().unwrap();
    let text = stored.result.unwrap();
    assert!(text.starts_with("sealed:"), "{}", &text[..20]);
    for clear in [
        "RecoverResult",
        "PrivateKey",
        "EncryptedData",
        "CipherValue",
    ] {
        assert!(!text.contains(clear), "{clear} in the stored result");
    }

    let fetch = || {
        let request = PendingRequest {
            request: RequestAbstract {
                message: xkms_proto::MessageAbstract {
                    id: h.client.new_id(),
                    service: SERVICE.into(),
                    ..Default::default()
                },
                original_request_id: Some(original.clone()),
                ..Default::default()
            },
            response_id: response_id.clone(),
        };
        document(&Request::Pending(request))
    };
    let ResultMessage::Recover(recovered) = h.process(&fetch()).await else {
        panic!("expected the RecoverResult")
    };
    assert_eq!(recovered.result.result_major, ResultMajor::Success);
    assert!(recovered.private_key.is_some());
    assert_eq!(
        h.store.get_pending(&response_id).await.unwrap(),
        None,
        "deleted"
    );
    assert_eq!(
        codes(&h.process(&fetch()).await),
        (ResultMajor::Sender, Some(ResultMinor::UnknownResponseId))
    );
}

/// Rows an earlier version wrote — clear authorization secrets, first-format escrow,
/// clear results — are sealed at start and keep working.
#[tokio::test]
async fn records_of_an_earlier_version_are_sealed_at_start() {
    let h = Harness::with_policy(sync_recovery()).await;
    let secret = SharedSecret::new("secret".into());
    let derived = xkms_service::admin::derive_secrets(&secret).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let dn = xkms_service::names::parse_granted_name(&format!("dn:{SEED_DN}")).unwrap();
    // As the first schema stored an authorization (plus the grant this version needs).
    sql(
        &h,
        &format!(
            "INSERT INTO authorizations (id, identity, purpose, auth_key_saslprep, \
             auth_key_legacy, kek_saslprep, kek_legacy, created_at, expires_at, granted_names) \
             VALUES ('Iold', 'joe@example.com', 'register', x'{}', x'{}', x'{}', x'{}', 0, {}, \
             'dn:{}\n')",
            hex(&derived.auth_key_saslprep),
            hex(&derived.auth_key_legacy),
            hex(&derived.kek_saslprep),
            hex(&derived.kek_legacy),
            (h.now + time::Duration::days(1)).unix_timestamp() * 1_000_000,
            dn.value
        ),
    )
    .await;
    let (doc, _) = h.register_document(&t100(Some(key()), &secret));
    assert_eq!(
        codes(&h.process(&doc).await),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication)),
        "an unsealed row authenticates nobody"
    );
    let report = h.service.seal_legacy_records().await.unwrap();
    assert_eq!(report.authorizations, 1);
    assert!(
        !contains(&database_bytes(&h), &derived.auth_key_saslprep) || {
            // The WAL may still hold the page as it was until a checkpoint.
            sql(&h, "PRAGMA wal_checkpoint(TRUNCATE)").await;
            !contains(&database_bytes(&h), &derived.auth_key_saslprep)
        }
    );
    let (doc, _) = h.register_document(&t100(Some(key()), &secret));
    assert_eq!(codes(&h.process(&doc).await), success());
    assert_eq!(
        h.service.seal_legacy_records().await.unwrap(),
        Default::default()
    );
}
