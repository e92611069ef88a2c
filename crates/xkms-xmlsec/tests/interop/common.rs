//! Shared fixtures: XKMS-shaped documents, RSA keys, and an `xmlsec1` driver.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use xkms_proto::vocab::alg;
use xkms_xmlsec::{SharedSecret, SigningKey, signature_template_xml};
use zeroize::Zeroizing;

pub const SECRET: &str = "Kymi Joki";
pub const KBA_XPATH: &str =
    "//*[local-name()='KeyBindingAuthentication']/*[local-name()='Signature']";
pub const POP_XPATH: &str = "//*[local-name()='ProofOfPossession']/*[local-name()='Signature']";

pub struct Rsa {
    pub pkcs8_der: Vec<u8>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub spki_der: Vec<u8>,
}

impl Rsa {
    fn generate() -> Rsa {
        let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8_der = kp.as_der().unwrap().as_ref().to_vec();
        let public = kp.public_key();
        let c = PublicKeyComponents::<Vec<u8>>::from(public);
        Rsa {
            pkcs8_der,
            n: c.n,
            e: c.e,
            spki_der: public.as_der().unwrap().as_ref().to_vec(),
        }
    }

    pub fn signing_key(&self, algorithm: xkms_xmlsec::RsaAlgorithm) -> SigningKey {
        SigningKey::Rsa {
            pkcs8_der: Zeroizing::new(self.pkcs8_der.clone()),
            algorithm,
        }
    }

    pub fn verify_key(&self) -> xkms_xmlsec::VerifyKey<'_> {
        xkms_xmlsec::VerifyKey::RsaPublic {
            modulus: &self.n,
            exponent: &self.e,
        }
    }

    pub fn private_pem(&self) -> String {
        pem("PRIVATE KEY", &self.pkcs8_der)
    }

    pub fn public_pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki_der)
    }
}

/// The client's key pair (the key in the PrototypeKeyBinding).
pub fn rsa() -> &'static Rsa {
    static KEY: OnceLock<Rsa> = OnceLock::new();
    KEY.get_or_init(Rsa::generate)
}

/// Some other key pair.
pub fn other_rsa() -> &'static Rsa {
    static KEY: OnceLock<Rsa> = OnceLock::new();
    KEY.get_or_init(Rsa::generate)
}

pub fn pem(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).unwrap()
}

pub fn auth_key() -> Zeroizing<Vec<u8>> {
    SharedSecret::new(SECRET.to_owned())
        .authentication_key(xkms_xmlsec::SecretPreparation::SaslPrep)
        .unwrap()
}

pub fn hmac_sha1(key: &[u8]) -> SigningKey {
    SigningKey::Hmac {
        key: Zeroizing::new(key.to_vec()),
        algorithm: xkms_xmlsec::HmacAlgorithm::Sha1,
    }
}

/// Template with the interop defaults (exc-c14n, sha1) and the given method and target.
pub fn template(method: &str, target: &str) -> String {
    signature_template_xml(method, &format!("#{target}"), alg::EXC_C14N, alg::SHA1)
}

/// Template whose exclusive c14n Transform and CanonicalizationMethod carry a PrefixList.
pub fn template_with_prefix_list(method: &str, target: &str, prefixes: &str) -> String {
    let plain = template(method, target);
    let with = format!(
        "<ds:Transform Algorithm=\"{c}\"><ec:InclusiveNamespaces xmlns:ec=\"{c}\" PrefixList=\"{prefixes}\"/></ds:Transform>",
        c = alg::EXC_C14N
    );
    let c14n_with = format!(
        "<ds:CanonicalizationMethod Algorithm=\"{c}\"><ec:InclusiveNamespaces xmlns:ec=\"{c}\" PrefixList=\"{prefixes}\"/></ds:CanonicalizationMethod>",
        c = alg::EXC_C14N
    );
    plain
        .replace(
            &format!("<ds:Transform Algorithm=\"{}\"/>", alg::EXC_C14N),
            &with,
        )
        .replace(
            &format!(
                "<ds:CanonicalizationMethod Algorithm=\"{}\"/>",
                alg::EXC_C14N
            ),
            &c14n_with,
        )
}

/// A SOAP 1.2 envelope around a RegisterRequest `req1` with PrototypeKeyBinding `kb1`
/// (RSAKeyValue of [`rsa()`], a comment and namespaces that make the c14n variants differ).
pub fn register_request(kba: &str, pop: &str) -> String {
    register_request_with(kba, pop, "")
}

/// As [`register_request`], with `header` placed in the SOAP Header.
pub fn register_request_with(kba: &str, pop: &str, header: &str) -> String {
    let key = rsa();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
  <env:Header>{header}</env:Header>
  <env:Body>
    <RegisterRequest xmlns="http://www.w3.org/2002/03/xkms#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="req1" Service="http://xkms.example.org/xkms">
      <RespondWith>http://www.w3.org/2002/03/xkms#X509Cert</RespondWith>
      <PrototypeKeyBinding Id="kb1">
        <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
          <ds:KeyValue>
            <ds:RSAKeyValue>
              <ds:Modulus>{n}</ds:Modulus>
              <ds:Exponent>{e}</ds:Exponent>
            </ds:RSAKeyValue>
          </ds:KeyValue>
        </ds:KeyInfo>
        <!-- requested usage -->
        <KeyUsage>http://www.w3.org/2002/03/xkms#Signature</KeyUsage>
        <UseKeyWith Application="urn:ietf:rfc:2633" Identifier="alice@example.com"/>
      </PrototypeKeyBinding>
      <Authentication>
        <KeyBindingAuthentication>{kba}</KeyBindingAuthentication>
      </Authentication>
      <ProofOfPossession>{pop}</ProofOfPossession>
    </RegisterRequest>
  </env:Body>
</env:Envelope>
"#,
        n = B64.encode(&key.n),
        e = B64.encode(&key.e),
    )
}

/// A request with both slots filled by us: HMAC-SHA1 KBA with [`auth_key`], RSA-SHA256 POP
/// (RSA-SHA1 signing is not available on aws-lc; see `rsa_sha1_signing_is_unavailable`).
pub fn signed_request() -> String {
    let doc = register_request(
        &template(alg::HMAC_SHA1, "kb1"),
        &template(alg::RSA_SHA256, "kb1"),
    );
    let doc = xkms_xmlsec::sign_key_binding(
        &doc,
        "req1",
        xkms_xmlsec::Slot::KeyBindingAuthentication,
        &hmac_sha1(&auth_key()),
    )
    .unwrap();
    xkms_xmlsec::sign_key_binding(
        &doc,
        "req1",
        xkms_xmlsec::Slot::ProofOfPossession,
        &rsa().signing_key(xkms_xmlsec::RsaAlgorithm::Sha256),
    )
    .unwrap()
}

/// Key material `xmlsec1` can load.
pub enum CliKey<'a> {
    Hmac(&'a [u8]),
    RsaPublic(&'a Rsa),
    RsaPrivate(&'a Rsa),
}

pub struct Xmlsec1 {
    dir: tempfile::TempDir,
}

impl Xmlsec1 {
    pub fn new() -> Xmlsec1 {
        Xmlsec1 {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn key_args(&self, key: &CliKey<'_>) -> Vec<String> {
        let (flag, path) = match key {
            CliKey::Hmac(k) => ("--hmackey", self.write("hmac.bin", k)),
            CliKey::RsaPublic(r) => (
                "--pubkey-pem",
                self.write("pub.pem", r.public_pem().as_bytes()),
            ),
            CliKey::RsaPrivate(r) => (
                "--privkey-pem",
                self.write("priv.pem", r.private_pem().as_bytes()),
            ),
        };
        vec![flag.to_owned(), path_str(&path)]
    }

    fn common_args(xpath: &str) -> Vec<String> {
        [
            "--id-attr:Id",
            "http://www.w3.org/2002/03/xkms#:PrototypeKeyBinding",
            "--enabled-reference-uris",
            "same-doc",
            "--node-xpath",
            xpath,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    /// `xmlsec1 --verify` of the signature selected by `xpath`; (success, stderr).
    pub fn verify(&self, doc: &str, xpath: &str, key: &CliKey<'_>) -> (bool, String) {
        let input = self.write("in.xml", doc.as_bytes());
        let out = crate::tools::tool("xmlsec1")
            .arg("--verify")
            .args(Self::common_args(xpath))
            .args(self.key_args(key))
            .arg(&input)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `xmlsec1 --sign` of the template selected by `xpath`; returns the signed document.
    pub fn sign(&self, doc: &str, xpath: &str, key: &CliKey<'_>) -> String {
        let input = self.write("tmpl.xml", doc.as_bytes());
        let output = self.dir.path().join("signed.xml");
        let out = crate::tools::tool("xmlsec1")
            .arg("--sign")
            .args(Self::common_args(xpath))
            .args(self.key_args(key))
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xmlsec1 --sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&output).unwrap()
    }

    #[allow(dead_code)]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}
