//! `GET /metrics` of the real `xkmsd` parses with the reference parser (request counting
//! itself: tests/http_router.rs), and `xkmsd admin seed` fills the store with bindings
//! that Locate finds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use xkms_client::locate::LocateParams;
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::{RespondWith, ResultMajor, ResultMinor};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

async fn metrics(server: &Server) -> String {
    let url = server.url.replace("/xkms", "/metrics");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn seeded_bindings_are_found_by_name_and_address() {
    let server = Server::start();
    let out = server.admin(&["seed", "--count", "25", "--start", "100"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("seeded 25 key bindings"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(server.binding_count().await, 25);
    let client = XkmsClient::new(&server.url);
    let by_name = client
        .locate(&LocateParams {
            key_names: vec!["user117@seed.example".into()],
            respond_with: vec![RespondWith::KeyName, RespondWith::X509Cert],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.result.result_major, ResultMajor::Success);
    assert_eq!(by_name.unverified_key_bindings.len(), 1);
    let ki = by_name.unverified_key_bindings[0]
        .core
        .key_info
        .as_ref()
        .unwrap();
    assert_eq!(ki.key_names, vec!["user117@seed.example".to_string()]);
    assert_eq!(ki.x509_data[0].certificates.len(), 1);
    let by_address = client
        .locate(&LocateParams {
            use_key_with: vec![xkms_proto::UseKeyWith {
                application: xkms_proto::Application::Smime,
                identifier: "User124@Seed.Example".into(),
            }],
            respond_with: vec![RespondWith::KeyName],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_address.unverified_key_bindings.len(), 1);
    // Outside the seeded range: nothing.
    let outside = client
        .locate(&LocateParams {
            key_names: vec!["user99@seed.example".into()],
            respond_with: vec![RespondWith::KeyName],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(outside.result.result_minor, Some(ResultMinor::NoMatch));
}

/// One sample as the Python `prometheus_client` parser (the reference implementation)
/// reads it.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    family: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

/// Parses an exposition with `prometheus_client.parser`, which fails on malformed text.
fn parse_with_prometheus_client(text: &str) -> Vec<Sample> {
    use std::io::Write;
    let python = std::env::var("XKMS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        out = [dict(family=f.name, type=f.type, name=s.name, labels=s.labels, value=s.value)\n\
               for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]\n\
        print(json.dumps(out))\n";
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{python}: {e}: run scripts/test (it prepares the Python virtualenv)")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'prometheus_client'"),
        "the test needs the Python package prometheus-client: run scripts/test (it prepares \
         target/py-venv and sets XKMS_TEST_PYTHON) or `pip install prometheus-client`"
    );
    assert!(out.status.success(), "parser failed: {stderr}\n{text}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn value(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sample {name}"))
        .value
}

/// The build, process and CA metrics are there, and the whole exposition parses with
/// the reference parser.
#[tokio::test]
async fn build_process_and_ca_metrics_parse() {
    let server = Server::start();
    server.authorize("joe@example.com", "secret", "register");
    let before = parse_with_prometheus_client(&metrics(&server).await);
    let build = before
        .iter()
        .find(|s| s.name == "xkms_build_info")
        .expect("xkms_build_info");
    assert_eq!(build.kind, "gauge");
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build.value, 1.0);

    // The CA's notAfter, as the certificate says.
    let ca_der = {
        let pem = std::fs::read_to_string(server.dir().join("ca-cert.pem")).unwrap();
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    };
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    assert_eq!(
        value(&before, "xkms_ca_certificate_expiry_timestamp_seconds"),
        ca.validity().not_after.timestamp() as f64
    );

    // Process metrics from /proc.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(value(&before, "process_resident_memory_bytes") > 1e6);
    assert!(value(&before, "process_virtual_memory_bytes") > 1e6);
    assert!(value(&before, "process_open_fds") >= 3.0);
    assert!(value(&before, "process_max_fds") >= value(&before, "process_open_fds"));
    let started = value(&before, "process_start_time_seconds");
    assert!(
        started <= now + 1.0 && started > now - 3600.0,
        "{started} vs {now}"
    );
    let cpu = before
        .iter()
        .find(|s| s.name == "process_cpu_seconds_total")
        .expect("process_cpu_seconds_total");
    assert_eq!(cpu.kind, "counter");
    assert_eq!(cpu.family, "process_cpu_seconds");

    // A registration issues one certificate.
    let issued = value(&before, "xkms_certificates_issued_total");
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new("secret".into());
    let registered = XkmsClient::new(&server.url)
        .register(&RegisterParams {
            key: Some(&key),
            key_name: Some("joe@example.com".into()),
            use_key_with: vec![],
            key_usage: vec![],
            respond_with: vec![RespondWith::X509Cert],
            response_mechanism: vec![],
            secret: &secret,
            preparation: SecretPreparation::SaslPrep,
            revocation_phrase: None,
        })
        .await
        .unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);
    let after = parse_with_prometheus_client(&metrics(&server).await);
    assert_eq!(
        value(&after, "xkms_certificates_issued_total"),
        issued + 1.0
    );
    let requests = after
        .iter()
        .find(|s| {
            s.name == "xkms_requests_total"
                && s.labels.get("operation").map(String::as_str) == Some("Register")
        })
        .expect("Register counted");
    assert_eq!(requests.kind, "counter");
    assert_eq!(requests.labels["result_major"], "Success");
    assert_eq!(requests.value, 1.0);
    assert!(
        after
            .iter()
            .any(|s| s.name == "xkms_request_duration_seconds_bucket"
                && s.labels.get("le").map(String::as_str) == Some("+Inf")),
        "histogram buckets"
    );
}
