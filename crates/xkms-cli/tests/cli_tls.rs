//! `xkms` over HTTPS (issue 11): T100 against `https://127.0.0.1:PORT/xkms` with `--ca-cert`
//! naming the built-in CA that issued the server's certificate (checked by `openssl`), and
//! the local errors with exit status 2: a server certificate from a CA the client does not
//! trust, an `http://` URL on the TLS port, a `--ca-cert` file that holds no certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, openssl, s, xkms};

const T100: &[&str] = &[
    "register",
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
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t100_over_https_with_the_built_in_ca() {
    let server = TestServer::start_tls(|_| {}).await;
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    server.authorize_joe("secret").await;
    let ca = server.path("ca-cert.pem");
    let (key, cert) = (server.path("joe-key.pem"), server.path("joe.pem"));
    let mut args = vec!["--ca-cert", s(&ca)];
    args.extend_from_slice(T100);
    args.extend_from_slice(&["--key", s(&key), "--out", s(&cert)]);
    let run = xkms(&server.url, &args).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("result: Success"), "{}", run.all());
    let verify = openssl(&["verify", "-CAfile", s(&ca), s(&cert)]);
    assert_eq!(verify.trim(), format!("{}: OK", s(&cert)));

    // The same over HTTPS with the CA in the environment.
    let mut cmd = common::xkms_command(&server.url);
    cmd.env("XKMS_CA_CERT", &ca)
        .args(["locate", "--key-name", "joe@example.com"]);
    let run = common::run(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("status Valid"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_problems_are_local_errors_with_a_hint() {
    let server = TestServer::start_tls(|_| {}).await;
    let locate = ["locate", "--key-name", "joe@example.com"];

    // No --ca-cert: the platform's roots do not know our CA.
    let run = xkms(&server.url, &locate).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("the server's certificate is not issued by a CA this client trusts"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr
            .contains("hint: the service's CA: xkmsd admin ca-certificate"),
        "{}",
        run.all()
    );
    assert!(
        !run.stderr.contains("ERROR"),
        "one message, no log noise: {}",
        run.all()
    );

    // http:// on the TLS port.
    let plain = server.url.replace("https://", "http://");
    let ca = server.path("ca-cert.pem");
    let mut args = vec!["--ca-cert", s(&ca)];
    args.extend_from_slice(&locate);
    let run = xkms(&plain, &args).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("use an https:// URL"), "{}", run.all());

    // A --ca-cert file that is not a certificate fails before anything is sent.
    let junk = server.path("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let mut args = vec!["--ca-cert", s(&junk)];
    args.extend_from_slice(&locate);
    let run = xkms(&server.url, &args).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("junk.pem is not a certificate"),
        "{}",
        run.all()
    );
}
