//! Two `xkmsd` nodes on one PostgreSQL database (issue: several nodes): register on node A
//! and locate/reissue on node B; an asynchronous recover started on A, polled and fetched
//! on B; eight clients registering concurrently across both nodes with no lost or
//! duplicated binding and unique serials.
//!
//! Ignored unless asked for (`--include-ignored`, which `scripts/test` passes when
//! PostgreSQL is reachable); then `XKMS_TEST_POSTGRES` must name the server (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Each run creates and drops its own database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use std::process::Command;
use xkms_client::{BindingRef, ClientKey, RegisterParams, ReissueParams, XkmsClient};
use xkms_proto::{Application, RespondWith, ResultMajor, UseKeyWith};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

const SERVICE: &str = "http://xkms.example/xkms";
const SASL: SecretPreparation = SecretPreparation::SaslPrep;

/// The server named by `XKMS_TEST_POSTGRES`; these tests only run when asked for.
fn postgres_url() -> String {
    std::env::var("XKMS_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
        .expect(
            "XKMS_TEST_POSTGRES must name a PostgreSQL server for this test (scripts/test sets it)",
        )
}

/// A fresh database on the test server, dropped on drop.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    fn create(base: &str, tag: &str) -> Database {
        let name = format!("xkms_{tag}_{}", std::process::id());
        let (prefix, _) = base.rsplit_once('/').expect("a database URL");
        let psql = |sql: &str| {
            let out = common::tools::tool("psql")
                .args([base, "-v", "ON_ERROR_STOP=1", "-c", sql])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "psql {sql}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        psql(&format!("DROP DATABASE IF EXISTS {name}"));
        psql(&format!("CREATE DATABASE {name}"));
        Database {
            admin_url: base.to_owned(),
            url: format!("{prefix}/{name}"),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = common::tools::tool("psql")
            .args([
                &self.admin_url,
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn joe<'a>(key: Option<&'a ClientKey>, secret: &'a SharedSecret, name: &str) -> RegisterParams<'a> {
    RegisterParams {
        key,
        key_name: Some(name.to_owned()),
        use_key_with: vec![UseKeyWith {
            application: Application::Smime,
            identifier: "joe@example.com".into(),
        }],
        key_usage: vec![],
        respond_with: vec![RespondWith::X509Cert, RespondWith::KeyValue],
        response_mechanism: vec![],
        secret,
        preparation: SASL,
        revocation_phrase: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
async fn two_nodes_share_one_postgresql_database() {
    let base = postgres_url();
    let db = Database::create(&base, "nodes");
    // One data directory (CA key, master key, nonce secret) shared by both nodes, as
    // docs/OPERATIONS.md describes; one database.
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        format!("[server]\nservice_uri = \"{SERVICE}\"\n[policy]\nkey_pool_size = 2\n"),
    )
    .unwrap();
    let shared = data.path().to_path_buf();
    let args = ["--config", config.to_str().unwrap(), "--database", &db.url];
    let a = Server::start_in(data, &args);
    let b_dir = tempfile::TempDir::new().unwrap();
    let b = Server::start_shared(&shared, b_dir, &args);
    let node_a = XkmsClient::new(&a.url).with_service_uri(SERVICE);
    let node_b = XkmsClient::new(&b.url).with_service_uri(SERVICE);
    // Joe's code also grants the key names the test tells its bindings apart by.
    let mut authorize = vec![
        "authorize",
        "joe@example.com",
        "--secret",
        "secret",
        "--database",
        &db.url,
        "--config",
        config.to_str().unwrap(),
    ];
    let names: Vec<String> = std::iter::once("keyname:gen@example.com".to_owned())
        .chain((0..8).map(|i| format!("keyname:c{i}@example.com")))
        .collect();
    for name in &names {
        authorize.extend(["--allow-name", name.as_str()]);
    }
    a.admin(&authorize);

    // Register on A, locate and reissue on B.
    let secret = SharedSecret::new("secret".into());
    let key = ClientKey::generate(2048).unwrap();
    let registered = node_a
        .register(&joe(Some(&key), &secret, "joe@example.com"))
        .await
        .unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);
    let located = node_b
        .locate(&xkms_client::locate::LocateParams {
            key_names: vec!["joe@example.com".into()],
            respond_with: vec![RespondWith::X509Cert],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        located.unverified_key_bindings.len(),
        1,
        "node B sees node A's registration"
    );
    let reissued = node_b
        .reissue(&ReissueParams {
            binding: BindingRef {
                certificate: Some(registered.certificate().unwrap().to_vec()),
                ..Default::default()
            },
            key: Some(&key),
            secret: &secret,
            preparation: SASL,
            respond_with: vec![RespondWith::X509Cert],
        })
        .await
        .unwrap();
    assert_eq!(reissued.result.result_major, ResultMajor::Success);

    // An asynchronous recover started on A, polled and fetched on B.
    let (generated, _) = {
        let r = node_a
            .register(&joe(None, &secret, "gen@example.com"))
            .await
            .unwrap();
        let k = r.private_key(&secret, SASL).unwrap();
        (r, k)
    };
    a.admin(&[
        "authorize",
        "joe@example.com",
        "--secret",
        "secret1",
        "--purpose",
        "recover",
        "--database",
        &db.url,
        "--config",
        config.to_str().unwrap(),
    ]);
    let secret1 = SharedSecret::new("secret1".into());
    let request = node_a.recover_request(
        &BindingRef {
            certificate: Some(generated.certificate().unwrap().to_vec()),
            ..Default::default()
        },
        &[RespondWith::PrivateKey, RespondWith::KeyValue],
        true,
    );
    let original_id = request.request.message.id.clone();
    let pending = node_a
        .send_signed(&xkms_proto::Request::Recover(request), |doc, id| {
            xkms_client::krss::sign_request(&doc, id, Some((&secret1, SASL)), None)
        })
        .await
        .unwrap();
    let header = xkms_client::result_header(&pending);
    assert_eq!(header.result_major, ResultMajor::Pending);
    let response_id = header.message.id.clone();
    node_b
        .wait_until_ready(
            &original_id,
            &response_id,
            std::time::Duration::from_millis(100),
            100,
            &mut |_| {},
        )
        .await
        .unwrap();
    let xkms_proto::ResultMessage::Recover(result) = node_b
        .fetch_pending(&original_id, &response_id)
        .await
        .unwrap()
    else {
        panic!("expected a RecoverResult")
    };
    let recovered = xkms_client::Recovered {
        result,
        response_id: Some(response_id),
    };
    let key_back = recovered.private_key(&secret1, SASL).unwrap();
    assert_eq!(
        key_back.modulus(),
        generated.private_key(&secret, SASL).unwrap().modulus()
    );

    // Eight clients register at once, alternating nodes.
    let before = a.binding_count_at(&db.url).await;
    let keys: Vec<ClientKey> = (0..8).map(|_| ClientKey::generate(2048).unwrap()).collect();
    let mut tasks = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let client = if i % 2 == 0 {
            node_a.clone()
        } else {
            node_b.clone()
        };
        tasks.push(tokio::spawn(async move {
            let secret = SharedSecret::new("secret".into());
            let r = client
                .register(&joe(Some(&key), &secret, &format!("c{i}@example.com")))
                .await
                .unwrap();
            assert_eq!(r.result.result.result_major, ResultMajor::Success);
            r.certificate().unwrap().to_vec()
        }));
    }
    let mut serials = std::collections::HashSet::new();
    for task in tasks {
        let cert = task.await.unwrap();
        let info = xkms_ca::parse_certificate(&cert).unwrap();
        assert!(serials.insert(info.serial_hex), "serials are unique");
    }
    assert_eq!(
        a.binding_count_at(&db.url).await,
        before + 8,
        "no lost or duplicated binding"
    );
    drop((a, b));
}

/// An operator moves from SQLite to PostgreSQL with `xkmsd admin migrate-store`: what was
/// registered on SQLite is served from PostgreSQL afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
async fn migrate_store_from_sqlite_to_postgresql() {
    let base = postgres_url();
    let db = Database::create(&base, "migrate");

    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        format!("[server]\nservice_uri = \"{SERVICE}\"\n[policy]\nkey_pool_size = 0\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let sqlite = Server::start_in(data, &["--config", &config]);
    sqlite.authorize_joe("secret", "register");
    let client = XkmsClient::new(&sqlite.url).with_service_uri(SERVICE);
    let secret = SharedSecret::new("secret".into());
    let key = ClientKey::generate(2048).unwrap();
    let registered = client
        .register(&joe(Some(&key), &secret, "joe@example.com"))
        .await
        .unwrap();
    let cert = registered.certificate().unwrap().to_vec();
    let sqlite_url = sqlite.db_url();
    let data = sqlite.stop();

    let out = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args([
            "admin",
            "migrate-store",
            "--from",
            &sqlite_url,
            "--to",
            &db.url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate-store: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("key_bindings") || report.contains("bindings"),
        "{report}"
    );
    // A second migration into the now non-empty target is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args([
            "admin",
            "migrate-store",
            "--from",
            &sqlite_url,
            "--to",
            &db.url,
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());

    let pg = Server::start_in(data, &["--config", &config, "--database", &db.url]);
    let client = XkmsClient::new(&pg.url).with_service_uri(SERVICE);
    let validated = client
        .validate(&xkms_client::validate::ValidateParams {
            certificates: vec![cert],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        validated.key_bindings[0].status.status_value,
        xkms_proto::StatusValue::Valid
    );
    // The authorization came along: Joe registers again on PostgreSQL.
    let key2 = ClientKey::generate(2048).unwrap();
    let again = client
        .register(&joe(Some(&key2), &secret, "joe@example.com"))
        .await
        .unwrap();
    assert_eq!(again.result.result.result_major, ResultMajor::Success);
    assert_eq!(pg.binding_count_at(&db.url).await, 2);
}
