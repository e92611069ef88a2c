//! `xkms locate`.

use crate::report;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate};
use xkms_client::XkmsClient;
use xkms_client::locate::LocateParams;
use xkms_proto::{Application, KeyUsage, RespondWith, UnverifiedKeyBinding, UseKeyWith};

#[derive(Debug, Args)]
pub struct LocateArgs {
    /// KeyName to look for (repeatable; all must match).
    #[arg(long)]
    key_name: Vec<String>,
    /// APPLICATION=IDENTIFIER, e.g. urn:ietf:rfc:2633=bob@example.com (repeatable; any matches).
    #[arg(long = "use-key-with", value_parser = parse_use_key_with)]
    use_key_with: Vec<UseKeyWith>,
    /// Usages the key must permit: Signature, Encryption, Exchange (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_key_usage)]
    key_usage: Vec<KeyUsage>,
    /// Certificate (PEM or DER) whose key to locate.
    #[arg(long)]
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
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

pub async fn run(client: &XkmsClient, args: LocateArgs) -> anyhow::Result<ExitCode> {
    let out_dir = args.out_dir.clone();
    let params = params(args)?;
    let result = client.locate(&params).await?;
    print_result(&result, out_dir.as_deref())?;
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

/// Prints a LocateResult (and writes certificates into `out_dir`).
pub fn print_result(
    result: &xkms_proto::LocateResult,
    out_dir: Option<&Path>,
) -> anyhow::Result<()> {
    report::result_line(&result.result);
    for binding in &result.unverified_key_bindings {
        print_binding(binding);
        if let Some(dir) = out_dir {
            write_certificates(dir, binding)?;
        }
    }
    Ok(())
}

fn print_binding(binding: &UnverifiedKeyBinding) {
    let core = &binding.core;
    println!("key binding {}", core.id.as_deref().unwrap_or("-"));
    if !core.key_usage.is_empty() {
        let usages: Vec<&str> = core.key_usage.iter().map(|u| short(u.as_uri())).collect();
        println!("  key usage: {}", usages.join(","));
    }
    for ukw in &core.use_key_with {
        println!(
            "  use key with: {} {}",
            ukw.application.as_uri(),
            ukw.identifier
        );
    }
    if let Some(vi) = &binding.validity_interval {
        let show = |t: Option<OffsetDateTime>| {
            t.and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "  validity: {} to {}",
            show(vi.not_before),
            show(vi.not_on_or_after)
        );
    }
    let Some(ki) = &core.key_info else {
        return;
    };
    for name in &ki.key_names {
        println!("  key name: {name}");
    }
    if !ki.key_values.is_empty() {
        println!("  key value: present");
    }
    for rm in &ki.retrieval_methods {
        println!("  retrieval method: {}", rm.uri);
    }
    for der in ki.x509_data.iter().flat_map(|d| d.certificates.iter()) {
        print_certificate(der);
    }
}

pub(crate) fn print_certificate(der: &[u8]) {
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

fn write_certificates(dir: &Path, binding: &UnverifiedKeyBinding) -> anyhow::Result<()> {
    let Some(ki) = &binding.core.key_info else {
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let id = binding.core.id.as_deref().unwrap_or("binding");
    // The Id comes from the service: keep only characters safe in a file name.
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let certs = ki.x509_data.iter().flat_map(|d| d.certificates.iter());
    for (i, der) in certs.enumerate() {
        let path = dir.join(format!("{id}-{i}.pem"));
        std::fs::write(&path, xkms_client::key::pem_encode("CERTIFICATE", der))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("  written: {}", path.display());
    }
    Ok(())
}

/// Every certificate in a PEM file (or the single certificate of a DER file).
pub(crate) fn read_certificates(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !bytes.starts_with(b"-----") && !bytes.iter().take(64).any(|b| *b == b'-') {
        return Ok(vec![bytes]);
    }
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(&bytes) {
        let pem = pem.with_context(|| format!("reading PEM in {}", path.display()))?;
        if pem.label == "CERTIFICATE" {
            out.push(pem.contents);
        }
    }
    if out.is_empty() {
        anyhow::bail!("no certificate in {}", path.display());
    }
    Ok(out)
}

pub(crate) fn parse_use_key_with(s: &str) -> Result<UseKeyWith, String> {
    let (app, id) = s.split_once('=').ok_or("expected APPLICATION=IDENTIFIER")?;
    if app.is_empty() || id.is_empty() {
        return Err("expected APPLICATION=IDENTIFIER".into());
    }
    Ok(UseKeyWith {
        application: Application::from_uri_lenient(app),
        identifier: id.to_owned(),
    })
}

pub(crate) fn parse_key_usage(s: &str) -> Result<KeyUsage, String> {
    KeyUsage::ALL
        .iter()
        .find(|u| short(u.as_uri()).eq_ignore_ascii_case(s) || u.as_uri() == s)
        .copied()
        .ok_or_else(|| "expected Signature, Encryption or Exchange".to_owned())
}

pub(crate) fn parse_respond_with(s: &str) -> Result<RespondWith, String> {
    RespondWith::KNOWN
        .iter()
        .find(|r| short(r.as_uri()).eq_ignore_ascii_case(s) || r.as_uri() == s)
        .cloned()
        .ok_or_else(|| "unknown RespondWith value".to_owned())
}

pub(crate) fn parse_instant(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| "expected an RFC 3339 time".to_owned())
}

fn short(uri: &str) -> &str {
    uri.rsplit('#').next().unwrap_or(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        assert_eq!(
            parse_use_key_with("urn:ietf:rfc:2633=bob@example.com")
                .unwrap()
                .application,
            Application::Smime
        );
        assert_eq!(parse_key_usage("encryption").unwrap(), KeyUsage::Encryption);
        assert_eq!(parse_respond_with("X509CRL").unwrap(), RespondWith::X509Crl);
        assert!(parse_instant("2030-01-01T00:00:00Z").is_ok());
        assert!(parse_instant("yesterday").is_err());
    }

    #[test]
    fn pem_files_may_hold_chains() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.pem");
        let body = format!(
            "{}{}",
            xkms_client::key::pem_encode("CERTIFICATE", &[1, 2, 3]),
            xkms_client::key::pem_encode("CERTIFICATE", &[4, 5])
        );
        std::fs::write(&path, body).unwrap();
        assert_eq!(
            read_certificates(&path).unwrap(),
            vec![vec![1u8, 2, 3], vec![4u8, 5]]
        );
        let der = dir.path().join("c.der");
        std::fs::write(&der, [0x30u8, 0x82, 0x01]).unwrap();
        assert_eq!(
            read_certificates(&der).unwrap(),
            vec![vec![0x30u8, 0x82, 0x01]]
        );
    }
}
