//! Argument types and parsers the commands share.

use crate::report::short;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
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

/// The authorization code of an X-KRSS request.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// The authorization code (shared secret) the operator issued; prefer --secret-file,
    /// command lines are visible to other users.
    #[arg(
        long,
        conflicts_with = "secret_file",
        required_unless_present = "secret_file"
    )]
    secret: Option<String>,
    /// File holding the authorization code (a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Prepare the code with the pre-REC rule (lower case, spaces removed) for old services.
    #[arg(long)]
    legacy_secret: bool,
}

impl SecretArgs {
    /// The secret and how to prepare it.
    pub fn read(&self) -> anyhow::Result<(SharedSecret, SecretPreparation)> {
        let secret = crate::files::read_secret(self.secret.clone(), self.secret_file.as_deref())?;
        Ok((SharedSecret::new(secret), preparation(self.legacy_secret)))
    }
}

pub fn preparation(legacy: bool) -> SecretPreparation {
    if legacy {
        SecretPreparation::Legacy
    } else {
        SecretPreparation::SaslPrep
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
