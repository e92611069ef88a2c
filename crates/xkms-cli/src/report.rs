//! How results are printed.

use std::process::ExitCode;
use x509_parser::prelude::{FromDer, X509Certificate};
use xkms_proto::{KeyBinding, ResultAbstract, ResultMajor};

fn short(uri: &str) -> &str {
    uri.rsplit('#').next().unwrap_or(uri)
}

pub fn result_line(header: &ResultAbstract) {
    let minor = header
        .result_minor
        .as_ref()
        .map(|m| format!("/{}", short(m.as_uri())))
        .unwrap_or_default();
    println!("result: {}{minor}", short(header.result_major.as_uri()));
}

pub fn key_binding(binding: &KeyBinding) {
    let status = &binding.status;
    let reasons = |rs: &[xkms_proto::Reason]| {
        rs.iter()
            .map(|r| short(r.as_uri()).to_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "key binding {}: status {} valid[{}] indeterminate[{}] invalid[{}]",
        binding.core.id.as_deref().unwrap_or("-"),
        short(status.status_value.as_uri()),
        reasons(&status.valid_reasons),
        reasons(&status.indeterminate_reasons),
        reasons(&status.invalid_reasons)
    );
    let Some(ki) = &binding.core.key_info else {
        return;
    };
    for name in &ki.key_names {
        println!("  key name: {name}");
    }
    for der in ki.x509_data.iter().flat_map(|d| d.certificates.iter()) {
        match X509Certificate::from_der(der) {
            Ok((_, cert)) => println!(
                "  certificate: subject {} serial {} valid {} to {}",
                cert.subject(),
                cert.raw_serial_as_string().replace(':', ""),
                cert.validity().not_before,
                cert.validity().not_after
            ),
            Err(_) => println!("  certificate: (unreadable)"),
        }
    }
}

/// 0 for Success, 1 for any other final result.
pub fn exit_code(header: &ResultAbstract) -> ExitCode {
    if header.result_major == ResultMajor::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
