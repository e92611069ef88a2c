//! `GET /metrics`: Prometheus text exposition (format 0.0.4), written by hand.
//!
//! Counters live in fixed tables of atomics indexed by operation, ResultMajor and
//! ResultMinor, so recording a request is four relaxed `fetch_add`s and never takes a
//! lock. Result values outside the REC vocabularies are counted as `Other`; envelope
//! level failures (SOAP Faults) as `result_major="Fault"`.
//!
//! The gauges are read when scraped: the key pool level, and the number of queued
//! asynchronous jobs. The store has no cheap count of pending jobs, so the latter lists
//! at most [`PENDING_SCAN_LIMIT`] queued records (a value at the limit means "at least").

use crate::http::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use xkms_proto::{ResultMajor, ResultMessage, ResultMinor};
use xkms_service::store::PendingState;

/// Most queued jobs counted per scrape.
pub const PENDING_SCAN_LIMIT: usize = 10_000;

/// Request counters and latency histograms of one server.
pub struct Metrics {
    /// `OPERATIONS × MAJORS × MINORS` counters.
    requests: Box<[AtomicU64]>,
    /// One histogram per operation.
    durations: Box<[Histogram]>,
}

/// What `/metrics` reads from the service when scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Ready keys in the pool; `None` when the service generates no keys.
    pub key_pool_level: Option<usize>,
    /// Queued asynchronous jobs (at most [`PENDING_SCAN_LIMIT`]); `None` if the store
    /// could not be read.
    pub pending_jobs: Option<usize>,
}

/// `GET /metrics`.
pub async fn handler(State(state): State<Arc<AppState>>) -> Response {
    let pending_jobs = match state
        .service
        .list_pending(Some(PendingState::Queued), PENDING_SCAN_LIMIT)
        .await
    {
        Ok(records) => Some(records.len()),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: pending jobs unreadable");
            None
        }
    };
    let gauges = Gauges {
        key_pool_level: state.service.key_pool().map(|p| p.level()),
        pending_jobs,
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response()
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            requests: (0..OPERATIONS.len() * MAJORS.len() * MINORS.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            durations: (0..OPERATIONS.len()).map(|_| Histogram::new()).collect(),
        }
    }

    /// Counts a request answered with an XKMS result. `operation` is `Locate`, …, or the
    /// request element name (`LocateRequest`); anything else counts as `-`.
    pub fn record_result(&self, operation: &str, result: &ResultMessage, started: Instant) {
        let header = xkms_service::service::result_abstract(result);
        let major = major_index(&header.result_major);
        let minor = header.result_minor.as_ref().map_or(0, minor_index);
        self.record(operation_index(operation), major, minor, started);
    }

    /// Counts a request answered with a SOAP Fault (no XKMS result).
    pub fn record_fault(&self, operation: &str, started: Instant) {
        self.record(operation_index(operation), FAULT, 0, started);
    }

    /// The exposition text.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP xkms_requests_total XKMS requests answered, by operation and result.\n\
             # TYPE xkms_requests_total counter\n",
        );
        for (o, operation) in OPERATIONS.iter().enumerate() {
            for (j, major) in MAJORS.iter().enumerate() {
                for (n, minor) in MINORS.iter().enumerate() {
                    let count = self.requests[slot(o, j, n)].load(Ordering::Relaxed);
                    if count > 0 {
                        let _ = writeln!(
                            out,
                            "xkms_requests_total{{operation=\"{operation}\",result_major=\"{major}\",result_minor=\"{minor}\"}} {count}"
                        );
                    }
                }
            }
        }
        out.push_str(
            "# HELP xkms_request_duration_seconds Time from request received to result ready.\n\
             # TYPE xkms_request_duration_seconds histogram\n",
        );
        for (operation, histogram) in OPERATIONS.iter().zip(self.durations.iter()) {
            histogram.render(operation, &mut out);
        }
        if let Some(level) = gauges.key_pool_level {
            let _ = write!(
                out,
                "# HELP xkms_key_pool_level Pre-generated RSA keys ready for service-generated registrations.\n\
                 # TYPE xkms_key_pool_level gauge\n\
                 xkms_key_pool_level {level}\n"
            );
        }
        if let Some(pending) = gauges.pending_jobs {
            let _ = write!(
                out,
                "# HELP xkms_pending_jobs Asynchronous jobs queued for a worker (counted up to {PENDING_SCAN_LIMIT}).\n\
                 # TYPE xkms_pending_jobs gauge\n\
                 xkms_pending_jobs {pending}\n"
            );
        }
        out
    }

    fn record(&self, operation: usize, major: usize, minor: usize, started: Instant) {
        self.requests[slot(operation, major, minor)].fetch_add(1, Ordering::Relaxed);
        self.durations[operation].observe(started.elapsed().as_secs_f64());
    }
}

/// Operation label values; the last one (`-`) is for requests that could not be read.
const OPERATIONS: [&str; 10] = [
    "Locate", "Validate", "Register", "Reissue", "Recover", "Revoke", "Compound", "Status",
    "Pending", "-",
];

/// ResultMajor label values: the REC's, then `Other`, then `Fault` (no XKMS result).
const MAJORS: [&str; 8] = [
    "Success",
    "VersionMismatch",
    "Sender",
    "Receiver",
    "Represent",
    "Pending",
    "Other",
    "Fault",
];
const FAULT: usize = 7;

/// ResultMinor label values: none (`-`), the REC's, then `Other`.
const MINORS: [&str; 16] = [
    "-",
    "NoMatch",
    "TooManyResponses",
    "Incomplete",
    "Failure",
    "Refused",
    "NoAuthentication",
    "MessageNotSupported",
    "UnknownResponseId",
    "RepresentRequired",
    "NotSynchronous",
    "OptionalElementNotSupported",
    "ProofOfPossessionRequired",
    "TimeInstantNotSupported",
    "TimeInstantOutOfRange",
    "Other",
];

/// Upper bounds (seconds) of the latency buckets; `+Inf` is implicit.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

fn slot(operation: usize, major: usize, minor: usize) -> usize {
    (operation * MAJORS.len() + major) * MINORS.len() + minor
}

fn operation_index(name: &str) -> usize {
    let name = name.strip_suffix("Request").unwrap_or(name);
    OPERATIONS
        .iter()
        .position(|o| *o == name)
        .unwrap_or(OPERATIONS.len() - 1)
}

fn major_index(major: &ResultMajor) -> usize {
    match major {
        ResultMajor::Success => 0,
        ResultMajor::VersionMismatch => 1,
        ResultMajor::Sender => 2,
        ResultMajor::Receiver => 3,
        ResultMajor::Represent => 4,
        ResultMajor::Pending => 5,
        ResultMajor::Other(_) => 6,
    }
}

fn minor_index(minor: &ResultMinor) -> usize {
    match minor {
        ResultMinor::NoMatch => 1,
        ResultMinor::TooManyResponses => 2,
        ResultMinor::Incomplete => 3,
        ResultMinor::Failure => 4,
        ResultMinor::Refused => 5,
        ResultMinor::NoAuthentication => 6,
        ResultMinor::MessageNotSupported => 7,
        ResultMinor::UnknownResponseId => 8,
        ResultMinor::RepresentRequired => 9,
        ResultMinor::NotSynchronous => 10,
        ResultMinor::OptionalElementNotSupported => 11,
        ResultMinor::ProofOfPossessionRequired => 12,
        ResultMinor::TimeInstantNotSupported => 13,
        ResultMinor::TimeInstantOutOfRange => 14,
        ResultMinor::Other(_) => 15,
    }
}

/// A latency histogram: per-bucket counts (made cumulative when rendered), the count
/// and the sum in microseconds.
struct Histogram {
    /// `BUCKETS.len()` finite buckets, then `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, seconds: f64) {
        let bucket = BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int cast: a negative or absurd duration cannot wrap.
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, operation: &str, out: &mut String) {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return;
        }
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(
                out,
                "xkms_request_duration_seconds_bucket{{operation=\"{operation}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "xkms_request_duration_seconds_sum{{operation=\"{operation}\"}} {sum}\n\
             xkms_request_duration_seconds_count{{operation=\"{operation}\"}} {cumulative}"
        );
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
        metrics.record_result("Locate", &ok, started);
        metrics.record_result("LocateRequest", &ok, started);
        metrics.record_result(
            "Validate",
            &locate_result(ResultMajor::Other("urn:x".into()), None),
            started,
        );
        metrics.record_fault("-", started);
        let text = metrics.render(&Gauges {
            key_pool_level: Some(3),
            pending_jobs: Some(0),
        });
        assert!(text.contains(
            "xkms_requests_total{operation=\"Locate\",result_major=\"Success\",result_minor=\"NoMatch\"} 2\n"
        ));
        assert!(text.contains(
            "xkms_requests_total{operation=\"Validate\",result_major=\"Other\",result_minor=\"-\"} 1\n"
        ));
        assert!(text.contains(
            "xkms_requests_total{operation=\"-\",result_major=\"Fault\",result_minor=\"-\"} 1\n"
        ));
        assert!(text.contains(
            "xkms_request_duration_seconds_bucket{operation=\"Locate\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("xkms_request_duration_seconds_count{operation=\"Locate\"} 2\n"));
        assert!(!text.contains("operation=\"Register\""));
        assert!(text.contains("xkms_key_pool_level 3\n"));
        assert!(text.contains("xkms_pending_jobs 0\n"));
    }

    #[test]
    fn buckets_are_cumulative() {
        let h = Histogram::new();
        h.observe(0.0005);
        h.observe(0.003);
        h.observe(2.0);
        let mut out = String::new();
        h.render("Locate", &mut out);
        assert!(out.contains("le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("le=\"0.0025\"} 1\n"), "{out}");
        assert!(out.contains("le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("_count{operation=\"Locate\"} 3\n"), "{out}");
    }
}
