//! `xkms locate`.
//!
//! A LocateResult carries *unverified* key bindings: the REC gives them no Status. So
//! that a revoked binding is not shown as if it were usable, `locate` asks the service
//! for each returned certificate's status with one CompoundRequest of ValidateRequests
//! (at the same `--at` instant) and prints it with the binding; `--no-status` skips it.

use crate::args::{parse_instant, parse_key_usage, parse_respond_with, parse_use_key_with};
use crate::explain::Operation;
use crate::files::{read_certificates, write_certificate};
use crate::output::outln;
use crate::report;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::OffsetDateTime;
use xkms_client::XkmsClient;
use xkms_client::locate::LocateParams;
use xkms_client::validate::ValidateParams;
use xkms_proto::{
    InnerRequest, InnerResult, KeyUsage, RespondWith, ResultMajor, Status, UnverifiedKeyBinding,
    UseKeyWith,
};

#[derive(Debug, Args)]
pub struct LocateArgs {
    /// KeyName to look for (repeatable; all must match).
    #[arg(long)]
    key_name: Vec<String>,
    /// APPLICATION=IDENTIFIER, e.g. urn:ietf:rfc:2633=bob@example.com (repeatable; any matches).
    #[arg(long = "use-key-with", value_name = "APP=ID", value_parser = parse_use_key_with)]
    use_key_with: Vec<UseKeyWith>,
    /// Usages the key must permit: Signature, Encryption, Exchange (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_key_usage)]
    key_usage: Vec<KeyUsage>,
    /// Certificate (PEM or DER) whose key to locate.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// What to return: KeyName, KeyValue, X509Cert, X509Chain, X509CRL, RetrievalMethod… (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with,
          default_value = "KeyName,KeyValue,X509Cert")]
    respond_with: Vec<RespondWith>,
    /// Most key bindings to return (ResponseLimit).
    #[arg(long)]
    limit: Option<u32>,
    /// Describe the bindings as of this instant (RFC 3339).
    #[arg(long, value_parser = parse_instant)]
    at: Option<OffsetDateTime>,
    /// Write every returned certificate (PEM) into this directory.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Do not ask the service for each binding's status (one Validate per certificate,
    /// sent together as a CompoundRequest).
    #[arg(long)]
    no_status: bool,
}

pub async fn run(client: &XkmsClient, args: LocateArgs) -> anyhow::Result<ExitCode> {
    let out_dir = args.out_dir.clone();
    let with_status = !args.no_status;
    let at = args.at;
    let params = params(args)?;
    let result = client.locate(&params).await?;
    let statuses = if with_status {
        statuses(client, &result.unverified_key_bindings, at).await?
    } else {
        Vec::new()
    };
    // Files first, output after: a closed stdout must not lose them.
    let written = match out_dir {
        Some(dir) => write_certificates(&dir, &result.unverified_key_bindings)?,
        None => Vec::new(),
    };
    print_result(&result, &statuses);
    for path in written {
        outln!("written: {}", path.display());
    }
    Ok(report::exit_code(&result.result))
}

/// The request parameters the arguments describe.
pub fn params(args: LocateArgs) -> anyhow::Result<LocateParams> {
    let certificates = match &args.cert {
        Some(path) => read_certificates(path)?,
        None => Vec::new(),
    };
    Ok(LocateParams {
        key_names: args.key_name,
        use_key_with: args.use_key_with,
        key_usage: args.key_usage,
        certificates,
        key_value: None,
        respond_with: args.respond_with,
        response_limit: args.limit,
        time_instant: args.at,
    })
}

/// What the service says about each binding's certificate, in binding order.
pub enum BindingStatus {
    Known(Status),
    /// The binding came without a certificate (RespondWith has no X509Cert).
    NoCertificate,
    /// The Validate was not answered with a status (the code says why).
    Unknown(String),
}

/// One ValidateRequest per binding with a certificate, sent as one CompoundRequest.
async fn statuses(
    client: &XkmsClient,
    bindings: &[UnverifiedKeyBinding],
    at: Option<OffsetDateTime>,
) -> anyhow::Result<Vec<BindingStatus>> {
    let certificates: Vec<Option<Vec<u8>>> = bindings
        .iter()
        .map(|b| certificates_of(b).next().cloned())
        .collect();
    let requests: Vec<InnerRequest> = certificates
        .iter()
        .flatten()
        .map(|cert| {
            InnerRequest::Validate(client.validate_request(&ValidateParams {
                certificates: vec![cert.clone()],
                time_instant: at,
                ..Default::default()
            }))
        })
        .collect();
    if requests.is_empty() {
        return Ok(bindings
            .iter()
            .map(|_| BindingStatus::NoCertificate)
            .collect());
    }
    let compound = client
        .compound(requests, false, |doc, _| Ok(doc), |_| {})
        .await
        .context("asking for the bindings' status (--no-status skips it)")?;
    let mut answers = compound.results.into_iter();
    Ok(certificates
        .iter()
        .map(|cert| match (cert, answers.next()) {
            (None, _) => BindingStatus::NoCertificate,
            (Some(_), Some(InnerResult::Validate(r))) => {
                match (&r.result.result_major, r.key_bindings.into_iter().next()) {
                    (ResultMajor::Success, Some(binding)) => BindingStatus::Known(binding.status),
                    _ => BindingStatus::Unknown(code(&r.result)),
                }
            }
            (Some(_), _) => BindingStatus::Unknown(code(&compound.result)),
        })
        .collect())
}

fn code(header: &xkms_proto::ResultAbstract) -> String {
    let minor = header
        .result_minor
        .as_ref()
        .map(|m| format!("/{}", report::short(m.as_uri())))
        .unwrap_or_default();
    format!("{}{minor}", report::short(header.result_major.as_uri()))
}

/// Prints a LocateResult; `statuses` (when not empty) pairs with its bindings.
pub fn print_result(result: &xkms_proto::LocateResult, statuses: &[BindingStatus]) {
    report::result_line(Operation::Locate, &result.result);
    for (i, binding) in result.unverified_key_bindings.iter().enumerate() {
        print_binding(binding, statuses.get(i));
    }
}

fn print_binding(binding: &UnverifiedKeyBinding, status: Option<&BindingStatus>) {
    let core = &binding.core;
    outln!("key binding {}", core.id.as_deref().unwrap_or("-"));
    match status {
        Some(BindingStatus::Known(s)) => outln!("  {}", report::status(s)),
        Some(BindingStatus::NoCertificate) => {
            outln!("  status not checked (no certificate returned: add X509Cert to --respond-with)")
        }
        Some(BindingStatus::Unknown(code)) => outln!("  status unknown (Validate answered {code})"),
        None => {}
    }
    if !core.key_usage.is_empty() {
        let usages: Vec<&str> = core
            .key_usage
            .iter()
            .map(|u| report::short(u.as_uri()))
            .collect();
        outln!("  key usage: {}", usages.join(","));
    }
    for ukw in &core.use_key_with {
        outln!(
            "  use key with: {} {}",
            ukw.application.as_uri(),
            ukw.identifier
        );
    }
    if let Some(vi) = &binding.validity_interval {
        let show = |t: Option<OffsetDateTime>| t.map(report::rfc3339).unwrap_or_else(|| "-".into());
        outln!(
            "  validity: {} to {}",
            show(vi.not_before),
            show(vi.not_on_or_after)
        );
    }
    let Some(ki) = &core.key_info else {
        return;
    };
    for name in &ki.key_names {
        outln!("  key name: {name}");
    }
    if !ki.key_values.is_empty() {
        outln!("  key value: present");
    }
    for rm in &ki.retrieval_methods {
        outln!("  retrieval method: {}", rm.uri);
    }
    for der in certificates_of(binding) {
        report::certificate(der);
    }
}

fn certificates_of(binding: &UnverifiedKeyBinding) -> impl Iterator<Item = &Vec<u8>> {
    binding
        .core
        .key_info
        .iter()
        .flat_map(|ki| ki.x509_data.iter())
        .flat_map(|d| d.certificates.iter())
}

fn write_certificates(
    dir: &Path,
    bindings: &[UnverifiedKeyBinding],
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for binding in bindings {
        let id = binding.core.id.as_deref().unwrap_or("binding");
        // The Id comes from the service: keep only characters safe in a file name.
        let id: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        for (i, der) in certificates_of(binding).enumerate() {
            let path = dir.join(format!("{id}-{i}.pem"));
            write_certificate(&path, der)?;
            written.push(path);
        }
    }
    Ok(written)
}
