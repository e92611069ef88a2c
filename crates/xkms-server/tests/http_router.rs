//! The HTTP layer in-process: `router(state)` answered with `oneshot`, no socket, over
//! the real service on a SQLite file in a temporary data directory. What needs a
//! connection (timeouts, the connection limit, request-line repair, shutdown) stays in
//! the end-to-end tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;
use xkms_client::XkmsClient;
use xkms_client::locate::LocateParams;
use xkms_proto::soap::{self, Binding, FaultCode, SoapVersion};
use xkms_proto::{Message, RespondWith, ResultMajor, ResultMessage, ResultMinor, write_message};
use xkms_server::config::Config;
use xkms_server::http::{AppState, router};

/// The Service URI of the in-process service (the default for the default listen address).
const SERVICE: &str = "http://127.0.0.1:8080/xkms";

struct App {
    state: Arc<AppState>,
    _dir: tempfile::TempDir,
}

impl App {
    async fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.ca.key_type = "rsa2048".into();
        config.policy.key_pool_size = 0;
        let service = xkms_server::app::build_service(&config, config.server.listen)
            .await
            .unwrap();
        assert_eq!(service.config().service_uri, SERVICE);
        App {
            state: Arc::new(AppState::new(service, &config)),
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            content_type: headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            allow: headers
                .get(header::ALLOW)
                .map(|v| v.to_str().unwrap().to_owned()),
            body,
        }
    }

    async fn post(&self, content_type: &str, body: impl Into<Body>) -> Answer {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/xkms")
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    async fn get(&self, uri: &str) -> Answer {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        self.send(request).await
    }

    async fn binding_count(&self) -> u64 {
        self.state.service.store().count_bindings().await.unwrap()
    }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    allow: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// The XKMS result of a 200 answer, and the binding it came in.
    fn result(&self) -> (Binding, ResultMessage) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        let (binding, message) = soap::parse_document(self.text(), &Default::default()).unwrap();
        let Message::Result(result) = message else {
            panic!("expected a result: {}", self.text())
        };
        (binding, result)
    }

    /// The SOAP fault of an answer.
    fn fault(&self) -> soap::SoapFault {
        soap::parse_fault(self.text(), &Default::default()).expect("a SOAP fault")
    }
}

fn codes(result: &ResultMessage) -> (ResultMajor, Option<ResultMinor>) {
    let h = xkms_client::result_header(result);
    (h.result_major.clone(), h.result_minor.clone())
}

/// A LocateRequest for a name nobody registered, in `binding`; with its Id.
fn locate_nobody(binding: Binding) -> (String, String) {
    let client = XkmsClient::new(SERVICE);
    let request = client.locate_request(&LocateParams {
        key_names: vec!["nobody@example.com".into()],
        respond_with: vec![RespondWith::KeyName],
        ..Default::default()
    });
    let id = request.request.message.id.clone();
    let body = write_message(&Message::Request(xkms_proto::Request::Locate(request)));
    (soap::wrap(binding, &body), id)
}

#[tokio::test]
async fn every_binding_is_answered_in_kind() {
    let app = App::new().await;
    for (binding, content_type) in [
        (
            Binding::Soap(SoapVersion::Soap12),
            SoapVersion::Soap12.content_type(),
        ),
        (
            Binding::Soap(SoapVersion::Soap11),
            SoapVersion::Soap11.content_type(),
        ),
        (Binding::Bare, "text/xml"),
        (Binding::Bare, "application/xml"),
    ] {
        let (document, id) = locate_nobody(binding);
        let answer = app.post(content_type, document).await;
        let (answered_in, result) = answer.result();
        assert_eq!(answered_in, binding, "{content_type}");
        let expected_type = match binding {
            Binding::Soap(v) => v.content_type(),
            Binding::Bare => "text/xml; charset=utf-8",
        };
        assert_eq!(answer.content_type, expected_type);
        assert_eq!(
            codes(&result),
            (ResultMajor::Success, Some(ResultMinor::NoMatch))
        );
        let header = xkms_client::result_header(&result);
        assert_eq!(header.request_id.as_deref(), Some(id.as_str()));
        assert_eq!(header.message.service, SERVICE);
    }
}

/// Envelope-level problems are SOAP Faults in the SOAP version of the request, with the
/// SOAP binding's HTTP status: 1.2 Sender → 400, 1.1 Client → 500, an unknown envelope
/// namespace → VersionMismatch, a mustUnderstand header → MustUnderstand.
#[tokio::test]
async fn envelope_faults_follow_the_soap_binding() {
    let app = App::new().await;
    let soap11 = SoapVersion::Soap11.content_type();
    let soap12 = SoapVersion::Soap12.content_type();

    let answer = app
        .post(
            soap11,
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Oops"#,
        )
        .await;
    assert_eq!(answer.status, 500, "SOAP 1.1 faults travel with HTTP 500");
    assert_eq!(answer.content_type, soap11);
    let fault = answer.fault();
    assert_eq!(fault.version, SoapVersion::Soap11);
    assert_eq!(fault.code, Some(FaultCode::Sender), "SOAP 1.1 Client");

    let answer = app
        .post(
            soap12,
            r#"<e:Envelope xmlns:e="urn:not-soap"><e:Body/></e:Envelope>"#,
        )
        .await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.fault().code, Some(FaultCode::VersionMismatch));

    let must = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><x:Tx xmlns:x="urn:x" e:mustUnderstand="true"/></e:Header><e:Body><LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="I1" Service="x"><QueryKeyBinding/></LocateRequest></e:Body></e:Envelope>"#;
    let answer = app.post(soap12, must).await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.fault().code, Some(FaultCode::MustUnderstand));

    // Two body children: Sender, HTTP 400 in SOAP 1.2.
    let two = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><a/><b/></e:Body></e:Envelope>"#;
    let answer = app.post(soap12, two).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.content_type, soap12);
    assert_eq!(answer.fault().code, Some(FaultCode::Sender));
}

/// Bodies that cannot be read get a clear answer and change nothing: malformed XML, a
/// DTD (no entity is expanded), an unknown request element (an XKMS result naming the
/// request), a result where a request belongs, bytes that are not UTF-8, and a body over
/// the size limit (413 before any parsing).
#[tokio::test]
async fn unreadable_bodies_get_clear_answers_and_change_nothing() {
    let app = App::new().await;
    let soap12 = SoapVersion::Soap12.content_type();

    let answer = app
        .post(
            soap12,
            "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body><RegisterRequest",
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.fault().code, Some(FaultCode::Sender));

    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><x>&lol3;</x></env:Body></env:Envelope>"#;
    let answer = app.post(soap12, bomb).await;
    assert_eq!(answer.status, 400);
    assert!(answer.text().contains("Fault"), "{}", answer.text());
    assert!(
        !answer.text().contains("lollol"),
        "entities must not be expanded"
    );

    let unknown = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><FrobnicateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="Ifrob" Service="x"/></env:Body></env:Envelope>"#;
    let (_, result) = app.post(soap12, unknown).await.result();
    assert_eq!(
        codes(&result),
        (ResultMajor::Sender, Some(ResultMinor::MessageNotSupported))
    );
    assert_eq!(
        xkms_client::result_header(&result).request_id.as_deref(),
        Some("Ifrob")
    );

    let a_result = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><Result xmlns="http://www.w3.org/2002/03/xkms#" Id="Ir" Service="x" ResultMajor="http://www.w3.org/2002/03/xkms#Success"/></env:Body></env:Envelope>"#;
    let answer = app.post(soap12, a_result).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.fault().code, Some(FaultCode::Sender));

    let answer = app.post("text/xml", vec![0x3c, 0xff, 0xfe, 0x3e]).await;
    assert_eq!(answer.status, 500, "SOAP 1.1 for text/xml");
    assert_eq!(answer.fault().version, SoapVersion::Soap11);

    let big = format!("<x>{}</x>", "a".repeat(2 * 1024 * 1024));
    let answer = app.post(soap12, big).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.fault().code, Some(FaultCode::Sender));

    assert_eq!(app.binding_count().await, 0);
    let (document, _) = locate_nobody(Binding::Soap(SoapVersion::Soap12));
    let (_, result) = app.post(soap12, document).await.result();
    assert_eq!(codes(&result).0, ResultMajor::Success);
}

/// `GET /xkms?wsdl` (any case) describes the service at its Service URI and points at
/// the schemas served beside it, without their DTD; other GETs of `/xkms` are refused.
#[tokio::test]
async fn the_service_description_and_its_schemas_are_served() {
    let app = App::new().await;
    for query in ["wsdl", "WSDL"] {
        let answer = app.get(&format!("/xkms?{query}")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.content_type, "text/xml; charset=utf-8");
        let wsdl = answer.text();
        assert_eq!(
            wsdl.matches(&format!("location=\"{SERVICE}\"")).count(),
            2,
            "{wsdl}"
        );
        assert!(wsdl.contains("schemaLocation=\"http://127.0.0.1:8080/schema/xkms.xsd\""));
        for op in xkms_proto::Operation::ALL {
            assert!(
                wsdl.contains(&format!("<wsdl:operation name=\"{op}\"><wsdl:input message=\"tns:{}\"/><wsdl:output message=\"tns:{}\"/>", op.request_element(), op.result_element())),
                "{op}: {wsdl}"
            );
        }
    }
    let answer = app.get("/xkms").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.allow.as_deref(), Some("POST"));

    for name in ["xkms.xsd", "xmldsig-core-schema.xsd", "xenc-schema.xsd"] {
        let answer = app.get(&format!("/schema/{name}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}");
        assert!(answer.text().contains("<xsd:schema") || answer.text().contains("<schema"));
        assert!(!answer.text().contains("<!DOCTYPE"), "{name}");
    }
    assert_eq!(
        app.get("/schema/../Cargo.toml").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/schema/other.xsd").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The CA certificate, its CRL, certificates by serial and the health check.
#[tokio::test]
async fn ca_crl_certificate_and_health_routes() {
    use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};
    let app = App::new().await;
    let ca = app.state.service.ca();

    let answer = app.get("/ca.pem").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "application/x-pem-file");
    let pem = x509_parser::pem::parse_x509_pem(&answer.body).unwrap().1;
    assert_eq!(pem.label, "CERTIFICATE");
    assert_eq!(pem.contents, ca.certificate_der());

    let answer = app.get("/crl").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "application/pkix-crl");
    let (rest, crl) = CertificateRevocationList::from_der(&answer.body).unwrap();
    assert!(rest.is_empty());
    let (_, ca_cert) = X509Certificate::from_der(ca.certificate_der()).unwrap();
    assert_eq!(crl.issuer(), ca_cert.subject());
    assert_eq!(crl.iter_revoked_certificates().count(), 0);

    for serial in ["0123456789abcdef", "not-a-serial"] {
        let answer = app.get(&format!("/certificates/{serial}")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{serial}");
    }

    let answer = app.get("/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "ok\n");
}

/// `GET /metrics` counts answered requests by operation and result, faults as `Fault`
/// of operation `-`, with a latency histogram per operation.
#[tokio::test]
async fn metrics_count_requests_by_operation_and_result() {
    let app = App::new().await;
    let soap12 = SoapVersion::Soap12.content_type();
    for _ in 0..2 {
        let (document, _) = locate_nobody(Binding::Soap(SoapVersion::Soap12));
        let (_, result) = app.post(soap12, document).await.result();
        assert_eq!(
            codes(&result),
            (ResultMajor::Success, Some(ResultMinor::NoMatch))
        );
    }
    let unknown =
        r#"<FrobnicateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="Ifrob" Service="x"/>"#;
    app.post("text/xml", unknown).await.result();
    let fault = app.post(soap12, "<not-xml").await;
    assert!(fault.status.is_client_error());

    let answer = app.get("/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        answer.content_type
    );
    let text = answer.text();
    for line in [
        "xkms_requests_total{operation=\"Locate\",result_major=\"Success\",result_minor=\"NoMatch\"} 2\n",
        "xkms_requests_total{operation=\"-\",result_major=\"Sender\",result_minor=\"MessageNotSupported\"} 1\n",
        "xkms_requests_total{operation=\"-\",result_major=\"Fault\",result_minor=\"-\"} 1\n",
        "xkms_request_duration_seconds_bucket{operation=\"Locate\",le=\"+Inf\"} 2\n",
        "xkms_request_duration_seconds_count{operation=\"Locate\"} 2\n",
        "xkms_pending_jobs 0\n",
        "# TYPE xkms_key_pool_level gauge\nxkms_key_pool_level ",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}
