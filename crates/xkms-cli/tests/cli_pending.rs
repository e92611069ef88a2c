//! Asynchronous Register under `register = "approval"`: `register --pending` prints the
//! ids and the next commands, `xkms pending status|fetch` finish the request once the
//! operator ran `xkmsd admin pending approve`, and `register --wait` waits for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, openssl, s, xkms, xkms_command};
use std::io::BufRead;

/// The value after `label` on its own line of `out`.
fn field<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{out}"))
        .trim()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_status_and_fetch_finish_an_approved_registration() {
    let server = TestServer::start(|c| c.policy.register = "approval".into()).await;
    server.authorize("ann@example.com", "secret").await;
    let key = server.path("ann-key.pem");
    let cert = server.path("ann.pem");
    let register = [
        "register",
        "--key",
        s(&key),
        "--key-name",
        "ann@example.com",
        "--secret",
        "secret",
    ];

    // Without --pending the service cannot answer synchronously.
    let run = xkms(&server.url, &register).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("result: Receiver/NotSynchronous")
            && run.stdout.contains("repeat with --pending"),
        "{}",
        run.all()
    );

    let mut args = register.to_vec();
    args.extend_from_slice(&["--pending", "--out", s(&cert)]);
    let run = xkms(&server.url, &args).await;
    assert_eq!(run.code, 3, "Pending exits 3: {}", run.all());
    let response_id = field(&run.stdout, "response id:").to_owned();
    let request_id = field(&run.stdout, "request id:").to_owned();
    assert_eq!(
        field(&run.stdout, "next:"),
        format!("xkms pending status {response_id} --request-id {request_id}")
    );
    assert_eq!(
        field(&run.stdout, "then:"),
        format!(
            "xkms pending fetch {response_id} --request-id {request_id} --out {}",
            cert.display()
        )
    );
    assert!(!cert.exists());

    // Awaiting approval: still pending.
    let run = xkms(
        &server.url,
        &[
            "pending",
            "status",
            &response_id,
            "--request-id",
            &request_id,
        ],
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout
            .starts_with("result: Pending\nhint: not finished yet"),
        "{}",
        run.all()
    );
    let run = xkms(&server.url, &["pending", "fetch", &response_id]).await;
    assert_eq!(run.code, 3, "{}", run.all());

    server
        .xkmsd_admin(&["pending", "approve", &response_id])
        .await;

    // The approved job is run by the worker (or pushed by a status request); the worker
    // may still be running it when the first status request arrives: poll, as a
    // client does.
    let mut run = xkms(&server.url, &["pending", "status", &response_id]).await;
    for _ in 0..100 {
        if run.code != 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        run = xkms(&server.url, &["pending", "status", &response_id]).await;
    }
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains(&format!("ready: xkms pending fetch {response_id}")),
        "{}",
        run.all()
    );
    let run = xkms(
        &server.url,
        &[
            "pending",
            "fetch",
            &response_id,
            "--request-id",
            &request_id,
            "--out",
            s(&cert),
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("status Valid"), "{}", run.all());
    let ca = server.path("ca-cert.pem");
    let verified = openssl(&["verify", "-CAfile", s(&ca), s(&cert)]);
    assert!(verified.contains(": OK"), "{verified}");

    // A response id the service never issued, and one with the wrong request id.
    let run = xkms(&server.url, &["pending", "status", "Inope"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout
            .contains("result: Sender/UnknownResponseId\nhint: "),
        "{}",
        run.all()
    );
    let run = xkms(
        &server.url,
        &["pending", "fetch", &response_id, "--request-id", "Iother"],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("UnknownResponseId"), "{}", run.all());
}

/// `register --wait --generate-key`: waits through the approval and writes the
/// service-generated key and the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_wait_completes_after_approval() {
    let server = TestServer::start(|c| c.policy.register = "approval".into()).await;
    server.authorize("bea@example.com", "secret").await;
    let key = server.path("bea-key.pem");
    let cert = server.path("bea.pem");
    let mut cmd = xkms_command(&server.url);
    cmd.args([
        "register",
        "--generate-key",
        "--key",
        s(&key),
        "--out",
        s(&cert),
    ])
    .args(["--key-name", "bea@example.com", "--secret", "secret"])
    .args(["--respond-with", "KeyValue,X509Cert", "--wait"])
    .args(["--poll-seconds", "0.1"])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    // Synchronise on what xkms prints once the service has queued the request.
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (line, stdout)
    });
    let (line, mut stdout) = first.await.unwrap();
    let response_id = line
        .trim()
        .strip_prefix("request accepted for asynchronous processing (response id ")
        .and_then(|l| l.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    server
        .xkmsd_admin(&["pending", "approve", &response_id])
        .await;
    let (status, rest) = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        (child.wait_with_output().unwrap(), rest)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(0), "{rest}\n{stderr}");
    assert!(rest.contains("result: Success"), "{rest}");
    assert!(
        rest.contains("service-generated RSA-2048 private key written"),
        "{rest}"
    );
    let key_modulus = openssl(&["rsa", "-in", s(&key), "-noout", "-modulus"]);
    let cert_modulus = openssl(&["x509", "-in", s(&cert), "-noout", "-modulus"]);
    assert_eq!(key_modulus, cert_modulus);
}
