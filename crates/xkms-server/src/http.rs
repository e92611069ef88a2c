//! The HTTP binding: `POST /xkms` with SOAP 1.2 (`application/soap+xml`), SOAP 1.1
//! (`text/xml`, any SOAPAction) or a bare XKMS element (`text/xml`/`application/xml`),
//! answered in the same form. XKMS-level problems become XKMS results (HTTP 200);
//! envelope-level problems become SOAP Faults (digest §8.2–8.3).

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Instant;
use xkms_proto::soap::{self, Binding, DocumentError, FaultCode, SoapVersion};
use xkms_proto::{Limits, Message, Operation, ResultMessage};
use xkms_service::{RequestContext, ServiceError, XkmsService};

/// Shared state of the HTTP front end.
pub struct AppState {
    pub service: XkmsService,
    pub max_body_bytes: usize,
    /// Time a client has to send the whole body.
    pub request_timeout: std::time::Duration,
    /// Request counters and latency histograms (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// The state for `service` with the limits of `config`'s `[server]` table.
    pub fn new(service: XkmsService, config: &crate::config::Config) -> AppState {
        AppState {
            service,
            max_body_bytes: config.server.max_body_bytes,
            request_timeout: std::time::Duration::from_secs(config.server.request_timeout_seconds),
            metrics: crate::metrics::Metrics::new(),
        }
    }
}

/// The router: `POST /xkms`, `GET /ca.pem`, `GET /healthz`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/xkms", post(xkms).get(wsdl))
        .route("/schema/{name}", get(schema))
        .route("/ca.pem", get(ca_pem))
        .route("/crl", get(crl))
        .route("/certificates/{serial}", get(certificate))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `GET /xkms?wsdl` (any case): the service description.
async fn wsdl(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if !request
        .uri()
        .query()
        .is_some_and(|q| q.eq_ignore_ascii_case("wsdl"))
    {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "POST XKMS requests here; GET ?wsdl for the service description\n",
        )
            .into_response();
    }
    let service_uri = &state.service.config().service_uri;
    let base = xkms_service::respond::service_base(service_uri);
    let body = crate::wsdl::wsdl(service_uri, &format!("{base}/schema/"));
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// `GET /schema/{name}`: the schemas the WSDL imports.
async fn schema(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match crate::wsdl::schema(&name) {
        Some(body) => ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such schema\n").into_response(),
    }
}

async fn ca_pem(State(state): State<Arc<AppState>>) -> Response {
    let pem = state.service.ca().certificate_pem();
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

async fn crl(State(state): State<Arc<AppState>>) -> Response {
    match state.service.crl().await {
        Ok(der) => ([(header::CONTENT_TYPE, "application/pkix-crl")], der).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "CRL generation failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "CRL unavailable\n").into_response()
        }
    }
}

async fn certificate(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(serial): axum::extract::Path<String>,
) -> Response {
    match state.service.certificate_by_serial(&serial).await {
        Ok(Some(der)) => ([(header::CONTENT_TYPE, "application/pkix-cert")], der).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such certificate\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "certificate lookup failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "lookup failed\n").into_response()
        }
    }
}

/// `GET /metrics`: the Prometheus exposition.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let gauges = crate::metrics::Gauges::read(&state.service).await;
    match state.metrics.render(&gauges) {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: encoding failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.service.store().ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
    }
}

async fn xkms(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let declared = declared_version(request.headers().get(header::CONTENT_TYPE));
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let body = tokio::time::timeout(
        state.request_timeout,
        to_bytes(request.into_body(), state.max_body_bytes),
    )
    .await;
    let body = match body {
        Ok(Ok(body)) => body,
        Err(_) => {
            log_line("-", "-", "fault:body-timeout", started);
            state.metrics.record_fault(None, started);
            let mut response = fault(
                declared,
                StatusCode::REQUEST_TIMEOUT,
                FaultCode::Sender,
                "request body not received in time",
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        Ok(Err(_)) => {
            log_line("-", "-", "fault:too-large", started);
            state.metrics.record_fault(None, started);
            return fault(
                declared,
                StatusCode::PAYLOAD_TOO_LARGE,
                FaultCode::Sender,
                "request too large",
            );
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        log_line("-", "-", "fault:not-utf8", started);
        state.metrics.record_fault(None, started);
        let status = StatusCode::from_u16(declared.fault_http_status(FaultCode::Sender))
            .unwrap_or(StatusCode::BAD_REQUEST);
        return fault(declared, status, FaultCode::Sender, "request is not UTF-8");
    };
    let limits = Limits {
        max_bytes: state.max_body_bytes,
        ..Limits::default()
    };
    let (binding, message) = match soap::parse_document(text, &limits) {
        Ok(parsed) => parsed,
        Err(DocumentError::Envelope {
            fault: code,
            reason,
            binding_hint,
        }) => {
            log_line("-", "-", "fault:envelope", started);
            state.metrics.record_fault(None, started);
            let version = match binding_hint {
                Some(Binding::Soap(v)) => v,
                _ => declared,
            };
            return fault(
                version,
                StatusCode::from_u16(version.fault_http_status(code))
                    .unwrap_or(StatusCode::BAD_REQUEST),
                code,
                reason,
            );
        }
        Err(DocumentError::Message { binding, error }) => {
            let err = if error.is_unsupported_message() {
                ServiceError::MessageNotSupported
            } else {
                ServiceError::InvalidRequest("the request does not conform to the XKMS schema")
            };
            let header = error.header();
            let request_id = header.and_then(|h| h.id.as_deref());
            let result = state.service.undecodable_result(request_id, &err);
            let element = header.map(|h| h.element.as_str()).unwrap_or("-");
            log_result(request_id.unwrap_or("-"), element, &result, started);
            let operation = header.and_then(|h| Operation::from_request_element(&h.element));
            state.metrics.record_result(operation, &result, started);
            return respond(&state.service, binding, None, &result);
        }
    };
    let Message::Request(request) = message else {
        log_line("-", "result", "fault:not-a-request", started);
        state.metrics.record_fault(None, started);
        let version = binding_version(binding);
        let status = StatusCode::from_u16(version.fault_http_status(FaultCode::Sender))
            .unwrap_or(StatusCode::BAD_REQUEST);
        return fault(version, status, FaultCode::Sender, "not an XKMS request");
    };
    let document = xkms_xmlsec::ReceivedDocument::parse(text);
    let ctx = RequestContext::new(&document, peer);
    let result = state.service.process(&ctx, &request).await;
    let abstract_ = xkms_service::results::request_abstract(&request);
    let operation = request.operation();
    log_result(&abstract_.message.id, operation.as_str(), &result, started);
    state
        .metrics
        .record_result(Some(operation), &result, started);
    respond(&state.service, binding, Some(&request), &result)
}

fn respond(
    service: &XkmsService,
    binding: Binding,
    request: Option<&xkms_proto::Request>,
    result: &ResultMessage,
) -> Response {
    let body = service.render(binding, request, result);
    let content_type = match binding {
        Binding::Soap(v) => v.content_type(),
        Binding::Bare => "text/xml; charset=utf-8",
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn fault(version: SoapVersion, status: StatusCode, code: FaultCode, reason: &str) -> Response {
    let body = soap::fault(version, code, reason);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(version.content_type()),
    );
    response
}

/// The SOAP version to fault in when the envelope could not be read: SOAP 1.1 only if
/// the client sent `text/xml` (which also covers bare XML clients), else SOAP 1.2.
fn declared_version(content_type: Option<&HeaderValue>) -> SoapVersion {
    match content_type.and_then(|v| v.to_str().ok()) {
        Some(ct) if ct.trim_start().to_ascii_lowercase().starts_with("text/xml") => {
            SoapVersion::Soap11
        }
        _ => SoapVersion::Soap12,
    }
}

fn binding_version(binding: Binding) -> SoapVersion {
    match binding {
        Binding::Soap(v) => v,
        Binding::Bare => SoapVersion::Soap12,
    }
}

fn log_result(request_id: &str, operation: &str, result: &ResultMessage, started: Instant) {
    let header = xkms_service::results::result_abstract(result);
    let major = short_uri(header.result_major.as_uri());
    let minor = header
        .result_minor
        .as_ref()
        .map(|m| short_uri(m.as_uri()))
        .unwrap_or("-");
    tracing::info!(
        request_id,
        operation,
        result_major = major,
        result_minor = minor,
        duration_ms = crate::telemetry::duration_ms(started.elapsed()),
        "xkms request"
    );
}

fn log_line(request_id: &str, operation: &str, outcome: &str, started: Instant) {
    tracing::info!(
        request_id,
        operation,
        outcome,
        duration_ms = crate::telemetry::duration_ms(started.elapsed()),
        "xkms request"
    );
}

fn short_uri(uri: &str) -> &str {
    uri.rsplit('#').next().unwrap_or(uri)
}
