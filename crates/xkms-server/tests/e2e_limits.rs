//! What an unauthenticated peer can hold (issue: every cost bounded): idle connections,
//! slow headers, slow bodies, idle keep-alive, the connection limit with `/healthz` still
//! answering, and graceful shutdown draining an in-flight request. Raw TCP against the real
//! binary; bounds are asserted with wide margins (the limits are 1–2 s, the checks 10 s).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MARGIN: Duration = Duration::from_secs(10);

fn server_with(server_table: &str) -> (Server, String) {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(&config, format!("[server]\n{server_table}")).unwrap();
    let server = Server::start_in(data, &["--config", config.to_str().unwrap()]);
    let addr = server
        .url
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    (server, addr)
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(MARGIN * 2)).unwrap();
    stream
}

/// Reads until the server closes (or the read timeout); what arrived and how long it took.
fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

/// Polls `condition` (every 20 ms, up to [`MARGIN`]) until it holds; whether it did.
fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < MARGIN {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

const LIMITS: &str =
    "header_timeout_seconds = 1\nrequest_timeout_seconds = 2\nidle_timeout_seconds = 1\n";

#[test]
fn idle_and_slow_peers_are_cut_off() {
    let (_server, addr) = server_with(LIMITS);

    // A connection that never sends anything.
    let mut idle = connect(&addr);
    let (_, took) = until_closed(&mut idle);
    assert!(took < MARGIN, "idle connection open for {took:?}");

    // A request line and headers trickling in at a byte per 300 ms.
    let mut slow = connect(&addr);
    let started = Instant::now();
    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" {
        if slow.write_all(&[*byte]).is_err() || started.elapsed() > MARGIN {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let (got, _) = until_closed(&mut slow);
    assert!(
        started.elapsed() < MARGIN + Duration::from_secs(1),
        "slow headers held {:?}",
        started.elapsed()
    );
    assert!(!got.contains("200 OK"), "{got}");

    // A body of 100000 bytes announced, sent at a byte per 100 ms: 408 and closed.
    let mut body = connect(&addr);
    body.write_all(
        b"POST /xkms HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\nContent-Length: 100000\r\n\r\n",
    )
    .unwrap();
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < MARGIN && body.write_all(b"<").is_ok() {
        sent += 1;
        std::thread::sleep(Duration::from_millis(100));
        let mut peek = [0u8; 1];
        body.set_nonblocking(true).unwrap();
        let closed_or_answered = body.peek(&mut peek).is_ok();
        body.set_nonblocking(false).unwrap();
        if closed_or_answered {
            break;
        }
    }
    let (got, _) = until_closed(&mut body);
    assert!(
        started.elapsed() < MARGIN,
        "slow body held {:?} ({sent} bytes)",
        started.elapsed()
    );
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");

    // A keep-alive connection left idle after one answer.
    let mut keep = connect(&addr);
    keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (got, took) = until_closed(&mut keep);
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    assert!(took < MARGIN, "idle keep-alive open for {took:?}");
}

#[test]
fn at_the_connection_limit_health_checks_answer_and_the_rest_is_told_to_retry() {
    let (_server, addr) = server_with(
        "max_connections = 4\nheader_timeout_seconds = 60\nidle_timeout_seconds = 60\n",
    );
    // Four connections hold every slot (each waits for its request line); the server
    // accepts in arrival order, so they are in before the next one.
    let holders: Vec<TcpStream> = (0..4).map(|_| connect(&addr)).collect();

    let mut health = connect(&addr);
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (got, took) = until_closed(&mut health);
    assert!(
        got.starts_with("HTTP/1.1 200 OK") && got.ends_with("ok\n"),
        "{got}"
    );
    assert!(took < MARGIN);

    let mut post = connect(&addr);
    post.write_all(b"POST /xkms HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let (got, _) = until_closed(&mut post);
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(got.to_ascii_lowercase().contains("retry-after: 1"), "{got}");

    // Slots free again once the holders leave (as soon as the server sees them close).
    drop(holders);
    let freed = eventually(|| {
        let mut post = connect(&addr);
        post.write_all(
            b"POST /xkms HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let (got, _) = until_closed(&mut post);
        !got.starts_with("HTTP/1.1 503")
    });
    assert!(freed, "the slots were not freed");
}

#[test]
fn shutdown_lets_an_in_flight_request_finish() {
    let (mut server, addr) = server_with("");
    let body = format!(
        "<LocateRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"Isd\" Service=\"{}\">\
         <QueryKeyBinding><KeyUsage>http://www.w3.org/2002/03/xkms#Signature</KeyUsage>\
         <UseKeyWith Application=\"urn:ietf:rfc:2633\" Identifier=\"x@example.com\"/>\
         </QueryKeyBinding></LocateRequest>",
        server.url
    );
    let mut stream = connect(&addr);
    let (first, rest) = body.split_at(40);
    stream
        .write_all(
            format!(
                "POST /xkms HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{first}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    // A complete exchange on a later connection: the server has taken ours in by then.
    let mut probe = connect(&addr);
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(until_closed(&mut probe).0.starts_with("HTTP/1.1 200"));
    server.terminate();
    // Shutdown has begun once new connections are refused; ours is still being served.
    assert!(
        eventually(|| TcpStream::connect(&addr).is_err()),
        "the server kept accepting after SIGTERM"
    );
    assert!(
        server.is_alive(),
        "the server must wait for the request in flight"
    );
    stream.write_all(rest.as_bytes()).unwrap();
    let (got, _) = until_closed(&mut stream);
    assert!(
        got.starts_with("HTTP/1.1 200 OK") && got.contains("LocateResult"),
        "{got}"
    );
    let status = server
        .wait_exit(MARGIN)
        .expect("xkmsd did not exit after draining");
    assert!(status.success(), "{status:?}");
}

/// A CompoundRequest of `n` inner Registers whose KeyBindingAuthentications do not verify
/// (the digest and the HMAC are wrong), for an identity that has an authorization code,
/// so each inner request is fully checked and refused.
fn compound_of_broken_registers(service: &str, n: usize) -> String {
    let mut inner = String::new();
    for i in 0..n {
        inner.push_str(&format!(
            "<RegisterRequest Id=\"Ir{i}\" Service=\"{service}\"><PrototypeKeyBinding Id=\"Ik{i}\">\
             <ds:KeyInfo><ds:KeyName>joe@example.com</ds:KeyName></ds:KeyInfo>\
             <UseKeyWith Application=\"urn:ietf:rfc:2633\" Identifier=\"joe@example.com\"/>\
             </PrototypeKeyBinding><Authentication><KeyBindingAuthentication><ds:Signature>\
             <ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>\
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\"/>\
             <ds:Reference URI=\"#Ik{i}\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
             </ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/>\
             <ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue></ds:Reference></ds:SignedInfo>\
             <ds:SignatureValue>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:SignatureValue></ds:Signature>\
             </KeyBindingAuthentication></Authentication></RegisterRequest>"
        ));
    }
    format!(
        "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body>\
         <CompoundRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"Ic\" Service=\"{service}\">\
         {inner}</CompoundRequest></env:Body></env:Envelope>"
    )
}

async fn post(url: &str, body: String) -> (std::time::Duration, String) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/soap+xml")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (started.elapsed(), response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compound_work_is_capped_and_proportional_to_size() {
    // Default cap (64): one more is refused whole, before any inner work.
    let (server, _) = server_with("");
    server.authorize_joe("secret", "register");
    let (_, answer) = post(&server.url, compound_of_broken_registers(&server.url, 65)).await;
    assert!(
        answer.contains("ResultMajor=\"http://www.w3.org/2002/03/xkms#Sender\"")
            && answer.contains("#Failure"),
        "{answer}"
    );
    assert!(!answer.contains("RegisterResult"), "{answer}");
    let (_, answer) = post(&server.url, compound_of_broken_registers(&server.url, 64)).await;
    assert_eq!(answer.matches("#NoAuthentication").count(), 64, "{answer}");
    drop(server);

    // With a cap of 256, 200 broken inner registrations (~0.5 MB) are each checked and
    // refused, in well under a second: the document is indexed once and each inner
    // signature is verified over its own request's bytes.
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(&config, "[protocol]\nmax_compound_requests = 256\n").unwrap();
    let server = Server::start_in(data, &["--config", config.to_str().unwrap()]);
    server.authorize_joe("secret", "register");
    let body = compound_of_broken_registers(&server.url, 200);
    let (took, answer) = post(&server.url, body).await;
    assert_eq!(answer.matches("#NoAuthentication").count(), 200);
    eprintln!("200-inner compound answered in {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "200-inner compound took {took:?}"
    );
    assert_eq!(server.binding_count().await, 0);
}

/// Key size bounds come before any signature work: an oversized (or undersized) key is
/// refused even when the authentication would not verify, so a huge modulus never costs a
/// proof-of-possession check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_size_is_checked_before_any_signature_work() {
    use base64::Engine;
    let (server, _) = server_with("");
    server.authorize_joe("secret", "register");
    for (bits, label) in [(20_000usize, "too large"), (1024, "too small")] {
        let mut modulus = vec![0xC5u8; bits / 8];
        modulus[0] = 0xFF;
        let request = compound_of_broken_registers(&server.url, 1).replace(
            "<ds:KeyInfo><ds:KeyName>",
            &format!(
                "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>{}</ds:Modulus>\
                     <ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue><ds:KeyName>",
                base64::engine::general_purpose::STANDARD.encode(&modulus)
            ),
        );
        let (_, answer) = post(&server.url, request).await;
        assert!(
            answer.contains("#Sender")
                && answer.contains("ResultMinor=\"http://www.w3.org/2002/03/xkms#Refused\""),
            "{label}: {answer}"
        );
    }
}

fn joe_params<'a>(
    key: &'a xkms_client::ClientKey,
    secret: &'a xkms_xmlsec::kdf::SharedSecret,
    identity: &str,
) -> xkms_client::RegisterParams<'a> {
    xkms_client::RegisterParams {
        key: Some(key),
        key_name: Some(identity.to_owned()),
        use_key_with: vec![xkms_proto::UseKeyWith {
            application: xkms_proto::Application::Smime,
            identifier: identity.to_owned(),
        }],
        key_usage: vec![],
        respond_with: vec![],
        response_mechanism: vec![],
        secret,
        preparation: xkms_xmlsec::kdf::SecretPreparation::SaslPrep,
        revocation_phrase: None,
    }
}

fn minor(result: &xkms_proto::RegisterResult) -> String {
    format!(
        "{:?}/{:?}",
        result.result.result_major, result.result.result_minor
    )
}

/// Repeated wrong secrets lock the identity: then even the right secret is refused, the
/// operator sees the lock and can lift it; the lock and the failures are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_authentications_lock_the_identity() {
    use xkms_xmlsec::kdf::SharedSecret;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        "[policy]\nlockout_after_failures = 5\nlockout_seconds = 600\nlockout_after_failures_per_address = 0\n",
    )
    .unwrap();
    let server = Server::start_in(data, &["--config", config.to_str().unwrap()]);
    server.authorize("joe@example.com", "right secret", "register");
    let client = xkms_client::XkmsClient::new(&server.url);
    let key = xkms_client::ClientKey::generate(2048).unwrap();
    let wrong = SharedSecret::new("wrong secret".into());
    let right = SharedSecret::new("right secret".into());
    for _ in 0..5 {
        let r = client
            .register(&joe_params(&key, &wrong, "joe@example.com"))
            .await
            .unwrap()
            .result;
        assert_eq!(minor(&r), "Sender/Some(NoAuthentication)");
    }
    let r = client
        .register(&joe_params(&key, &right, "joe@example.com"))
        .await
        .unwrap()
        .result;
    assert_eq!(
        minor(&r),
        "Sender/Some(NoAuthentication)",
        "locked: the right secret is refused"
    );
    assert_eq!(server.binding_count().await, 0);

    let listed = String::from_utf8(server.admin(&["lockouts", "list"]).stdout).unwrap();
    assert!(
        listed.contains("id:joe@example.com") && listed.contains("5 failures"),
        "{listed}"
    );
    let audit = String::from_utf8(server.admin(&["audit"]).stdout).unwrap();
    assert!(
        audit.contains("authentication.locked") && audit.contains("authentication.failed"),
        "{audit}"
    );

    server.admin(&["lockouts", "clear", "id:joe@example.com"]);
    let r = client
        .register(&joe_params(&key, &right, "joe@example.com"))
        .await
        .unwrap()
        .result;
    assert_eq!(minor(&r), "Success/None");
    let listed = String::from_utf8(server.admin(&["lockouts", "list"]).stdout).unwrap();
    assert!(listed.contains("no lockouts"), "{listed}");
}

/// Many failures from one client address, spread over identities, lock the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_spread_over_identities_lock_the_client_address() {
    use xkms_xmlsec::kdf::SharedSecret;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        "[policy]\nlockout_after_failures = 100\nlockout_after_failures_per_address = 4\n",
    )
    .unwrap();
    let server = Server::start_in(data, &["--config", config.to_str().unwrap()]);
    server.authorize("joe@example.com", "right secret", "register");
    let client = xkms_client::XkmsClient::new(&server.url);
    let key = xkms_client::ClientKey::generate(2048).unwrap();
    let wrong = SharedSecret::new("wrong secret".into());
    for i in 0..4 {
        let identity = format!("user{i}@example.com");
        let r = client
            .register(&joe_params(&key, &wrong, &identity))
            .await
            .unwrap()
            .result;
        assert_eq!(minor(&r), "Sender/Some(NoAuthentication)");
    }
    let right = SharedSecret::new("right secret".into());
    let r = client
        .register(&joe_params(&key, &right, "joe@example.com"))
        .await
        .unwrap()
        .result;
    assert_eq!(
        minor(&r),
        "Sender/Some(NoAuthentication)",
        "the address is locked"
    );
    let listed = String::from_utf8(server.admin(&["lockouts", "list"]).stdout).unwrap();
    assert!(listed.contains("ip:127.0.0.1"), "{listed}");
}

/// A wrong secret for an identity that has an authorization code and for one that has
/// none cost the service the same: the answer's timing must not tell which identities
/// exist. The service's own per-request durations (its JSON log) of interleaved samples
/// are compared by their medians, with a wide margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_takes_as_long_whether_or_not_the_identity_has_a_code() {
    use xkms_xmlsec::kdf::SharedSecret;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        "[policy]\nlockout_after_failures = 100000\nlockout_after_failures_per_address = 0\n",
    )
    .unwrap();
    let server = Server::start_in(
        data,
        &["--config", config.to_str().unwrap(), "--log-format", "json"],
    );
    server.authorize("joe@example.com", "right secret", "register");
    let client = xkms_client::XkmsClient::new(&server.url);
    let key = xkms_client::ClientKey::generate(2048).unwrap();
    let wrong = SharedSecret::new("wrong secret".into());
    let mut ids: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for round in 0..160 {
        for (which, identity) in ["joe@example.com", "nobody@example.com"].iter().enumerate() {
            // A large key binding makes the signature work stand out from the rest.
            let mut params = joe_params(&key, &wrong, identity);
            params
                .use_key_with
                .extend((0..60).map(|i| xkms_proto::UseKeyWith {
                    application: xkms_proto::Application::Tls,
                    identifier: format!("host{i}.example.com"),
                }));
            let r = client.register(&params).await.unwrap();
            assert_eq!(minor(&r.result), "Sender/Some(NoAuthentication)");
            if round >= 10 {
                ids[which].push(r.request_id);
            }
        }
    }
    let text = server.log().await;
    let median = |wanted: &[String]| -> f64 {
        let mut durations: Vec<f64> = text
            .lines()
            .filter(|l| l.contains("\"xkms request\""))
            .filter(|l| wanted.iter().any(|id| l.contains(id.as_str())))
            .filter_map(|l| {
                let at = l.find("\"duration_ms\":")? + "\"duration_ms\":".len();
                l[at..].split([',', '}']).next()?.trim().parse().ok()
            })
            .collect();
        assert_eq!(durations.len(), wanted.len(), "one log line per request");
        durations.sort_by(f64::total_cmp);
        durations[durations.len() / 2]
    };
    let (a, b) = (median(&ids[0]), median(&ids[1]));
    eprintln!(
        "server median with a code {a:.3} ms, without {b:.3} ms, ratio {:.3}",
        a / b
    );
    assert!(
        (0.8..=1.25).contains(&(a / b)),
        "with a code {a} ms, without {b} ms"
    );
}

/// Asynchronous requests authenticate before they are stored: an unauthenticated one
/// never reaches the store, and each identity (and the service) has a cap on unfinished
/// jobs (`Receiver/Refused` over it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_authenticated_requests_are_deferred_and_jobs_are_capped() {
    use xkms_proto::ResponseMechanism;
    use xkms_xmlsec::kdf::SharedSecret;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        "[policy]\nregister = \"approval\"\nmax_pending_per_identity = 2\n",
    )
    .unwrap();
    let server = Server::start_in(data, &["--config", config.to_str().unwrap()]);
    server.authorize("joe@example.com", "right secret", "register");
    let client = xkms_client::XkmsClient::new(&server.url);
    let key = xkms_client::ClientKey::generate(2048).unwrap();
    let pending = |secret| {
        let mut params = joe_params(&key, secret, "joe@example.com");
        params.response_mechanism = vec![ResponseMechanism::Pending];
        params
    };
    let wrong = SharedSecret::new("wrong secret".into());
    let right = SharedSecret::new("right secret".into());
    let r = client.register(&pending(&wrong)).await.unwrap().result;
    assert_eq!(minor(&r), "Sender/Some(NoAuthentication)");
    let listed = String::from_utf8(server.admin(&["pending", "list", "--all"]).stdout).unwrap();
    assert!(!listed.contains("Register"), "nothing stored: {listed}");

    for _ in 0..2 {
        let r = client.register(&pending(&right)).await.unwrap().result;
        assert_eq!(minor(&r), "Pending/None");
    }
    let r = client.register(&pending(&right)).await.unwrap().result;
    assert_eq!(
        minor(&r),
        "Receiver/Some(Refused)",
        "over the per-identity cap"
    );
    let listed = String::from_utf8(server.admin(&["pending", "list"]).stdout).unwrap();
    assert_eq!(listed.matches("joe@example.com").count(), 2, "{listed}");
}

/// `GET /crl` is served from a cache: many requests cost one signature; a revocation (on
/// any node: the store's revocation state) gives a new CRL with a larger number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crl_is_signed_once_per_revocation_state() {
    use xkms_xmlsec::kdf::SharedSecret;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_in(data, &[]);
    let crl_url = format!("{}/crl", server.url.strip_suffix("/xkms").unwrap());
    let http = reqwest::Client::new();
    let fetch = || async {
        http.get(&crl_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    };
    let first = fetch().await;
    for _ in 0..50 {
        assert_eq!(fetch().await, first, "the cached CRL, byte for byte");
    }
    let signed = |text: &str| text.matches("CRL signed").count();
    assert_eq!(signed(&server.log().await), 1);

    server.authorize("joe@example.com", "right secret", "register");
    let client = xkms_client::XkmsClient::new(&server.url);
    let key = xkms_client::ClientKey::generate(2048).unwrap();
    let right = SharedSecret::new("right secret".into());
    let phrase = SharedSecret::new("revoke me".into());
    let mut params = joe_params(&key, &right, "joe@example.com");
    params.revocation_phrase = Some(&phrase);
    params.respond_with = vec![xkms_proto::RespondWith::X509Cert];
    let registered = client.register(&params).await.unwrap();
    let revoked = client
        .revoke(&xkms_client::revoke::RevokeParams {
            binding: xkms_client::BindingRef {
                certificate: Some(registered.certificate().unwrap().to_vec()),
                key_value: None,
                key_name: None,
            },
            with: xkms_client::revoke::RevokeWith::Phrase(&phrase),
            preparation: xkms_xmlsec::kdf::SecretPreparation::SaslPrep,
            respond_with: vec![],
        })
        .await
        .unwrap();
    assert_eq!(format!("{:?}", revoked.result.result_major), "Success");
    let second = fetch().await;
    assert_ne!(second, first);
    assert_eq!(fetch().await, second);
    assert_eq!(signed(&server.log().await), 2);
    let number = |der: &[u8]| -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crl.der");
        std::fs::write(&path, der).unwrap();
        let out = common::tools::tool("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-crlnumber", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        u64::from_str_radix(text.trim().strip_prefix("crlNumber=0x").unwrap(), 16).unwrap()
    };
    assert!(number(&second) > number(&first));
}
