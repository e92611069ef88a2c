//! Protocol options every command shares: two-phase, request signing, signed results.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use xkms_client::key::pem_decode;
use xkms_client::{ProtocolOptions, ResultTrust};

#[derive(Debug, Args)]
pub struct ProtocolArgs {
    /// Offer the two-phase protocol (Represent/Nonce) and complete it when the service asks.
    #[arg(long, global = true)]
    two_phase: bool,
    /// Sign requests: KEY.pem,CERT.pem (the certificate file may hold the chain, leaf first).
    #[arg(long, global = true, value_name = "KEY.pem,CERT.pem")]
    sign_with: Option<String>,
    /// Ask the service to echo our request signature (needs --sign-with) and check it.
    #[arg(long, global = true)]
    request_signature_value: bool,
    /// Require results signed with the service's signing certificate in this PEM file
    /// (`xkmsd admin signing-certificate`); with --signer-name, the file holds the CA
    /// instead and the signer is named.
    #[arg(long, global = true, value_name = "SIGNER.pem")]
    verify_with: Option<PathBuf>,
    /// With --verify-with CA.pem: the subject the signing certificate must carry (RFC
    /// 4514, e.g. "CN=XKMS Service"); any certificate of that CA with another subject is
    /// refused.
    #[arg(long, global = true, value_name = "DN", requires = "verify_with")]
    signer_name: Option<String>,
}

impl ProtocolArgs {
    pub fn options(&self) -> anyhow::Result<ProtocolOptions> {
        let signer = match &self.sign_with {
            None => None,
            Some(spec) => {
                let (key, cert) = spec
                    .split_once(',')
                    .context("--sign-with takes KEY.pem,CERT.pem")?;
                let key_pem =
                    std::fs::read_to_string(key).with_context(|| format!("reading {key}"))?;
                let key_der = zeroize::Zeroizing::new(
                    pem_decode(&key_pem, &["PRIVATE KEY"])
                        .context("no PRIVATE KEY (PKCS#8) in the key file")?,
                );
                let chain = certificates(
                    &std::fs::read_to_string(cert).with_context(|| format!("reading {cert}"))?,
                );
                anyhow::ensure!(!chain.is_empty(), "no CERTIFICATE in {cert}");
                Some(
                    xkms_xmlsec::MessageSigner::rsa(&key_der, chain.clone())
                        .or_else(|_| xkms_xmlsec::MessageSigner::ecdsa_p256(&key_der, chain))
                        .context("the key does not fit the certificate (RSA or ECDSA P-256)")?,
                )
            }
        };
        let result_trust = match &self.verify_with {
            None => ResultTrust::Unchecked,
            Some(path) => {
                let certs = certificates(
                    &std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                );
                anyhow::ensure!(!certs.is_empty(), "no CERTIFICATE in {}", path.display());
                match &self.signer_name {
                    None => ResultTrust::Pinned(certs),
                    Some(subject) => ResultTrust::IssuedTo {
                        issuers: certs,
                        subject: subject.clone(),
                    },
                }
            }
        };
        Ok(ProtocolOptions {
            two_phase: self.two_phase,
            signer,
            request_signature_value: self.request_signature_value,
            result_trust,
        })
    }
}

/// Every CERTIFICATE block of a PEM text, in order.
fn certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(der) = pem_decode(rest, &["CERTIFICATE"]) {
        out.push(der);
        match rest.find("-----END CERTIFICATE-----") {
            Some(i) => rest = &rest[i + "-----END CERTIFICATE-----".len()..],
            None => break,
        }
    }
    out
}
