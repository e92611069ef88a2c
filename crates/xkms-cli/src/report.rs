//! How results are printed, and the exit status they give.
//!
//! Every time is printed in one format: RFC 3339 in UTC (`2030-01-01T00:00:00Z`).

use crate::explain::{Operation, explain};
use crate::output::outln;
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use x509_parser::prelude::{FromDer, X509Certificate};
use xkms_proto::{KeyBinding, ResultAbstract, ResultMajor, Status};

/// Exit status: the service answered with a result other than Success.
pub const EXIT_RESULT: u8 = 1;
/// Exit status: accepted for asynchronous processing, not finished yet.
pub const EXIT_PENDING: u8 = 3;

/// The part of a REC URI after `#`.
pub fn short(uri: &str) -> &str {
    uri.rsplit('#').next().unwrap_or(uri)
}

/// An instant as RFC 3339 in UTC.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `result: Major/Minor`, then a `hint:` line explaining any result but a plain Success.
pub fn result_line(op: Operation, header: &ResultAbstract) {
    let minor = header
        .result_minor
        .as_ref()
        .map(|m| format!("/{}", short(m.as_uri())))
        .unwrap_or_default();
    outln!("result: {}{minor}", short(header.result_major.as_uri()));
    if let Some(hint) = explain(op, &header.result_major, header.result_minor.as_ref()) {
        outln!("hint: {hint}");
    }
}

/// A key binding with its status, names and certificates.
pub fn key_binding(binding: &KeyBinding) {
    outln!(
        "key binding {}: {}",
        binding.core.id.as_deref().unwrap_or("-"),
        status(&binding.status)
    );
    let Some(ki) = &binding.core.key_info else {
        return;
    };
    for name in &ki.key_names {
        outln!("  key name: {name}");
    }
    for der in ki.x509_data.iter().flat_map(|d| d.certificates.iter()) {
        certificate(der);
    }
}

/// `status Valid valid[…] indeterminate[…] invalid[…]`, plus `(revoked)` when the
/// revocation status is Invalid.
pub fn status(status: &Status) -> String {
    let reasons = |rs: &[xkms_proto::Reason]| {
        rs.iter()
            .map(|r| short(r.as_uri()).to_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    let revoked = status
        .invalid_reasons
        .contains(&xkms_proto::Reason::RevocationStatus);
    format!(
        "status {} valid[{}] indeterminate[{}] invalid[{}]{}",
        short(status.status_value.as_uri()),
        reasons(&status.valid_reasons),
        reasons(&status.indeterminate_reasons),
        reasons(&status.invalid_reasons),
        if revoked { " (revoked)" } else { "" }
    )
}

/// One line per certificate: subject, serial, validity.
pub fn certificate(der: &[u8]) {
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => {
            let at = |t: x509_parser::time::ASN1Time| rfc3339(t.to_datetime());
            outln!(
                "  certificate: subject {} serial {} valid {} to {}",
                cert.subject(),
                cert.raw_serial_as_string().replace(':', ""),
                at(cert.validity().not_before),
                at(cert.validity().not_after)
            );
        }
        Err(_) => outln!("  certificate: (unreadable)"),
    }
}

/// 0 for Success, 3 for Pending, 1 for any other final result.
pub fn exit_code(header: &ResultAbstract) -> ExitCode {
    match header.result_major {
        ResultMajor::Success => ExitCode::SUCCESS,
        ResultMajor::Pending => ExitCode::from(EXIT_PENDING),
        _ => ExitCode::from(EXIT_RESULT),
    }
}

/// After a Pending result: the ids and the commands that finish the request.
pub fn next_commands(response_id: &str, request_id: Option<&str>, fetch_args: &str) {
    let request = request_id
        .map(|id| format!(" --request-id {id}"))
        .unwrap_or_default();
    outln!("response id: {response_id}");
    if let Some(id) = request_id {
        outln!("request id: {id}");
    }
    outln!("next: xkms pending status {response_id}{request}");
    outln!("then: xkms pending fetch {response_id}{request}{fetch_args}");
}
