//! The operator's inventory against a real store (issue 11), with the real binary:
//! `xkmsd admin bindings list|show`, `xkmsd admin revoke` (the CRL then lists the
//! certificate with the operator's reason; `key-compromise` bars the key),
//! `xkmsd admin authorizations list|revoke` (never a secret; a revoked code stops
//! authenticating), and `xkmsd admin backup` taken while the service runs, then a wipe and
//! a restore: the restored service verifies its audit chain and serves the old bindings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tools::tool;
use common::{Server, certificate_pem, refused, succeeded, xkmsd_in};
use std::path::Path;
use xkms_client::locate::LocateParams;
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::{Application, RespondWith, ResultMajor, ResultMinor, StatusValue, UseKeyWith};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

/// Registers `key` for `identity` (KeyName and S/MIME address) with code `secret`.
async fn register(
    server: &Server,
    identity: &str,
    key: &ClientKey,
    secret: &str,
) -> (ResultMajor, Option<ResultMinor>, Option<Vec<u8>>) {
    let secret = SharedSecret::new(secret.into());
    let params = RegisterParams {
        key: Some(key),
        key_name: Some(identity.into()),
        use_key_with: vec![UseKeyWith {
            application: Application::Smime,
            identifier: identity.into(),
        }],
        key_usage: vec![],
        respond_with: vec![RespondWith::X509Cert],
        response_mechanism: vec![],
        secret: &secret,
        preparation: SecretPreparation::SaslPrep,
        revocation_phrase: None,
    };
    let registered = XkmsClient::new(&server.url)
        .register(&params)
        .await
        .unwrap();
    let header = &registered.result.result;
    (
        header.result_major.clone(),
        header.result_minor.clone(),
        registered.certificate().map(<[u8]>::to_vec),
    )
}

fn serial_of(cert: &[u8]) -> String {
    xkms_ca::parse_certificate(cert).unwrap().serial_hex
}

/// `xkmsd admin bindings list --json`, as parsed JSON.
fn bindings_json(data: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["admin", "bindings", "list", "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&succeeded(xkmsd_in(&args, data))).unwrap()
}

async fn validate(server: &Server, cert: &[u8]) -> StatusValue {
    let result = XkmsClient::new(&server.url)
        .validate(&xkms_client::validate::ValidateParams {
            certificates: vec![cert.to_vec()],
            ..Default::default()
        })
        .await
        .unwrap();
    result.key_bindings[0].status.status_value
}

async fn crl_text(server: &Server) -> String {
    let der = reqwest::get(server.url.replace("/xkms", "/crl"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let path = server.dir().join("crl.der");
    std::fs::write(&path, &der).unwrap();
    let ca = server.ca_pem_file();
    let out = tool("openssl")
        .args(["crl", "-inform", "DER", "-in", path.to_str().unwrap()])
        .args(["-CAfile", ca.to_str().unwrap(), "-noout", "-text"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verify OK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn operator_lists_revokes_bindings_and_codes() {
    let server = Server::start();
    let data = server.dir().to_path_buf();
    let joe_secret = "joe-code-7Hq2-secret";
    let ann_secret = "ann-code-Vx9p-secret";
    succeeded(xkmsd_in(
        &[
            "admin",
            "authorize",
            "joe@example.com",
            "--secret",
            joe_secret,
        ],
        &data,
    ));
    succeeded(xkmsd_in(
        &[
            "admin",
            "authorize",
            "ann@example.com",
            "--secret",
            ann_secret,
        ],
        &data,
    ));
    let joe_key = ClientKey::generate(2048).unwrap();
    let ann_key = ClientKey::generate(2048).unwrap();
    let (major, _, joe_cert) = register(&server, "joe@example.com", &joe_key, joe_secret).await;
    assert_eq!(major, ResultMajor::Success);
    let (major, _, ann_cert) = register(&server, "ann@example.com", &ann_key, ann_secret).await;
    assert_eq!(major, ResultMajor::Success);
    let (joe_cert, ann_cert) = (joe_cert.unwrap(), ann_cert.unwrap());

    // Listing: both, oldest first; searching; JSON for scripts.
    let text = succeeded(xkmsd_in(&["admin", "bindings", "list"], &data));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("joe@example.com") && lines[0].contains(" valid "),
        "{text}"
    );
    assert!(lines[1].contains("ann@example.com"), "{text}");
    assert!(lines[0].contains(&serial_of(&joe_cert)), "{text}");
    assert_eq!(lines[2], "2 key binding(s)");
    let all = bindings_json(&data, &[]);
    assert_eq!(all.len(), 2);
    let joe_id = all[0]["id"].as_str().unwrap().to_owned();
    let ann_id = all[1]["id"].as_str().unwrap().to_owned();
    assert_eq!(all[0]["key_name"], "joe@example.com");
    assert_eq!(all[0]["key_bits"], 2048);
    assert_eq!(all[0]["certificates"][0]["serial"], serial_of(&joe_cert));
    let found = bindings_json(&data, &["--name", "ANN@"]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], ann_id.as_str());
    assert!(bindings_json(&data, &["--revoked"]).is_empty());

    // Show by id and by serial (as openssl prints it, with colons).
    let by_id = succeeded(xkmsd_in(&["admin", "bindings", "show", &joe_id], &data));
    assert!(by_id.contains("status         valid"), "{by_id}");
    assert!(
        by_id.contains("urn:ietf:rfc:2633 = joe@example.com"),
        "{by_id}"
    );
    let joe_serial = serial_of(&joe_cert);
    let colons: Vec<String> = joe_serial
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_lowercase())
        .collect();
    let by_serial = succeeded(xkmsd_in(
        &["admin", "bindings", "show", "--serial", &colons.join(":")],
        &data,
    ));
    assert_eq!(by_serial, by_id);
    let err = refused(xkmsd_in(&["admin", "bindings", "show", "Inope"], &data));
    assert!(err.contains("no key binding Inope"), "{err}");

    // Revocation by the operator: audited, in the CRL with the reason, Validate says so.
    let out = succeeded(xkmsd_in(
        &[
            "admin",
            "revoke",
            "--serial",
            &joe_serial,
            "--reason",
            "superseded",
        ],
        &data,
    ));
    assert!(
        out.contains(&format!("key binding {joe_id} revoked (superseded)")),
        "{out}"
    );
    let crl = crl_text(&server).await;
    assert!(crl.contains(&joe_serial), "{crl}");
    assert!(crl.contains("Superseded"), "{crl}");
    assert_eq!(validate(&server, &joe_cert).await, StatusValue::Invalid);
    assert_eq!(validate(&server, &ann_cert).await, StatusValue::Valid);
    let revoked = bindings_json(&data, &["--revoked"]);
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        revoked[0]["certificates"][0]["revocation_reason"],
        "superseded"
    );
    let err = refused(xkmsd_in(
        &["admin", "revoke", &joe_id, "--reason", "superseded"],
        &data,
    ));
    assert!(err.contains("already revoked"), "{err}");
    let err = refused(xkmsd_in(
        &["admin", "revoke", "Inope", "--reason", "unspecified"],
        &data,
    ));
    assert!(err.contains("no key binding Inope"), "{err}");
    // Superseded is not compromise: Joe may register the same key again.
    succeeded(xkmsd_in(
        &[
            "admin",
            "authorize",
            "joe@example.com",
            "--secret",
            joe_secret,
        ],
        &data,
    ));
    let (major, _, _) = register(&server, "joe@example.com", &joe_key, joe_secret).await;
    assert_eq!(major, ResultMajor::Success);

    // key-compromise bars the key for good.
    succeeded(xkmsd_in(
        &["admin", "revoke", &ann_id, "--reason", "key-compromise"],
        &data,
    ));
    assert!(crl_text(&server).await.contains("Key Compromise"));
    let again = register(&server, "ann@example.com", &ann_key, ann_secret).await;
    assert_eq!(
        (again.0, again.1),
        (ResultMajor::Sender, Some(ResultMinor::Refused))
    );

    // Authorization codes: listed without secrets; a revoked one authenticates nobody.
    let codes = succeeded(xkmsd_in(&["admin", "authorizations", "list"], &data));
    assert!(
        !codes.contains(joe_secret) && !codes.contains(ann_secret),
        "{codes}"
    );
    let codes_json = succeeded(xkmsd_in(
        &["admin", "authorizations", "list", "--json"],
        &data,
    ));
    assert!(
        !codes_json.contains(joe_secret) && !codes_json.contains("sealed"),
        "{codes_json}"
    );
    let listed: Vec<serde_json::Value> = serde_json::from_str(&codes_json).unwrap();
    assert_eq!(listed.len(), 3);
    let ann_code = listed
        .iter()
        .find(|c| c["identity"] == "ann@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh = ClientKey::generate(2048).unwrap();
    let out = succeeded(xkmsd_in(
        &["admin", "authorizations", "revoke", &ann_code],
        &data,
    ));
    assert!(out.contains("authenticates nobody"), "{out}");
    let no_auth = register(&server, "ann@example.com", &fresh, ann_secret).await;
    assert_eq!(
        (no_auth.0, no_auth.1),
        (ResultMajor::Sender, Some(ResultMinor::NoAuthentication))
    );
    let usable = succeeded(xkmsd_in(
        &[
            "admin",
            "authorizations",
            "list",
            "--usable",
            "--identity",
            "ANN@example.com",
        ],
        &data,
    ));
    assert_eq!(usable.trim(), "no authorization codes");
    let ann_codes = succeeded(xkmsd_in(
        &[
            "admin",
            "authorizations",
            "list",
            "--identity",
            "ann@example.com",
        ],
        &data,
    ));
    assert!(
        ann_codes.contains(&ann_code) && ann_codes.contains("revoked"),
        "{ann_codes}"
    );
    let err = refused(xkmsd_in(
        &["admin", "authorizations", "revoke", &ann_code],
        &data,
    ));
    assert!(err.contains("already revoked"), "{err}");

    // Every operator action is in the audit chain, which holds.
    let audit = succeeded(xkmsd_in(&["admin", "audit", "--verify"], &data));
    assert!(
        audit.contains("revoked by the operator (superseded)"),
        "{audit}"
    );
    assert!(
        audit.contains("revoked by the operator (keyCompromise)"),
        "{audit}"
    );
    assert!(audit.contains("authorization.revoked"), "{audit}");
    assert!(audit.contains("audit chain OK"), "{audit}");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn backup_while_serving_then_wipe_and_restore() {
    let server = Server::start();
    let data = server.dir().to_path_buf();
    let secret = "joe-code-3Fd8-secret";
    succeeded(xkmsd_in(
        &["admin", "authorize", "joe@example.com", "--secret", secret],
        &data,
    ));
    succeeded(xkmsd_in(
        &["admin", "authorize", "ann@example.com", "--secret", secret],
        &data,
    ));
    let joe_key = ClientKey::generate(2048).unwrap();
    let (_, _, joe_cert) = register(&server, "joe@example.com", &joe_key, secret).await;
    let (_, _, ann_cert) = register(
        &server,
        "ann@example.com",
        &ClientKey::generate(2048).unwrap(),
        secret,
    )
    .await;
    let (joe_cert, ann_cert) = (joe_cert.unwrap(), ann_cert.unwrap());
    let ann_serial = serial_of(&ann_cert);
    succeeded(xkmsd_in(
        &[
            "admin",
            "revoke",
            "--serial",
            &ann_serial,
            "--reason",
            "cessation-of-operation",
        ],
        &data,
    ));

    // The backup, taken while the server runs.
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("2026-11-30");
    let printed = succeeded(xkmsd_in(
        &["admin", "backup", backup.to_str().unwrap()],
        &data,
    ));
    let manifest = std::fs::read_to_string(backup.join("backup.txt")).unwrap();
    assert!(printed.starts_with(&manifest), "{printed}");
    let head = manifest
        .split("audit chain head seq ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    let (seq, hash) = (head[0].to_owned(), head[2].to_owned());
    #[cfg(unix)]
    {
        assert_eq!(mode(&backup), 0o700);
        for entry in std::fs::read_dir(&backup).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    for name in [
        "xkms.db",
        "ca-key.pem",
        "ca-cert.pem",
        "master.key",
        "service.key",
        "signing-key.pem",
        "signing-cert.pem",
    ] {
        assert!(backup.join(name).exists(), "{name} missing");
        assert!(manifest.contains(&format!("  {name}  ")), "{manifest}");
    }
    let err = refused(xkmsd_in(
        &["admin", "backup", backup.to_str().unwrap()],
        &data,
    ));
    assert!(err.contains("not empty"), "{err}");

    // A change after the backup is not in it.
    succeeded(xkmsd_in(
        &["admin", "authorize", "bob@example.com", "--secret", secret],
        &data,
    ));
    let (major, _, _) = register(
        &server,
        "bob@example.com",
        &ClientKey::generate(2048).unwrap(),
        secret,
    )
    .await;
    assert_eq!(major, ResultMajor::Success);

    // Wipe the data directory, restore the backup's files, start again.
    let own = server.stop();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::remove_file(&path).unwrap();
        }
    }
    for entry in std::fs::read_dir(&backup).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name != "backup.txt" {
            std::fs::copy(&path, data.join(name)).unwrap();
        }
    }
    let server = Server::start_in(own, &[]);
    let audit = succeeded(xkmsd_in(&["admin", "audit", "--verify"], &data));
    assert!(
        audit.contains(&format!("audit chain OK: {seq} events, head {seq} {hash}")),
        "{audit}\nmanifest: {manifest}"
    );

    // The old bindings are served, with their state; bob's (after the backup) is not.
    assert_eq!(validate(&server, &joe_cert).await, StatusValue::Valid);
    assert_eq!(validate(&server, &ann_cert).await, StatusValue::Invalid);
    assert!(crl_text(&server).await.contains(&ann_serial));
    let client = XkmsClient::new(&server.url);
    let locate = |name: &str| LocateParams {
        key_names: vec![name.into()],
        respond_with: vec![RespondWith::X509Cert],
        ..Default::default()
    };
    let joe = client.locate(&locate("joe@example.com")).await.unwrap();
    assert_eq!(joe.unverified_key_bindings.len(), 1);
    let bob = client.locate(&locate("bob@example.com")).await.unwrap();
    assert_eq!(bob.result.result_minor, Some(ResultMinor::NoMatch));
    // The restored master key opens the restored codes: Joe's code still works.
    let (major, _, again) = register(
        &server,
        "joe@example.com",
        &ClientKey::generate(2048).unwrap(),
        secret,
    )
    .await;
    assert_eq!(major, ResultMajor::Success);
    let cert = server.dir().join("after-restore.pem");
    std::fs::write(&cert, certificate_pem(&again.unwrap())).unwrap();
    let ca = server.ca_pem_file();
    let verified = common::openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
    ]);
    assert!(verified.trim().ends_with(": OK"), "{verified}");
}

/// On PostgreSQL the listing commands read the shared database, and `backup` copies the
/// key files and says that the database is `pg_dump`'s (which the manifest records).
#[tokio::test]
#[ignore = "needs PostgreSQL (scripts/test runs it when reachable)"]
async fn on_postgresql_backup_copies_the_key_files_and_names_pg_dump() {
    let base = std::env::var("XKMS_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("XKMS_TEST_POSTGRES must name a PostgreSQL server (scripts/test sets it)");
    let name = format!("xkms_backup_{}", std::process::id());
    let psql = |sql: &str| {
        let out = tool("psql")
            .args([base.as_str(), "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!("DROP DATABASE IF EXISTS {name}"));
    psql(&format!("CREATE DATABASE {name}"));
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);

    let data = tempfile::tempdir().unwrap();
    let server = Server::start_in(data, &["--database", &url]);
    let dir = server.dir().to_path_buf();
    let with_db = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--database", &url]);
        xkmsd_in(&all, &dir)
    };
    succeeded(with_db(&[
        "admin",
        "authorize",
        "ann@example.com",
        "--secret",
        "ann-code-secret-1",
    ]));
    let (major, _, _) = register(
        &server,
        "ann@example.com",
        &ClientKey::generate(2048).unwrap(),
        "ann-code-secret-1",
    )
    .await;
    assert_eq!(major, ResultMajor::Success);
    let listed = succeeded(with_db(&["admin", "bindings", "list", "--name", "ann"]));
    assert!(
        listed.contains("ann@example.com") && listed.ends_with("1 key binding(s)\n"),
        "{listed}"
    );

    let backup = tempfile::tempdir().unwrap();
    let target = backup.path().join("b");
    let printed = succeeded(with_db(&["admin", "backup", target.to_str().unwrap()]));
    assert!(printed.contains("pg_dump --format=custom"), "{printed}");
    let manifest = std::fs::read_to_string(target.join("backup.txt")).unwrap();
    assert!(
        manifest.contains("database: NOT in this backup"),
        "{manifest}"
    );
    assert!(!target.join("xkms.db").exists());
    for name in ["ca-key.pem", "master.key", "service.key", "signing-key.pem"] {
        assert!(target.join(name).exists(), "{name}");
    }
    drop(server);
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}
