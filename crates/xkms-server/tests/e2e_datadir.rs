//! End-to-end with the real `xkmsd` binary: the data directory is private, key files
//! are never silently replaced, authorization codes are generated or read from stdin,
//! and `xkmsd admin audit` prints and checks the hash chain (issue 9, findings 4 and 6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{SEED_DN, Server};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::{Application, RespondWith, ResultMajor, UseKeyWith};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

fn t100<'a>(key: &'a ClientKey, secret: &'a SharedSecret) -> RegisterParams<'a> {
    RegisterParams {
        key: Some(key),
        key_name: Some("joe@example.com".into()),
        use_key_with: vec![
            UseKeyWith {
                application: Application::Smime,
                identifier: "joe@example.com".into(),
            },
            UseKeyWith {
                application: Application::Pkix,
                identifier: SEED_DN.into(),
            },
        ],
        key_usage: vec![],
        respond_with: vec![RespondWith::X509Cert],
        response_mechanism: vec![],
        secret,
        preparation: SecretPreparation::SaslPrep,
        revocation_phrase: None,
    }
}

async fn register(server: &Server, secret: &str) -> ResultMajor {
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new(secret.into());
    let registered = XkmsClient::new(&server.url)
        .register(&t100(&key, &secret))
        .await
        .unwrap();
    registered.result.result.result_major
}

/// `xkmsd ARGS` (not asserting success).
fn xkmsd(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

/// Starts `xkmsd serve` expecting it to refuse: its stderr. Fails if it starts serving.
fn serve_refuses(dir: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("XKMS_CA_KEY_TYPE", "rsa2048")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.starts_with("xkmsd listening") {
        let _ = child.kill();
        panic!("xkmsd started: {line}");
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A server on `<tmp>/data`, a directory xkmsd creates itself.
fn server_in_new_directory() -> (Server, PathBuf) {
    let own = tempfile::tempdir().unwrap();
    let data = own.path().join("data");
    (Server::start_shared(&data, own, &[]), data)
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_every_file_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (server, data) = server_in_new_directory();
    server.authorize_joe("secret", "register");
    assert_eq!(register(&server, "secret").await, ResultMajor::Success);
    assert_eq!(mode(&data), 0o700, "the data directory");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    for expected in [
        "xkms.db",
        "xkms.db-wal",
        "xkms.db-shm",
        "master.key",
        "service.key",
        "ca-key.pem",
        "ca-cert.pem",
        "signing-key.pem",
        "signing-cert.pem",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }

    // Modes widened behind the service's back are tightened at the next start.
    let own = server.stop();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("xkms.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Server::start_shared(&data, own, &[]);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("xkms.db")), 0o600);
    let log = server.log().await;
    assert!(log.contains("tightened the mode"), "{log}");
}

/// A store that holds certificates never gets a new CA or master key: every command
/// refuses, naming the missing file and the backup procedure.
#[tokio::test]
async fn key_files_are_never_silently_replaced() {
    let (server, data) = server_in_new_directory();
    server.authorize_joe("secret", "register");
    assert_eq!(register(&server, "secret").await, ResultMajor::Success);
    let db = format!("sqlite://{}", data.join("xkms.db").display());
    let _own = server.stop();

    // A command run from another directory against the same database.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = xkmsd(
        &["admin", "ca-certificate", "--database", &db],
        elsewhere.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ca-key.pem") && err.contains("Backups"),
        "{err}"
    );
    assert!(!elsewhere.path().join("ca-key.pem").exists(), "no new CA");
    assert!(
        !elsewhere.path().join("master.key").exists(),
        "no new master key"
    );

    // A restore without the master key.
    let master = std::fs::read(data.join("master.key")).unwrap();
    std::fs::remove_file(data.join("master.key")).unwrap();
    let out = xkmsd(&["admin", "pending", "list"], &data);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("master.key") && err.contains("Backups"),
        "{err}"
    );
    assert!(serve_refuses(&data).contains("master.key"));
    assert!(!data.join("master.key").exists());

    // A malformed (empty) nonce secret is refused, not used as an empty MAC key.
    std::fs::write(data.join("master.key"), &master).unwrap();
    std::fs::write(data.join("service.key"), b"").unwrap();
    let err = serve_refuses(&data);
    assert!(
        err.contains("service.key") && err.contains("0 bytes"),
        "{err}"
    );
}

/// Without --secret a 100-bit code is generated and printed once; --secret-file -
/// reads stdin; a short secret is warned about.
#[tokio::test]
async fn authorization_codes_are_generated_or_read_from_stdin() {
    let server = Server::start();
    let out = server.admin(&["authorize", "joe@example.com", "--dn", SEED_DN]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let code = stdout
        .lines()
        .find_map(|l| l.strip_prefix("authorization code: "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_owned();
    assert_eq!(code.len(), 23, "{code}");
    assert_eq!(register(&server, &code).await, ResultMajor::Success);

    let mut child = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args([
            "admin",
            "authorize",
            "joe@example.com",
            "--secret-file",
            "-",
            "--dn",
            SEED_DN,
        ])
        .arg("--data-dir")
        .arg(server.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a secret read from stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("authorization code"));
    assert_eq!(
        register(&server, "a secret read from stdin").await,
        ResultMajor::Success
    );

    let out = server.admin(&["authorize", "bob@example.com", "--secret", "secret"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
}

/// `xkmsd admin audit` prints the chain; `--verify` checks it and fails once an event
/// was edited.
#[tokio::test]
async fn admin_audit_prints_and_verifies_the_chain() {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    assert_eq!(register(&server, "secret").await, ResultMajor::Success);
    assert_ne!(register(&server, "wrong").await, ResultMajor::Success);

    let out = server.admin(&["audit", "--verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for kind in [
        "authorization.created",
        "certificate.issued",
        "authentication.failed",
    ] {
        assert!(stdout.contains(kind), "{kind}: {stdout}");
    }
    assert!(stdout.contains("audit chain OK"), "{stdout}");
    let future = server.admin(&["audit", "--since", "2999-01-01T00:00:00Z"]);
    assert!(future.stdout.is_empty());

    let pool = sqlx::SqlitePool::connect(&server.db_url()).await.unwrap();
    sqlx::query("UPDATE audit_events SET subject = 'someone else' WHERE seq = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = xkmsd(&["admin", "audit", "--verify"], server.dir());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken at event 1"), "{err}");
}
