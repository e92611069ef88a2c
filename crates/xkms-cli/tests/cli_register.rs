//! The `xkms` binary runs seed T100 exactly as the README shows, against a real server
//! (started in-process on a loopback port, real SQLite file, real CA).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, openssl};
use std::process::Command;

/// Runs `xkms --service URL ARGS…`; (exit code, stdout and stderr).
async fn xkms(url: &str, args: &[&str]) -> (i32, String) {
    let run = common::xkms(url, args).await;
    (run.code, format!("{}{}", run.stdout, run.stderr))
}

/// The whole key lifecycle from a terminal: T100 … T104 with the `xkms` binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xkms_runs_the_whole_lifecycle() {
    let server = TestServer::start(|_| {}).await;
    server.authorize_joe("secret").await;
    let url = server.url.clone();
    let p = |name: &str| server.path(name).to_str().unwrap().to_owned();
    let seed = [
        "--key-name",
        "joe@example.com",
        "--use-key-with",
        "urn:ietf:rfc:2633=joe@example.com",
        "--use-key-with",
        "urn:ietf:rfc:2459=C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe",
        "--respond-with",
        "KeyValue,KeyName,X509Cert",
        "--secret",
        "secret",
        "--revocation-phrase",
        "Help I Have Revealed My Key",
    ];

    // T100 and T101.
    let (code, out) = xkms(
        &url,
        &[
            &[
                "register",
                "--key",
                &p("joe-key.pem"),
                "--out",
                &p("joe.pem"),
            ][..],
            &seed,
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = xkms(
        &url,
        &[
            &[
                "register",
                "--generate-key",
                "--key",
                &p("gen-key.pem"),
                "--out",
                &p("gen.pem"),
            ][..],
            &seed,
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("service-generated RSA-2048 private key written"),
        "{out}"
    );
    let modulus = |args: &[&str]| openssl(args).trim().to_owned();
    let gen_modulus = modulus(&["rsa", "-in", &p("gen-key.pem"), "-noout", "-modulus"]);
    assert_eq!(
        gen_modulus,
        modulus(&["x509", "-in", &p("gen.pem"), "-noout", "-modulus"])
    );

    // T102.
    let (code, out) = xkms(
        &url,
        &[
            "reissue",
            "--cert",
            &p("joe.pem"),
            "--key",
            &p("joe-key.pem"),
            "--secret",
            "secret",
            "--out",
            &p("joe2.pem"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("status Valid"), "{out}");
    assert_ne!(
        openssl(&["x509", "-in", &p("joe.pem"), "-noout", "-serial"]),
        openssl(&["x509", "-in", &p("joe2.pem"), "-noout", "-serial"])
    );

    // T103: the operator issues "secret1"; recover drives Pending → Status → PendingRequest.
    server
        .xkmsd_admin(&[
            "authorize",
            "joe@example.com",
            "--secret",
            "secret1",
            "--purpose",
            "recover",
        ])
        .await;
    let (code, out) = xkms(
        &url,
        &[
            "recover",
            "--cert",
            &p("gen.pem"),
            "--secret",
            "secret1",
            "--key-out",
            &p("recovered.pem"),
            "--poll-seconds",
            "0.1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("asynchronous processing"), "{out}");
    assert_eq!(
        modulus(&["rsa", "-in", &p("recovered.pem"), "-noout", "-modulus"]),
        gen_modulus
    );

    // T104.
    let (code, out) = xkms(
        &url,
        &[
            "revoke",
            "--cert",
            &p("joe2.pem"),
            "--revocation-phrase",
            "Help I Have Revealed My Key",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("status Invalid") && out.contains("invalid[RevocationStatus]"),
        "{out}"
    );
    let (code, out) = xkms(
        &url,
        &[
            "revoke",
            "--cert",
            &p("joe2.pem"),
            "--revocation-phrase",
            "Help I Have Revealed My Key",
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Sender/Refused"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xkms_register_runs_t100() {
    let server = TestServer::start(|_| {}).await;
    server.authorize_joe("secret").await;
    let url = server.url.clone();
    let key = server.path("joe-key.pem");
    let cert = server.path("cert.pem");
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xkms"));
        cmd.args([
            "--service",
            &url,
            "register",
            "--key-name",
            "joe@example.com",
        ])
        .args(["--use-key-with", "urn:ietf:rfc:2633=joe@example.com"])
        .args([
            "--use-key-with",
            "urn:ietf:rfc:2459=C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe",
        ])
        .args(["--respond-with", "KeyValue,KeyName,X509Cert"])
        .args(["--revocation-phrase", "Help I Have Revealed My Key"])
        .arg("--key")
        .arg(&key)
        .args(extra);
        cmd
    };
    let out = tokio::task::spawn_blocking({
        let mut cmd = run(&["--secret", "secret", "--out", cert.to_str().unwrap()]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("result: Success"), "{stdout}");
    assert!(stdout.contains("status Valid"), "{stdout}");
    assert!(stdout.contains("CN=Joe Doe"), "{stdout}");
    // The key was generated with owner-only permissions, and the certificate written.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    // A wrong secret: non-zero exit and the XKMS result named.
    let out = tokio::task::spawn_blocking({
        let mut cmd = run(&["--secret", "wrong"]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("result: Sender/NoAuthentication"),
        "{stdout}"
    );
}

/// `--verify-with` pins the service's signing certificate; the CA alone no longer
/// vouches for a result signer (every registered user holds a certificate of it), unless
/// `--signer-name` names the signer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_with_pins_the_service_signer() {
    let server = TestServer::start(|c| c.protocol.sign_results = true).await;
    let url = server.url.clone();
    let p = |name: &str| server.path(name).to_str().unwrap().to_owned();
    std::fs::copy(server.path("signing-cert.pem"), p("pinned.pem")).unwrap();
    std::fs::copy(server.path("ca-cert.pem"), p("ca.pem")).unwrap();
    let locate = ["locate", "--key-name", "joe@example.com"];
    let (code, out) = xkms(
        &url,
        &[&["--verify-with", &p("pinned.pem")][..], &locate].concat(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let named = [
        "--verify-with",
        &p("ca.pem"),
        "--signer-name",
        "CN=XKMS Service",
    ];
    let (code, out) = xkms(&url, &[&named[..], &locate].concat()).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = xkms(
        &url,
        &[&["--verify-with", &p("ca.pem")][..], &locate].concat(),
    )
    .await;
    assert_ne!(code, 0, "the CA is not the signer: {out}");
    assert!(out.contains("signing certificate"), "{out}");
    let wrong_name = ["--verify-with", &p("ca.pem"), "--signer-name", "CN=Joe Doe"];
    let (code, out) = xkms(&url, &[&wrong_name[..], &locate].concat()).await;
    assert_ne!(code, 0, "{out}");
}
