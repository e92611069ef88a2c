//! `xkms register`.

use crate::report;
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::soap::{Binding, SoapVersion};
use xkms_proto::{Application, KeyUsage, RespondWith, ResponseMechanism, UseKeyWith};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BindingArg {
    Soap12,
    Soap11,
    Bare,
}

impl From<BindingArg> for Binding {
    fn from(b: BindingArg) -> Binding {
        match b {
            BindingArg::Soap12 => Binding::Soap(SoapVersion::Soap12),
            BindingArg::Soap11 => Binding::Soap(SoapVersion::Soap11),
            BindingArg::Bare => Binding::Bare,
        }
    }
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// KeyName to bind (e.g. joe@example.com).
    #[arg(long)]
    key_name: Option<String>,
    /// APPLICATION=IDENTIFIER, e.g. urn:ietf:rfc:2633=joe@example.com (repeatable).
    #[arg(long = "use-key-with", value_parser = parse_use_key_with)]
    use_key_with: Vec<UseKeyWith>,
    /// Key usages: Signature, Encryption, Exchange (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_key_usage)]
    key_usage: Vec<KeyUsage>,
    /// What the result should contain: KeyName, KeyValue, X509Cert, X509Chain, … (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_respond_with, default_value = "X509Cert")]
    respond_with: Vec<RespondWith>,
    /// The authorization code (shared secret).
    #[arg(
        long,
        conflicts_with = "secret_file",
        required_unless_present = "secret_file"
    )]
    secret: Option<String>,
    /// File holding the authorization code.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Pass phrase to revoke the binding later.
    #[arg(long)]
    revocation_phrase: Option<String>,
    /// PEM private key; a new RSA key is generated and written here if the file does not
    /// exist. With --generate-key: where the service-generated key is written (mode 0600).
    #[arg(long)]
    key: PathBuf,
    /// Ask the service to generate the key pair (it returns the private key encrypted
    /// under the authorization code; it is decrypted and written to --key).
    #[arg(long)]
    generate_key: bool,
    /// Size of a generated key.
    #[arg(long, default_value_t = 2048)]
    key_bits: usize,
    /// Write the issued certificate (PEM) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Prepare secrets with the pre-REC rule (lower-case, no spaces) for old services.
    #[arg(long)]
    legacy_secret: bool,
    /// Accept asynchronous processing (ResponseMechanism Pending).
    #[arg(long)]
    pending: bool,
}

pub async fn run(client: &XkmsClient, args: RegisterArgs) -> anyhow::Result<ExitCode> {
    if args.generate_key && args.key.exists() {
        anyhow::bail!(
            "{} exists: --generate-key will not overwrite a key file",
            args.key.display()
        );
    }
    let key = if args.generate_key {
        None
    } else {
        Some(load_or_generate(&args.key, args.key_bits)?)
    };
    let secret = SharedSecret::new(read_secret(args.secret, args.secret_file.as_ref())?);
    let phrase = args.revocation_phrase.map(SharedSecret::new);
    let preparation = if args.legacy_secret {
        SecretPreparation::Legacy
    } else {
        SecretPreparation::SaslPrep
    };
    let params = RegisterParams {
        key: key.as_ref(),
        key_name: args.key_name,
        use_key_with: args.use_key_with,
        key_usage: args.key_usage,
        respond_with: args.respond_with,
        response_mechanism: if args.pending {
            vec![ResponseMechanism::Pending]
        } else {
            vec![]
        },
        secret: &secret,
        preparation: if args.legacy_secret {
            SecretPreparation::Legacy
        } else {
            SecretPreparation::SaslPrep
        },
        revocation_phrase: phrase.as_ref(),
    };
    let registered = client.register(&params).await?;
    let header = &registered.result.result;
    report::result_line(header);
    for binding in &registered.result.key_bindings {
        report::key_binding(binding);
    }
    if args.generate_key && registered.result.private_key.is_some() {
        let key = registered.private_key(&secret, preparation)?;
        write_private(&args.key, key.to_pem().as_bytes())?;
        println!(
            "service-generated RSA-{} private key written to {}",
            key.bits(),
            args.key.display()
        );
    }
    write_certificate(args.out.as_ref(), registered.certificate())?;
    Ok(report::exit_code(header))
}

/// Writes a returned certificate as PEM, if asked to and if there is one.
pub fn write_certificate(out: Option<&PathBuf>, cert: Option<&[u8]>) -> anyhow::Result<()> {
    if let (Some(out), Some(cert)) = (out, cert) {
        std::fs::write(out, xkms_client::key::pem_encode("CERTIFICATE", cert))
            .with_context(|| format!("writing {}", out.display()))?;
        println!("certificate written to {}", out.display());
    }
    Ok(())
}

/// Reads a PEM or DER certificate file.
pub fn read_certificate(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    match std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| xkms_client::key::pem_decode(t, &["CERTIFICATE"]))
    {
        Some(der) => Ok(der),
        None => Ok(bytes),
    }
}

fn load_or_generate(path: &PathBuf, bits: usize) -> anyhow::Result<ClientKey> {
    if path.exists() {
        let pem =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(ClientKey::from_pem(&pem)?);
    }
    let key = ClientKey::generate(bits)?;
    write_private(path, key.to_pem().as_bytes())?;
    println!("generated RSA-{bits} key in {}", path.display());
    Ok(key)
}

/// Writes a file only its owner can read.
pub fn write_private(path: &PathBuf, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(data)?;
    Ok(())
}

pub fn read_secret(secret: Option<String>, file: Option<&PathBuf>) -> anyhow::Result<String> {
    match (secret, file) {
        (Some(s), _) => Ok(s),
        (None, Some(path)) => Ok(std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned()),
        (None, None) => anyhow::bail!("--secret or --secret-file is required"),
    }
}

pub fn parse_use_key_with(s: &str) -> Result<UseKeyWith, String> {
    let (app, id) = s.split_once('=').ok_or("expected APPLICATION=IDENTIFIER")?;
    if app.is_empty() || id.is_empty() {
        return Err("expected APPLICATION=IDENTIFIER".into());
    }
    Ok(UseKeyWith {
        application: Application::from_uri_lenient(app),
        identifier: id.to_owned(),
    })
}

fn parse_key_usage(s: &str) -> Result<KeyUsage, String> {
    KeyUsage::ALL
        .iter()
        .find(|u| short(u.as_uri()).eq_ignore_ascii_case(s) || u.as_uri() == s)
        .copied()
        .ok_or_else(|| "expected Signature, Encryption or Exchange".to_owned())
}

pub fn parse_respond_with(s: &str) -> Result<RespondWith, String> {
    RespondWith::KNOWN
        .iter()
        .find(|r| short(r.as_uri()).eq_ignore_ascii_case(s) || r.as_uri() == s)
        .cloned()
        .ok_or_else(|| "unknown RespondWith value".to_owned())
}

fn short(uri: &str) -> &str {
    uri.rsplit('#').next().unwrap_or(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_arguments_parse() {
        let u = parse_use_key_with("urn:ietf:rfc:2459=C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe")
            .unwrap();
        assert_eq!(u.application, Application::Pkix);
        assert_eq!(u.identifier, "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe");
        assert_eq!(
            parse_respond_with("X509Cert").unwrap(),
            RespondWith::X509Cert
        );
        assert_eq!(
            parse_respond_with("keyvalue").unwrap(),
            RespondWith::KeyValue
        );
        assert!(parse_respond_with("Nope").is_err());
        assert_eq!(parse_key_usage("Signature").unwrap(), KeyUsage::Signature);
        assert!(parse_use_key_with("noequals").is_err());
    }
}
