//! The service description: `GET /xkms?wsdl` and the schemas it imports, loaded by a
//! third-party SOAP toolkit (Python `zeep`, strict by default) that then calls Locate and
//! Validate through both SOAP bindings. `scripts/test` prepares the virtualenv and sets
//! `XKMS_TEST_PYTHON`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::{Application, ResultMajor, UseKeyWith};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

fn python() -> String {
    std::env::var("XKMS_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .expect(
            "XKMS_TEST_PYTHON must name a Python with zeep: run scripts/test (it prepares \
         target/py-venv), or `python3 -m venv v && v/bin/pip install zeep` and set it",
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeep_loads_the_wsdl_and_calls_locate_and_validate() {
    let python = python();
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let client = XkmsClient::new(&server.url);
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new("secret".into());
    let registered = client
        .register(&RegisterParams {
            key: Some(&key),
            key_name: Some("joe@example.com".into()),
            use_key_with: vec![UseKeyWith {
                application: Application::Smime,
                identifier: "joe@example.com".into(),
            }],
            key_usage: vec![],
            respond_with: vec![],
            response_mechanism: vec![],
            secret: &secret,
            preparation: SecretPreparation::SaslPrep,
            revocation_phrase: None,
        })
        .await
        .unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);

    // The WSDL names the service, both bindings, and DTD-free schemas.
    let wsdl_url = format!("{}?wsdl", server.url);
    let wsdl = reqwest::get(&wsdl_url).await.unwrap().text().await.unwrap();
    assert_eq!(
        wsdl.matches(&format!("location=\"{}\"", server.url))
            .count(),
        2,
        "{wsdl}"
    );
    let base = server.url.strip_suffix("/xkms").unwrap();
    let xsd = reqwest::get(format!("{base}/schema/xkms.xsd"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        xsd.contains("targetNamespace=\"http://www.w3.org/2002/03/xkms#\"")
            && !xsd.contains("<!DOCTYPE")
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/zeep/locate_validate.py");
    let out = std::process::Command::new(&python)
        .args([script, &wsdl_url, &server.url, "joe@example.com"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "zeep failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for port in ["XKMSPort", "XKMSSoap12Port"] {
        let locate = lines
            .iter()
            .find(|l| l.contains(port) && l.contains("\"Locate\""))
            .unwrap();
        assert!(
            locate.contains("\"major\": \"http://www.w3.org/2002/03/xkms#Success\""),
            "{locate}"
        );
        assert!(
            locate.contains(&format!("\"request_id\": \"Izeep1{port}\"")),
            "{locate}"
        );
        assert!(
            locate.contains("\"bindings\": 1") && locate.contains("joe@example.com"),
            "{locate}"
        );
        let validate = lines
            .iter()
            .find(|l| l.contains(port) && l.contains("\"Validate\""))
            .unwrap();
        assert!(
            validate.contains("\"status\": [\"http://www.w3.org/2002/03/xkms#Valid\"]"),
            "{validate}"
        );
    }
}
