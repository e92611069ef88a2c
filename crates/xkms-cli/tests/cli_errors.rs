//! What `xkms` says when something goes wrong, and its exit status, against a real
//! server on loopback: XKMS results with a hint for the operation (exit 1), local and
//! transport errors named as such (exit 2), a closed stdout, dates, locate statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Run, TestServer, openssl, s, xkms, xkms_command};

const JOE: [&str; 4] = [
    "--key-name",
    "joe@example.com",
    "--use-key-with",
    "urn:ietf:rfc:2633=joe@example.com",
];

/// Registers Joe's own key (generated into `key`), certificate into `cert`.
async fn register_joe(server: &TestServer, key: &str, cert: &str) -> Run {
    let mut args = vec!["register", "--key", key, "--out", cert];
    args.extend_from_slice(&JOE);
    args.extend_from_slice(&["--secret", "secret", "--revocation-phrase", "gone"]);
    xkms(&server.url, &args).await
}

fn assert_rfc3339_dates(out: &str) {
    let lines: Vec<&str> = out.lines().filter(|l| l.contains(" valid ")).collect();
    assert!(!lines.is_empty(), "{out}");
    for line in lines {
        let (_, dates) = line.split_once(" valid ").unwrap();
        let (from, to) = dates.split_once(" to ").unwrap();
        for date in [from, to] {
            assert!(
                date.len() == 20 && date.as_bytes()[10] == b'T' && date.ends_with('Z'),
                "not RFC 3339 UTC: {date:?} in {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_carry_a_hint_for_the_operation() {
    let server = TestServer::start(|_| {}).await;
    server.authorize("joe@example.com", "secret").await;
    let key = server.path("joe-key.pem");
    let cert = server.path("joe.pem");

    // Register with a wrong code: NoAuthentication, with the causes of a registration.
    let mut args = vec!["register", "--key", s(&key)];
    args.extend_from_slice(&JOE);
    args.extend_from_slice(&["--secret", "wrong"]);
    let run = xkms(&server.url, &args).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout
            .contains("result: Sender/NoAuthentication\nhint: ")
            && run.stdout.contains("wrong or expired code")
            && run.stdout.contains("used up"),
        "{}",
        run.all()
    );

    // A name the code does not cover: Refused, naming that cause.
    let run = xkms(
        &server.url,
        &[
            "register",
            "--key",
            s(&key),
            "--key-name",
            "joe@example.com",
            "--use-key-with",
            "urn:ietf:rfc:2633=bob@example.com",
            "--secret",
            "secret",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("result: Sender/Refused\nhint: ")
            && run.stdout.contains("not covered by the authorization"),
        "{}",
        run.all()
    );

    let run = register_joe(&server, s(&key), s(&cert)).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stdout.contains("hint:"), "{}", run.all());
    assert_rfc3339_dates(&run.stdout);

    // Revoke with a wrong phrase: the hint is about the pass phrase, not a code.
    let run = xkms(
        &server.url,
        &["revoke", "--cert", s(&cert), "--revocation-phrase", "nope"],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("result: Sender/NoAuthentication")
            && run.stdout.contains("wrong revocation pass phrase"),
        "{}",
        run.all()
    );

    // Locate shows the binding's status; validate exits 0 only for Valid.
    let run = xkms(&server.url, &["locate", "--key-name", "joe@example.com"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("  status Valid "), "{}", run.all());
    assert_rfc3339_dates(&run.stdout);
    let run = xkms(&server.url, &["validate", "--cert", s(&cert)]).await;
    assert_eq!(run.code, 0, "{}", run.all());

    let run = xkms(
        &server.url,
        &["revoke", "--cert", s(&cert), "--revocation-phrase", "gone"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let run = xkms(&server.url, &["locate", "--key-name", "joe@example.com"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("  status Invalid valid[IssuerTrust,ValidityInterval,Signature] indeterminate[] invalid[RevocationStatus] (revoked)"),
        "{}",
        run.all()
    );
    let run = xkms(&server.url, &["validate", "--cert", s(&cert)]).await;
    assert_eq!(
        run.code,
        1,
        "Success with an Invalid binding: {}",
        run.all()
    );
    assert!(run.stdout.starts_with("result: Success\n"), "{}", run.all());

    // Revoked twice: Refused, with the causes of a revocation.
    let run = xkms(
        &server.url,
        &["revoke", "--cert", s(&cert), "--revocation-phrase", "gone"],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("already revoked"), "{}", run.all());

    // Nothing found: Success/NoMatch is explained, exit 0.
    let run = xkms(&server.url, &["locate", "--key-name", "nobody@example.com"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("result: Success/NoMatch\nhint: no key binding matches"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_and_transport_errors_exit_2_and_say_what_happened() {
    let server = TestServer::start(|_| {}).await;
    let dir = server.dir.path();

    // No scheme: refused before anything happens (no key generated).
    let key = dir.join("new-key.pem");
    let run = xkms(
        "127.0.0.1:8080/xkms",
        &[
            "register",
            "--key",
            s(&key),
            "--key-name",
            "a@example.com",
            "--secret",
            "x",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("invalid service URL \"127.0.0.1:8080/xkms\": no scheme"),
        "{}",
        run.all()
    );
    assert!(
        !key.exists(),
        "a key was generated before the URL was checked"
    );

    // Nobody listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/xkms", listener.local_addr().unwrap())
    };
    let run = xkms(&closed, &["locate", "--key-name", "a@example.com"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains(&format!("cannot connect to {closed}: connection refused")),
        "{}",
        run.all()
    );

    // A server that accepts and never answers: the timeout says so.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/xkms", silent.local_addr().unwrap());
    let run = xkms(
        &url,
        &["--timeout", "1", "locate", "--key-name", "a@example.com"],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains(&format!("no answer from {url} within 1 s (timed out)")),
        "{}",
        run.all()
    );
    drop(silent);

    // A wrong path on a real server.
    let wrong_path = server.url.replace("/xkms", "/xkm");
    let run = xkms(&wrong_path, &["locate", "--key-name", "a@example.com"]).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("answered HTTP 404"), "{}", run.all());

    // A Service URI the server does not have: both URIs named, and the remedy.
    let run = xkms(
        &server.url,
        &[
            "--service-uri",
            "http://xkms.example/xkms",
            "locate",
            "--key-name",
            "a@example.com",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "the result comes from Service {}, not from http://xkms.example/xkms",
            server.url
        )) && run
            .stderr
            .contains(&format!("pass --service-uri {}", server.url)),
        "{}",
        run.all()
    );

    // A junk certificate fails locally (a closed port proves nothing was sent).
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    for args in [
        vec!["validate", "--cert", s(&junk)],
        vec!["revoke", "--cert", s(&junk), "--revocation-phrase", "p"],
    ] {
        let run = xkms(&closed, &args).await;
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(
            run.stderr.contains(&format!(
                "{} is not a certificate (neither PEM nor DER X.509)",
                junk.display()
            )),
            "{}",
            run.all()
        );
    }

    // Keys the client cannot use, named for what they are.
    let ec = dir.join("ec.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        s(&ec),
    ]);
    let encrypted = dir.join("encrypted.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-aes-128-cbc",
        "-pass",
        "pass:secret",
        "-out",
        s(&encrypted),
    ]);
    let small = dir.join("small.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        s(&small),
    ]);
    for (key, says) in [
        (&ec, "an EC key: only RSA keys can be registered"),
        (&encrypted, "the key is encrypted with a pass phrase"),
        (&small, "an RSA key under 2048 bits"),
    ] {
        let run = xkms(
            &closed,
            &[
                "register",
                "--key",
                s(key),
                "--key-name",
                "a@example.com",
                "--secret",
                "x",
            ],
        )
        .await;
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(
            run.stderr.contains(&format!("{}: {says}", key.display())),
            "{}",
            run.all()
        );
    }
}

/// `xkms … | head -1`: the reader is gone before `xkms` writes. It must not panic
/// (exit 101), and the files it was asked to write must be there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_loses_nothing() {
    let server = TestServer::start(|_| {}).await;
    server.authorize("joe@example.com", "secret").await;
    let key = server.path("joe-key.pem");
    let cert = server.path("joe.pem");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = xkms_command(&server.url);
    cmd.args(["register", "--key", s(&key), "--out", s(&cert)])
        .args(JOE)
        .args(["--secret", "secret"])
        .stdout(writer);
    let run = common::run(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stderr.contains("panicked"), "{}", run.all());
    let subject = openssl(&["x509", "-in", s(&cert), "-noout", "-subject"]);
    assert!(subject.contains("joe@example.com"), "{subject}");
    assert!(key.exists());

    // Same for a command that writes a directory of certificates.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out_dir = server.path("found");
    let mut cmd = xkms_command(&server.url);
    cmd.args([
        "locate",
        "--key-name",
        "joe@example.com",
        "--out-dir",
        s(&out_dir),
    ])
    .stdout(writer);
    let run = common::run(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 1);
}

#[tokio::test]
async fn version_completions_and_manual_pages() {
    let run = xkms("http://127.0.0.1:1/xkms", &["--version"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.stdout.trim(),
        format!("xkms {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let run = xkms("http://127.0.0.1:1/xkms", &["completions", shell]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(
            run.stdout.contains("revocation-phrase") && run.stdout.contains("service-uri"),
            "{shell}: {}",
            run.all()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man1");
    let run = xkms("http://127.0.0.1:1/xkms", &["man", s(&man)]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let page = std::fs::read_to_string(man.join("xkms-register.1")).unwrap();
    assert!(page.starts_with(".ie"), "not roff: {page}");
    assert!(page.contains("revocation\\-phrase"), "{page}");
    let top = std::fs::read_to_string(man.join("xkms.1")).unwrap();
    assert!(top.contains("Exit status"), "{top}");
    for sub in [
        "xkms-pending-status.1",
        "xkms-pending-fetch.1",
        "xkms-locate.1",
    ] {
        assert!(man.join(sub).is_file(), "{sub} missing");
    }
}
