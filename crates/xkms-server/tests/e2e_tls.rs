//! HTTPS (issue 11): a server certificate from the built-in CA (`xkmsd admin
//! server-certificate`), `xkmsd serve --tls-cert --tls-key` on the real binary, T100 over
//! HTTPS, `curl --cacert` and `openssl s_client -verify_return_error` as independent
//! clients, a plain-HTTP client refused, the accept loop's limits over TLS (handshake
//! within the header timeout, the request-line repair on the decrypted stream, the
//! overflow lane), and `check-config` on the TLS files. Bounds are asserted with wide
//! margins (the limits are 1 s, the checks 10 s), as in `e2e_limits`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tools::tool;
use common::{Server, certificate_pem, openssl, succeeded, t100_params, xkmsd_in};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xkms_client::{ClientKey, XkmsClient};
use xkms_proto::ResultMajor;
use xkms_xmlsec::kdf::SharedSecret;

const MARGIN: Duration = Duration::from_secs(10);

/// The server's TLS files, outside its data directory.
struct TlsFiles {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

/// `xkmsd admin server-certificate --dns localhost --ip 127.0.0.1` on `data`, and the CA.
fn issue_server_certificate(data: &Path) -> (TlsFiles, String) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server-key.pem");
    let printed = succeeded(xkmsd_in(
        &[
            "admin",
            "server-certificate",
            "--dns",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--cert-out",
            cert.to_str().unwrap(),
            "--key-out",
            key.to_str().unwrap(),
        ],
        data,
    ));
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, succeeded(xkmsd_in(&["admin", "ca-certificate"], data))).unwrap();
    (
        TlsFiles {
            _dir: dir,
            cert,
            key,
            ca,
        },
        printed,
    )
}

/// A server with a fresh data directory, its own server certificate and `[server]`
/// settings.
fn tls_server(server_table: &str) -> (Server, TlsFiles) {
    let data = tempfile::tempdir().unwrap();
    let (files, _) = issue_server_certificate(data.path());
    let config = data.path().join("xkmsd.toml");
    std::fs::write(&config, format!("[server]\n{server_table}")).unwrap();
    let server = Server::start_in(
        data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--tls-cert",
            files.cert.to_str().unwrap(),
            "--tls-key",
            files.key.to_str().unwrap(),
        ],
    );
    (server, files)
}

fn address(url: &str) -> String {
    url.split("://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

fn ca_der(files: &TlsFiles) -> Vec<u8> {
    let pem = std::fs::read(&files.ca).unwrap();
    rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

use rustls::pki_types::pem::PemObject;

/// A TLS client trusting only `ca`, for raw exchanges.
fn connector(ca: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca.to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn tls_connect(addr: &str, ca: &[u8]) -> Tls {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    connector(ca).connect(name, tcp).await.unwrap()
}

/// Reads until the server closes (or `MARGIN` passes): what arrived, how long it took.
async fn tls_until_closed(tls: &mut Tls) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(MARGIN * 2, tls.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("still open after {:?}", started.elapsed()),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn t100_over_https_with_a_certificate_from_the_built_in_ca() {
    let data = tempfile::tempdir().unwrap();
    let (files, printed) = issue_server_certificate(data.path());
    assert!(
        printed.contains("DNS:localhost, IP:127.0.0.1 (serverAuth)"),
        "{printed}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&files.key), 0o600, "the server key is private");

    // openssl: issued by our CA for TLS servers, for exactly these names.
    let (cert, ca) = (files.cert.to_str().unwrap(), files.ca.to_str().unwrap());
    let verify = openssl(&["verify", "-purpose", "sslserver", "-CAfile", ca, cert]);
    assert_eq!(verify.trim(), format!("{cert}: OK"));
    let eku = openssl(&["x509", "-in", cert, "-noout", "-ext", "extendedKeyUsage"]);
    assert!(eku.contains("TLS Web Server Authentication"), "{eku}");
    assert!(!eku.contains("Client"), "serverAuth only: {eku}");
    let san = openssl(&["x509", "-in", cert, "-noout", "-ext", "subjectAltName"]);
    assert!(
        san.contains("DNS:localhost") && san.contains("IP Address:127.0.0.1"),
        "{san}"
    );

    let server = Server::start_in(
        data,
        &[
            "--tls-cert",
            files.cert.to_str().unwrap(),
            "--tls-key",
            files.key.to_str().unwrap(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:") && server.url.ends_with("/xkms"),
        "{}",
        server.url
    );
    let base = server.url.trim_end_matches("/xkms");

    // curl, with our CA and without it.
    let curl = tool("curl")
        .args(["-sS", "--cacert", ca, &format!("{base}/healthz")])
        .output()
        .unwrap();
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&curl.stdout).trim(), "ok");
    let untrusted = tool("curl")
        .args(["-sS", &format!("{base}/healthz")])
        .output()
        .unwrap();
    assert_eq!(untrusted.status.code(), Some(60), "certificate not trusted");

    // openssl s_client: the chain verifies against our CA, HTTP/1.1 by ALPN.
    let mut s_client = tool("openssl")
        .args([
            "s_client",
            "-connect",
            &address(&server.url),
            "-verify_return_error",
            "-CAfile",
            ca,
            "-alpn",
            "http/1.1",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(s_client.stdin.take());
    let handshake = s_client.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&handshake.stdout);
    assert!(handshake.status.success(), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert!(text.contains("ALPN protocol: http/1.1"), "{text}");

    // T100 over HTTPS; the Service URI is the https one.
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url)
        .with_root_certificates(&[ca_der(&files)])
        .unwrap();
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new("secret".into());
    let registered = client.register(&t100_params(&key, &secret)).await.unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);
    let joe = server.dir().join("joe.pem");
    std::fs::write(&joe, certificate_pem(registered.certificate().unwrap())).unwrap();
    let joe = joe.to_str().unwrap();
    assert_eq!(
        openssl(&["verify", "-CAfile", ca, joe]).trim(),
        format!("{joe}: OK")
    );

    // Without our CA the client says why; a plain-HTTP client gets no HTTP answer.
    let err = XkmsClient::new(&server.url)
        .register(&t100_params(&key, &secret))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not issued by a CA this client trusts"),
        "{err}"
    );
    let plain = reqwest::get(format!("{}/healthz", base.replace("https://", "http://"))).await;
    assert!(plain.is_err(), "{plain:?}");
    let mut raw = std::net::TcpStream::connect(address(&server.url)).unwrap();
    raw.set_read_timeout(Some(MARGIN)).unwrap();
    raw.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert_eq!(
        server.binding_count().await,
        2,
        "the server certificate and Joe's"
    );
}

#[tokio::test]
async fn handshake_and_request_line_are_bounded_and_the_repair_works_over_tls() {
    let (server, files) = tls_server("header_timeout_seconds = 1\nidle_timeout_seconds = 1\n");
    let addr = address(&server.url);
    let ca = ca_der(&files);

    // A TCP connection that never starts the handshake.
    let mut idle = std::net::TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(MARGIN * 2)).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let _ = idle.read(&mut buf);
    assert!(
        started.elapsed() < MARGIN,
        "open for {:?}",
        started.elapsed()
    );

    // Half a ClientHello record header, then nothing.
    let mut half = std::net::TcpStream::connect(&addr).unwrap();
    half.set_read_timeout(Some(MARGIN * 2)).unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02]).unwrap();
    let started = Instant::now();
    let _ = half.read(&mut buf);
    assert!(
        started.elapsed() < MARGIN,
        "open for {:?}",
        started.elapsed()
    );

    // A finished handshake and no request line.
    let mut silent = tls_connect(&addr, &ca).await;
    let (got, took) = tls_until_closed(&mut silent).await;
    assert!(took < MARGIN, "open for {took:?}");
    assert!(got.is_empty(), "{got}");

    // The deployed clients' request line, repaired after decryption.
    let mut repaired = tls_connect(&addr, &ca).await;
    repaired
        .write_all(b"GET /healthzHTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = tls_until_closed(&mut repaired).await;
    assert!(got.starts_with("HTTP/1.0 200 OK"), "{got}");
    assert!(got.trim_end().ends_with("ok"), "{got}");
}

#[tokio::test]
async fn at_the_connection_limit_tls_health_checks_answer_and_the_rest_is_told_to_retry() {
    let (server, files) =
        tls_server("max_connections = 2\nheader_timeout_seconds = 60\nidle_timeout_seconds = 60\n");
    let addr = address(&server.url);
    let ca = ca_der(&files);
    // Two connections hold both slots (neither starts its handshake).
    let holders: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut health = tls_connect(&addr, &ca).await;
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = tls_until_closed(&mut health).await;
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");

    let mut busy = tls_connect(&addr, &ca).await;
    busy.write_all(b"POST /xkms HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = tls_until_closed(&mut busy).await;
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(got.to_ascii_lowercase().contains("retry-after: 1"), "{got}");
    drop(holders);
}

#[test]
fn check_config_reports_the_tls_files_and_refuses_bad_ones() {
    let data = tempfile::tempdir().unwrap();
    let (files, _) = issue_server_certificate(data.path());
    let config = data.path().join("xkmsd.toml");
    let write_config = |cert: &Path, key: &Path| {
        std::fs::write(
            &config,
            format!(
                "[server]\ntls_cert = {:?}\ntls_key = {:?}\n",
                cert.to_str().unwrap(),
                key.to_str().unwrap()
            ),
        )
        .unwrap();
    };
    let check = || {
        xkmsd_in(
            &["check-config", "--config", config.to_str().unwrap()],
            data.path(),
        )
    };
    write_config(&files.cert, &files.key);
    let out = succeeded(check());
    assert!(
        out.contains("TLS: ") && out.contains("for DNS:localhost, IP:127.0.0.1"),
        "{out}"
    );

    // A key of another certificate.
    let (other, _) = issue_server_certificate(data.path());
    write_config(&files.cert, &other.key);
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("do they belong together"), "{err}");

    // A key others may read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        write_config(&files.cert, &files.key);
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = check();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("accessible to group or others"), "{err}");
        // serve refuses it the same way, before listening.
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // A certificate file that is not one.
    std::fs::write(&other.cert, "not a certificate\n").unwrap();
    write_config(&other.cert, &files.key);
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no CERTIFICATE"), "{err}");

    // Only one of the two.
    std::fs::write(&config, format!("[server]\ntls_cert = {:?}\n", files.cert)).unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.tls_cert"), "{err}");
}
