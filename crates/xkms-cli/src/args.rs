//! Argument types and parsers the commands share.

use crate::report::short;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use xkms_client::BindingRef;
use xkms_proto::soap::{Binding, SoapVersion};
use xkms_proto::{Application, KeyUsage, RespondWith, UseKeyWith};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

/// How requests are wrapped on the wire.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BindingArg {
    /// SOAP 1.2 (application/soap+xml).
    Soap12,
    /// SOAP 1.1 (text/xml with a SOAPAction header).
    Soap11,
    /// The bare XKMS element, no envelope.
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

/// The authorization code of an X-KRSS request: `--secret` or `--secret-file` (not both)
/// and `--legacy-secret`. Optional as it stands; a command that cannot do without it
/// flattens it and adds `#[command(mut_group("secret_source", required))]`.
#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(flatten)]
    source: SecretSource,
    /// Prepare the code (or revocation phrase) with the pre-REC rule (lower case, spaces
    /// removed) for old services.
    #[arg(long)]
    legacy_secret: bool,
}

#[derive(Debug, Args)]
#[group(id = "secret_source", multiple = false)]
struct SecretSource {
    /// The authorization code (shared secret) the operator issued; prefer --secret-file,
    /// command lines are visible to other users.
    #[arg(long)]
    secret: Option<String>,
    /// File holding the authorization code (a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

/// For `#[command(mut_group("secret_source", required))]`: the secret group required.
pub fn required(group: clap::ArgGroup) -> clap::ArgGroup {
    group.required(true)
}

impl SecretArgs {
    /// The secret and how to prepare it.
    pub fn read(&self) -> anyhow::Result<(SharedSecret, SecretPreparation)> {
        let secret = self
            .read_optional()?
            .ok_or_else(|| anyhow::anyhow!("--secret or --secret-file is required"))?;
        Ok((secret, self.preparation()))
    }

    /// The secret, if one was given.
    pub fn read_optional(&self) -> anyhow::Result<Option<SharedSecret>> {
        let secret = match (&self.source.secret, &self.source.secret_file) {
            (Some(secret), _) => secret.clone(),
            (None, Some(path)) => crate::files::read_secret_file(path)?,
            (None, None) => return Ok(None),
        };
        Ok(Some(SharedSecret::new(secret)))
    }

    /// How to prepare the secret (or a revocation phrase).
    pub fn preparation(&self) -> SecretPreparation {
        if self.legacy_secret {
            SecretPreparation::Legacy
        } else {
            SecretPreparation::SaslPrep
        }
    }
}

/// The binding an operation names: a certificate of it, or its KeyName.
#[derive(Debug, Args)]
pub struct BindingArgs {
    /// A certificate of the binding (PEM or DER).
    #[arg(long, value_name = "FILE", required_unless_present = "key_name")]
    cert: Option<PathBuf>,
    /// The binding's KeyName (when there is no certificate at hand).
    #[arg(long)]
    key_name: Option<String>,
}

impl BindingArgs {
    /// The reference, the certificate read and checked.
    pub fn binding_ref(&self) -> anyhow::Result<BindingRef> {
        Ok(BindingRef {
            certificate: self
                .cert
                .as_deref()
                .map(crate::files::read_certificate)
                .transpose()?,
            key_name: self.key_name.clone(),
            ..Default::default()
        })
    }
}

/// Polling while an asynchronous request is pending.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Seconds between status polls while waiting.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    poll_seconds: f64,
    /// Stop waiting after this many polls (the request stays pending: exit 3).
    #[arg(long, default_value_t = 600)]
    max_polls: u32,
}

impl WaitArgs {
    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.poll_seconds.max(0.05))
    }

    pub fn max_polls(&self) -> u32 {
        self.max_polls.max(1)
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

pub fn parse_key_usage(s: &str) -> Result<KeyUsage, String> {
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
        .ok_or_else(|| {
            "expected KeyName, KeyValue, X509Cert, X509Chain, X509CRL, RetrievalMethod, PGP, \
             PGPWeb, SPKI or PrivateKey"
                .to_owned()
        })
}

pub fn parse_instant(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| "expected an RFC 3339 time, e.g. 2030-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        let u = parse_use_key_with("urn:ietf:rfc:2459=C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe")
            .unwrap();
        assert_eq!(u.application, Application::Pkix);
        assert_eq!(u.identifier, "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe");
        assert_eq!(
            parse_use_key_with("urn:ietf:rfc:2633=bob@example.com")
                .unwrap()
                .application,
            Application::Smime
        );
        assert!(parse_use_key_with("noequals").is_err());
        assert_eq!(
            parse_respond_with("X509Cert").unwrap(),
            RespondWith::X509Cert
        );
        assert_eq!(
            parse_respond_with("keyvalue").unwrap(),
            RespondWith::KeyValue
        );
        assert_eq!(parse_respond_with("X509CRL").unwrap(), RespondWith::X509Crl);
        assert!(parse_respond_with("Nope").is_err());
        assert_eq!(parse_key_usage("Signature").unwrap(), KeyUsage::Signature);
        assert_eq!(parse_key_usage("encryption").unwrap(), KeyUsage::Encryption);
        assert!(parse_instant("2030-01-01T00:00:00Z").is_ok());
        assert!(parse_instant("yesterday").is_err());
    }
}
