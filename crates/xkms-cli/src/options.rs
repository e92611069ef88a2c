//! Protocol options every command shares: two-phase, request signing, signed results.

use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use xkms_client::pem::{self, Label};
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
                let key_pem = zeroize::Zeroizing::new(
                    std::fs::read(key).with_context(|| format!("reading {key}"))?,
                );
                let key_der = pem::decode_first(&key_pem, &[Label::PrivateKey])
                    .with_context(|| key.to_owned())?
                    .context("no PRIVATE KEY (PKCS#8) in the key file")?;
                let chain = crate::files::read_certificates(Path::new(cert))?;
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
                let certs = crate::files::read_certificates(path)?;
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
