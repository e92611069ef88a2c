//! `GET /metrics` counts what the real `xkmsd` answered, and `xkmsd admin seed` fills
//! the store with bindings that Locate finds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use xkms_client::XkmsClient;
use xkms_client::locate::LocateParams;
use xkms_proto::{RespondWith, ResultMajor, ResultMinor};

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
async fn metrics_count_requests_by_operation_and_result() {
    let server = Server::start();
    let client = XkmsClient::new(&server.url);
    let params = LocateParams {
        key_names: vec!["nobody@example.com".into()],
        respond_with: vec![RespondWith::KeyName],
        ..Default::default()
    };
    for _ in 0..2 {
        let result = client.locate(&params).await.unwrap();
        assert_eq!(result.result.result_major, ResultMajor::Success);
        assert_eq!(result.result.result_minor, Some(ResultMinor::NoMatch));
    }
    // An envelope-level failure is counted as a fault.
    let fault = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/soap+xml")
        .body("<not-xml")
        .send()
        .await
        .unwrap();
    assert!(fault.status().is_client_error());

    let text = metrics(&server).await;
    assert!(
        text.contains(
            "xkms_requests_total{operation=\"Locate\",result_major=\"Success\",result_minor=\"NoMatch\"} 2\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "xkms_requests_total{operation=\"-\",result_major=\"Fault\",result_minor=\"-\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("xkms_request_duration_seconds_bucket{operation=\"Locate\",le=\"+Inf\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("xkms_request_duration_seconds_count{operation=\"Locate\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE xkms_key_pool_level gauge\nxkms_key_pool_level "),
        "{text}"
    );
    assert!(text.contains("xkms_pending_jobs 0\n"), "{text}");
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
