//! `GET /metrics`: Prometheus text exposition (format 0.0.4) with the
//! `prometheus-client` crate.
//!
//! Per request: `xkms_requests_total{operation,result_major,result_minor}` and the
//! latency histogram `xkms_request_duration_seconds{operation}`. Label values come from
//! fixed vocabularies: result codes outside the REC are counted as `Other`, envelope
//! level failures (SOAP Faults) as `result_major="Fault"`, unreadable requests as
//! `operation="-"`, so the number of series is bounded whatever clients send.
//!
//! Read when scraped, each cheap: `xkms_build_info`; the process metrics from `/proc`
//! (`process_*`, Linux); `xkms_ca_certificate_expiry_timestamp_seconds`;
//! `xkms_certificates_issued_total` (certificates this process's CA signed); the key
//! pool level; and `xkms_pending_jobs`, the one store query of a scrape (a count per
//! state, one `GROUP BY`; no record is loaded).

use crate::process::ProcessStats;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::time::Instant;
use xkms_proto::{Operation, ResultMajor, ResultMessage, ResultMinor};
use xkms_service::XkmsService;
use xkms_service::store::PendingState;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Request counters and latency histograms of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<OperationLabels, Histogram>,
}

/// What `/metrics` reads from the service and the process when scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Ready keys in the pool; `None` when the service generates no keys.
    pub key_pool_level: Option<usize>,
    /// Queued asynchronous jobs; `None` if the store could not be read.
    pub pending_jobs: Option<u64>,
    /// notAfter of the CA certificate, Unix seconds.
    pub ca_expiry_seconds: i64,
    /// Certificates the CA signed since the process started.
    pub certificates_issued: u64,
    pub process: ProcessStats,
}

impl Gauges {
    /// Reads the gauges from the service, its store (one query) and `/proc`.
    pub async fn read(service: &XkmsService) -> Gauges {
        let pending_jobs = match service.store().pending_counts().await {
            Ok(counts) => Some(
                counts
                    .iter()
                    .filter(|(s, _)| *s == PendingState::Queued)
                    .map(|(_, n)| *n)
                    .sum(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: pending jobs unreadable");
                None
            }
        };
        let ca = service.ca();
        Gauges {
            key_pool_level: service.key_pool().map(|p| p.level()),
            pending_jobs,
            ca_expiry_seconds: ca.not_after().unix_timestamp(),
            certificates_issued: ca.issued_count(),
            process: ProcessStats::read(),
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    result_major: &'static str,
    result_minor: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "xkms_requests",
            "XKMS requests answered, by operation and result",
            requests.clone(),
        );
        let durations = Family::<OperationLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "xkms_request_duration_seconds",
            "Time from request received to result ready",
            durations.clone(),
        );
        registry.register(
            "xkms_build",
            "Version of this xkmsd",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            registry,
            requests,
            durations,
        }
    }

    /// Counts a request answered with an XKMS result; `None`: the request could not be
    /// read as one of the operations (counted as `-`).
    pub fn record_result(
        &self,
        operation: Option<Operation>,
        result: &ResultMessage,
        started: Instant,
    ) {
        let header = xkms_service::results::result_abstract(result);
        let minor = header.result_minor.as_ref().map_or("-", minor_label);
        self.record(operation, major_label(&header.result_major), minor, started);
    }

    /// Counts a request answered with a SOAP Fault (no XKMS result).
    pub fn record_fault(&self, operation: Option<Operation>, started: Instant) {
        self.record(operation, "Fault", "-", started);
    }

    /// The exposition text: the request metrics, then what `gauges` read.
    pub fn render(&self, gauges: &Gauges) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8192);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        prometheus_client::encoding::prometheus_text::encode(&mut out, &scraped(gauges))?;
        Ok(out)
    }

    fn record(
        &self,
        operation: Option<Operation>,
        major: &'static str,
        minor: &'static str,
        started: Instant,
    ) {
        let operation = operation.map_or("-", Operation::as_str);
        self.requests
            .get_or_create(&RequestLabels {
                operation,
                result_major: major,
                result_minor: minor,
            })
            .inc();
        self.durations
            .get_or_create(&OperationLabels { operation })
            .observe(started.elapsed().as_secs_f64());
    }
}

/// A registry of this scrape's readings (only those that could be read).
fn scraped(gauges: &Gauges) -> Registry {
    let mut registry = Registry::default();
    if let Some(level) = gauges.key_pool_level {
        registry.register(
            "xkms_key_pool_level",
            "Pre-generated RSA keys ready for service-generated registrations",
            ConstGauge::new(level as i64),
        );
    }
    if let Some(pending) = gauges.pending_jobs {
        registry.register(
            "xkms_pending_jobs",
            "Asynchronous jobs queued for a worker",
            ConstGauge::new(i64::try_from(pending).unwrap_or(i64::MAX)),
        );
    }
    registry.register(
        "xkms_ca_certificate_expiry_timestamp_seconds",
        "notAfter of the CA certificate, Unix time",
        ConstGauge::new(gauges.ca_expiry_seconds),
    );
    registry.register(
        "xkms_certificates_issued",
        "End-entity certificates the CA signed since this process started",
        ConstCounter::new(gauges.certificates_issued),
    );
    let p = &gauges.process;
    let mut gauge = |name: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            registry.register(name, help, ConstGauge::new(value));
        }
    };
    gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        p.resident_memory_bytes.map(|v| v as f64),
    );
    gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes",
        p.virtual_memory_bytes.map(|v| v as f64),
    );
    gauge(
        "process_open_fds",
        "Number of open file descriptors",
        p.open_fds.map(|v| v as f64),
    );
    gauge(
        "process_max_fds",
        "Maximum number of open file descriptors",
        p.max_fds.map(|v| v as f64),
    );
    gauge(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds",
        p.start_time_seconds,
    );
    if let Some(cpu) = p.cpu_seconds {
        registry.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            ConstCounter::new(cpu),
        );
    }
    registry
}

/// Upper bounds (seconds) of the latency buckets; `+Inf` is implicit.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

fn duration_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

fn major_label(major: &ResultMajor) -> &'static str {
    match major {
        ResultMajor::Success => "Success",
        ResultMajor::VersionMismatch => "VersionMismatch",
        ResultMajor::Sender => "Sender",
        ResultMajor::Receiver => "Receiver",
        ResultMajor::Represent => "Represent",
        ResultMajor::Pending => "Pending",
        ResultMajor::Other(_) => "Other",
    }
}

fn minor_label(minor: &ResultMinor) -> &'static str {
    match minor {
        ResultMinor::NoMatch => "NoMatch",
        ResultMinor::TooManyResponses => "TooManyResponses",
        ResultMinor::Incomplete => "Incomplete",
        ResultMinor::Failure => "Failure",
        ResultMinor::Refused => "Refused",
        ResultMinor::NoAuthentication => "NoAuthentication",
        ResultMinor::MessageNotSupported => "MessageNotSupported",
        ResultMinor::UnknownResponseId => "UnknownResponseId",
        ResultMinor::RepresentRequired => "RepresentRequired",
        ResultMinor::NotSynchronous => "NotSynchronous",
        ResultMinor::OptionalElementNotSupported => "OptionalElementNotSupported",
        ResultMinor::ProofOfPossessionRequired => "ProofOfPossessionRequired",
        ResultMinor::TimeInstantNotSupported => "TimeInstantNotSupported",
        ResultMinor::TimeInstantOutOfRange => "TimeInstantOutOfRange",
        ResultMinor::Other(_) => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xkms_proto::{LocateResult, ResultAbstract};

    fn locate_result(major: ResultMajor, minor: Option<ResultMinor>) -> ResultMessage {
        ResultMessage::Locate(LocateResult {
            result: ResultAbstract {
                result_major: major,
                result_minor: minor,
                ..Default::default()
            },
            unverified_key_bindings: Vec::new(),
        })
    }

    #[test]
    fn counts_by_operation_and_result() {
        let metrics = Metrics::new();
        let started = Instant::now();
        let ok = locate_result(ResultMajor::Success, Some(ResultMinor::NoMatch));
        metrics.record_result(Some(Operation::Locate), &ok, started);
        metrics.record_result(Some(Operation::Locate), &ok, started);
        metrics.record_result(
            Some(Operation::Validate),
            &locate_result(ResultMajor::Other("urn:x".into()), None),
            started,
        );
        metrics.record_fault(None, started);
        metrics.record_fault(None, started);
        let text = metrics
            .render(&Gauges {
                key_pool_level: Some(3),
                pending_jobs: Some(0),
                ca_expiry_seconds: 1_900_000_000,
                certificates_issued: 7,
                process: ProcessStats::default(),
            })
            .unwrap();
        assert!(text.contains(
            "xkms_requests_total{operation=\"Locate\",result_major=\"Success\",result_minor=\"NoMatch\"} 2\n"
        ), "{text}");
        assert!(text.contains(
            "xkms_requests_total{operation=\"Validate\",result_major=\"Other\",result_minor=\"-\"} 1\n"
        ));
        assert!(text.contains(
            "xkms_requests_total{operation=\"-\",result_major=\"Fault\",result_minor=\"-\"} 2\n"
        ));
        assert!(text.contains(
            "xkms_request_duration_seconds_bucket{operation=\"Locate\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("xkms_request_duration_seconds_count{operation=\"Locate\"} 2\n"));
        assert!(!text.contains("operation=\"Register\""));
        assert!(text.contains("xkms_key_pool_level 3\n"));
        assert!(text.contains("xkms_pending_jobs 0\n"));
        assert!(text.contains(&format!(
            "xkms_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(text.contains("xkms_ca_certificate_expiry_timestamp_seconds 1900000000\n"));
        assert!(text.contains("xkms_certificates_issued_total 7\n"));
        // No /proc reading, no process metrics.
        assert!(!text.contains("process_"), "{text}");
    }

    #[test]
    fn buckets_are_cumulative() {
        let metrics = Metrics::new();
        let h = metrics.durations.get_or_create(&OperationLabels {
            operation: "Locate",
        });
        h.observe(0.0005);
        h.observe(0.003);
        h.observe(2.0);
        drop(h);
        let out = metrics.render(&Gauges::default()).unwrap();
        let bucket = |le: &str| {
            format!("xkms_request_duration_seconds_bucket{{operation=\"Locate\",le=\"{le}\"}}")
        };
        for (le, n) in [
            ("0.001", 1),
            ("0.0025", 1),
            ("0.005", 2),
            ("1", 2),
            ("+Inf", 3),
        ] {
            assert!(
                out.contains(&format!("{} {n}\n", bucket(le))),
                "{le}: {out}"
            );
        }
        assert!(out.contains("_count{operation=\"Locate\"} 3\n"), "{out}");
    }
}
