//! Message-level (enveloped, payload authentication) signatures, both directions against
//! `xmlsec1`. Keys and certificates come from the OpenSSL CLI.
//!
//! xmlsec1 1.2.37 flags: `--id-attr:Id <xkms ns>:<Message element>`,
//! `--enabled-reference-uris empty,same-doc`, `--node-xpath //*[@Id='<id>']/*[1][local-name()='Signature']`,
//! and `--trusted-pem <signer or CA cert>` (X509Data) or `--insecure` (KeyValue) to verify;
//! `--privkey-pem key.pem,cert.pem` to sign a template with an empty `ds:X509Data`.

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use xkms_proto::vocab::alg;
use xkms_xmlsec::message::ECDSA_SHA256;
use xkms_xmlsec::{
    AlgorithmRole, MessageSigner, Slot, VerifiedMessageSignature, VerifyKey, XmlSecError,
    sign_message, verify_key_binding_signature, verify_message_signature,
};

use crate::common::*;

const XKMS: &str = "http://www.w3.org/2002/03/xkms#";

// ---------------------------------------------------------------------------------------------
// Fixtures: OpenSSL-made keys and certificates.

/// A key pair with its certificate, as the OpenSSL CLI wrote them.
pub struct Credential {
    pub key_pem: String,
    pub pkcs8_der: Vec<u8>,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    /// SPKI DER of the certified key (from `openssl x509 -pubkey`).
    pub spki_der: Vec<u8>,
}

pub struct Pki {
    /// Self-signed RSA-2048.
    pub rsa: Credential,
    /// Self-signed ECDSA P-256.
    pub ec: Credential,
    /// A CA and an RSA end-entity certificate it issued.
    pub ca: Credential,
    pub leaf: Credential,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = crate::tools::tool("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn credential(dir: &Path, name: &str) -> Credential {
    let (key, cert) = (format!("{name}.key"), format!("{name}.crt"));
    let (key_der, cert_der, spki) = (
        format!("{name}.p8"),
        format!("{name}.der"),
        format!("{name}.spki"),
    );
    openssl(
        dir,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", &key, "-outform", "DER", "-out", &key_der,
        ],
    );
    openssl(
        dir,
        &["x509", "-in", &cert, "-outform", "DER", "-out", &cert_der],
    );
    openssl(
        dir,
        &[
            "x509",
            "-in",
            &cert,
            "-noout",
            "-pubkey",
            "-out",
            &format!("{spki}.pem"),
        ],
    );
    openssl(
        dir,
        &[
            "pkey",
            "-pubin",
            "-in",
            &format!("{spki}.pem"),
            "-outform",
            "DER",
            "-out",
            &spki,
        ],
    );
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    Credential {
        key_pem: String::from_utf8(read(&key)).unwrap(),
        pkcs8_der: read(&key_der),
        cert_pem: String::from_utf8(read(&cert)).unwrap(),
        cert_der: read(&cert_der),
        spki_der: read(&spki),
    }
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let self_signed = |name: &str, alg: &[&str], cn: &str| {
            let mut args = vec!["req", "-x509", "-nodes", "-days", "3650", "-newkey"];
            args.extend_from_slice(alg);
            let (k, c, s) = (
                format!("{name}.key"),
                format!("{name}.crt"),
                format!("/CN={cn}"),
            );
            args.extend_from_slice(&["-keyout", &k, "-out", &c, "-subj", &s]);
            openssl(d, &args);
        };
        self_signed("rsa", &["rsa:2048"], "XKMS Test Service");
        self_signed(
            "ec",
            &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "XKMS Test EC Service",
        );
        self_signed("ca", &["rsa:2048"], "XKMS Test CA");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-nodes",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=XKMS Test Client",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "3650",
                "-out",
                "leaf.crt",
            ],
        );
        Pki {
            rsa: credential(d, "rsa"),
            ec: credential(d, "ec"),
            ca: credential(d, "ca"),
            leaf: credential(d, "leaf"),
        }
    })
}

fn rsa_signer() -> MessageSigner {
    let c = &pki().rsa;
    MessageSigner::rsa(&c.pkcs8_der, vec![c.cert_der.clone()]).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Documents.

fn locate_request_bare() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<LocateRequest xmlns="{XKMS}" Id="I4ec3a" Service="http://xkms.example.org/xkms">
  <RespondWith>http://www.w3.org/2002/03/xkms#X509Cert</RespondWith>
  <!-- query -->
  <QueryKeyBinding Id="q1">
    <KeyUsage>http://www.w3.org/2002/03/xkms#Signature</KeyUsage>
    <UseKeyWith Application="urn:ietf:rfc:2633" Identifier="alice@example.com"/>
  </QueryKeyBinding>
</LocateRequest>
"#
    )
}

fn soap12(body: &str, header: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\">\n  <env:Header>{header}</env:Header>\n  <env:Body>\n    {body}\n  </env:Body>\n</env:Envelope>\n"
    )
}

fn locate_request_soap() -> String {
    let bare = locate_request_bare();
    let body = bare.split_once("?>\n").unwrap().1.trim();
    soap12(body, "")
}

/// A SOAP 1.2 LocateResult with a prefixed XKMS namespace and a self-closing child.
fn locate_result_soap() -> String {
    soap12(
        r#"<xkms:LocateResult xmlns:xkms="http://www.w3.org/2002/03/xkms#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="R1" Service="http://xkms.example.org/xkms" RequestId="I4ec3a" ResultMajor="http://www.w3.org/2002/03/xkms#Success"><xkms:UnverifiedKeyBinding Id="ukb1"><ds:KeyInfo><ds:KeyName>alice</ds:KeyName></ds:KeyInfo><xkms:KeyUsage>http://www.w3.org/2002/03/xkms#Signature</xkms:KeyUsage></xkms:UnverifiedKeyBinding></xkms:LocateResult>"#,
        "",
    )
}

/// XPath of the message signature of the element with `Id=id`, for `xmlsec1 --node-xpath`.
fn msg_xpath(id: &str) -> String {
    format!("//*[@Id='{id}']/*[1][local-name()='Signature']")
}

/// `ds:Signature` template with an enveloped transform, for `xmlsec1 --sign`.
fn enveloped_template(method: &str, uri: &str, digest: &str, key_info: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{c}\"/><ds:SignatureMethod Algorithm=\"{method}\"/>\
         <ds:Reference URI=\"{uri}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{env}\"/><ds:Transform Algorithm=\"{c}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{digest}\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue/>{key_info}</ds:Signature>",
        c = alg::EXC_C14N,
        env = alg::ENVELOPED_SIGNATURE,
    )
}

/// Insert `fragment` right after the start tag that begins with `start_tag_prefix`.
fn insert_after_start_tag(doc: &str, start_tag_prefix: &str, fragment: &str) -> String {
    let s = doc.find(start_tag_prefix).unwrap();
    let gt = s + doc[s..].find('>').unwrap() + 1;
    format!("{}{fragment}{}", &doc[..gt], &doc[gt..])
}

/// The (first) message signature element of `doc`, as text.
fn first_signature(doc: &str) -> String {
    let start = doc.find("<ds:Signature").unwrap();
    let end = doc[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
    doc[start..end].to_owned()
}

// ---------------------------------------------------------------------------------------------
// xmlsec1 driver for message signatures.

struct Cli {
    x: Xmlsec1,
}

impl Cli {
    fn new() -> Cli {
        Cli { x: Xmlsec1::new() }
    }

    /// `xmlsec1 --verify` of the message signature of element `elem` with Id `id`; the
    /// certificate in KeyInfo must chain to `trusted` (or, with `None`, `--insecure` and
    /// whatever key KeyInfo carries).
    fn verify(&self, doc: &str, elem: &str, id: &str, trusted: Option<&str>) -> (bool, String) {
        let input = self.x.write("msg.xml", doc.as_bytes());
        let mut cmd = crate::tools::tool("xmlsec1");
        cmd.arg("--verify")
            .arg("--id-attr:Id")
            .arg(format!("{XKMS}:{elem}"))
            .args(["--enabled-reference-uris", "empty,same-doc"])
            .args(["--node-xpath", &msg_xpath(id)]);
        match trusted {
            Some(pem) => {
                let ca = self.x.write("trusted.pem", pem.as_bytes());
                cmd.arg("--trusted-pem").arg(ca);
            }
            None => {
                cmd.arg("--insecure");
            }
        }
        let out = cmd.arg(input).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `xmlsec1 --sign` of the template that is the first child of element `elem` with Id `id`,
    /// with `key_pem` and its certificate (filled into an empty `X509Data`).
    fn sign(&self, doc: &str, elem: &str, id: &str, cred: &Credential) -> String {
        let input = self.x.write("tmpl.xml", doc.as_bytes());
        let key = self.x.write("signer.key", cred.key_pem.as_bytes());
        let cert = self.x.write("signer.crt", cred.cert_pem.as_bytes());
        let output = self.x.path().join("signed.xml");
        let out = crate::tools::tool("xmlsec1")
            .arg("--sign")
            .arg("--id-attr:Id")
            .arg(format!("{XKMS}:{elem}"))
            .args(["--enabled-reference-uris", "empty,same-doc"])
            .args(["--node-xpath", &msg_xpath(id)])
            .arg("--privkey-pem")
            .arg(format!("{},{}", key.display(), cert.display()))
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
}

fn verified(doc: &str, id: &str) -> VerifiedMessageSignature {
    verify_message_signature(doc, id)
        .unwrap()
        .expect("message is signed")
}

// ---------------------------------------------------------------------------------------------
// ours → xmlsec1

#[test]
fn our_signed_locate_request_bare_and_soap_verify_in_xmlsec1_and_ours() {
    let cli = Cli::new();
    let rsa = &pki().rsa;
    for doc in [locate_request_bare(), locate_request_soap()] {
        let signed = sign_message(&doc, "I4ec3a", &rsa_signer()).unwrap();
        let v = verified(&signed, "I4ec3a");
        assert_eq!(v.signature_method, alg::RSA_SHA256);
        assert_eq!(v.signer_chain, vec![rsa.cert_der.clone()]);
        assert_eq!(v.signer_public_key_spki, rsa.spki_der);
        assert_eq!(v.signature_value.len(), 256);
        let (ok, err) = cli.verify(&signed, "LocateRequest", "I4ec3a", Some(&rsa.cert_pem));
        assert!(ok, "xmlsec1 refused our signature: {err}");

        // Sanity: xmlsec1 notices a changed message, and so do we.
        let tampered = signed.replace("alice@example.com", "mallory@example.com");
        assert!(
            !cli.verify(&tampered, "LocateRequest", "I4ec3a", Some(&rsa.cert_pem))
                .0
        );
        assert!(matches!(
            verify_message_signature(&tampered, "I4ec3a"),
            Err(XmlSecError::DigestMismatch)
        ));
        // ...and an untrusted signer (xmlsec1's trust decision; ours is the caller's).
        assert!(
            !cli.verify(&signed, "LocateRequest", "I4ec3a", Some(&pki().ca.cert_pem))
                .0
        );
    }
}

#[test]
fn our_signed_locate_result_in_soap_verifies_in_xmlsec1_and_ours() {
    let cli = Cli::new();
    let signed = sign_message(&locate_result_soap(), "R1", &rsa_signer()).unwrap();
    verified(&signed, "R1");
    let (ok, err) = cli.verify(&signed, "LocateResult", "R1", Some(&pki().rsa.cert_pem));
    assert!(ok, "xmlsec1 refused our signature: {err}");
    // The signature is the first child, in the message's own namespace context.
    assert!(signed.contains("Success\"><ds:Signature xmlns:ds="));
}

#[test]
fn signing_inserts_the_signature_and_changes_nothing_else() {
    let doc = locate_request_soap();
    let signed = sign_message(&doc, "I4ec3a", &rsa_signer()).unwrap();
    let sig = first_signature(&signed);
    assert_eq!(signed.replace(&sig, ""), doc);
    assert!(signed.contains("Service=\"http://xkms.example.org/xkms\"><ds:Signature"));
    // Signing again is refused: the message already carries a signature.
    assert!(matches!(
        sign_message(&signed, "I4ec3a", &rsa_signer()),
        Err(XmlSecError::UnexpectedSignature)
    ));
    // Unknown or non-message Id.
    assert!(matches!(
        sign_message(&doc, "q1", &rsa_signer()),
        Err(XmlSecError::MessageNotFound)
    ));
    // A message element without children gets opened up.
    let empty = format!(
        "<PendingResult xmlns=\"{XKMS}\" Id=\"P1\" Service=\"urn:s\" ResultMajor=\"{XKMS}Success\"/>"
    );
    let signed = sign_message(&empty, "P1", &rsa_signer()).unwrap();
    assert!(signed.ends_with("</ds:Signature></PendingResult>"));
    verified(&signed, "P1");
    assert!(cli_ok(&signed, "PendingResult", "P1"));
}

fn cli_ok(doc: &str, elem: &str, id: &str) -> bool {
    let (ok, err) = Cli::new().verify(doc, elem, id, Some(&pki().rsa.cert_pem));
    assert!(ok, "xmlsec1: {err}");
    ok
}

#[test]
fn ecdsa_p256_both_directions() {
    let ec = &pki().ec;
    let cli = Cli::new();
    let signer = MessageSigner::ecdsa_p256(&ec.pkcs8_der, vec![ec.cert_der.clone()]).unwrap();
    let signed = sign_message(&locate_request_soap(), "I4ec3a", &signer).unwrap();
    let v = verified(&signed, "I4ec3a");
    assert_eq!(v.signature_method, ECDSA_SHA256);
    assert_eq!(v.signature_value.len(), 64, "r || s, not DER");
    assert_eq!(v.signer_public_key_spki, ec.spki_der);
    let (ok, err) = cli.verify(&signed, "LocateRequest", "I4ec3a", Some(&ec.cert_pem));
    assert!(ok, "xmlsec1 refused our ECDSA signature: {err}");

    let tmpl = enveloped_template(
        ECDSA_SHA256,
        "#I4ec3a",
        alg::SHA256,
        "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
    );
    let doc = insert_after_start_tag(&locate_request_soap(), "<LocateRequest", &tmpl);
    let theirs = cli.sign(&doc, "LocateRequest", "I4ec3a", ec);
    let v = verified(&theirs, "I4ec3a");
    assert_eq!(v.signer_chain, vec![ec.cert_der.clone()]);
}

#[test]
fn key_value_signer_without_certificate() {
    let rsa = &pki().rsa;
    let signer = MessageSigner::rsa(&rsa.pkcs8_der, Vec::new()).unwrap();
    let signed = sign_message(&locate_request_bare(), "I4ec3a", &signer).unwrap();
    assert!(signed.contains("<ds:KeyValue><ds:RSAKeyValue>"));
    let v = verified(&signed, "I4ec3a");
    assert!(v.signer_chain.is_empty());
    assert_eq!(v.signer_public_key_spki, rsa.spki_der);
    let (ok, err) = Cli::new().verify(&signed, "LocateRequest", "I4ec3a", None);
    assert!(ok, "xmlsec1 refused our KeyValue signature: {err}");

    let ec = &pki().ec;
    let signer = MessageSigner::ecdsa_p256(&ec.pkcs8_der, Vec::new()).unwrap();
    let signed = sign_message(&locate_request_bare(), "I4ec3a", &signer).unwrap();
    assert_eq!(
        verified(&signed, "I4ec3a").signer_public_key_spki,
        ec.spki_der
    );
}

// ---------------------------------------------------------------------------------------------
// xmlsec1 → ours

#[test]
fn xmlsec1_signed_requests_verify_in_ours() {
    let rsa = &pki().rsa;
    let cli = Cli::new();
    let x509 = "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>";
    let cases = [
        (alg::RSA_SHA1, "#I4ec3a", alg::SHA1, locate_request_soap()),
        (
            alg::RSA_SHA256,
            "#I4ec3a",
            alg::SHA256,
            locate_request_soap(),
        ),
        (
            alg::RSA_SHA256,
            "#I4ec3a",
            alg::SHA256,
            locate_request_bare(),
        ),
        // URI="" = the whole document: only for a bare message.
        (alg::RSA_SHA256, "", alg::SHA256, locate_request_bare()),
    ];
    for (method, uri, digest, doc) in cases {
        let tmpl = enveloped_template(method, uri, digest, x509);
        let doc = insert_after_start_tag(&doc, "<LocateRequest", &tmpl);
        let theirs = cli.sign(&doc, "LocateRequest", "I4ec3a", rsa);
        let v = verified(&theirs, "I4ec3a");
        assert_eq!(v.signature_method, method);
        assert_eq!(v.signer_chain, vec![rsa.cert_der.clone()]);
        assert_eq!(v.signer_public_key_spki, rsa.spki_der);
        let tampered = theirs.replace("#Signature</KeyUsage>", "#Encryption</KeyUsage>");
        assert!(
            matches!(
                verify_message_signature(&tampered, "I4ec3a"),
                Err(XmlSecError::DigestMismatch)
            ),
            "{method} {uri:?}"
        );
    }
}

/// A client that signs its request as a standalone document (`URI=""`, inclusive C14N of
/// SignedInfo) and then wraps it in SOAP: the signature verifies over the request taken
/// as its own document; a change anywhere in the request does not.
#[test]
fn xmlsec1_signed_standalone_then_wrapped_verifies_in_ours() {
    let rsa = &pki().rsa;
    let cli = Cli::new();
    for (uri, c14n) in [("", alg::C14N), ("#I4ec3a", alg::C14N), ("", alg::EXC_C14N)] {
        let tmpl = enveloped_template(
            alg::RSA_SHA256,
            uri,
            alg::SHA256,
            "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
        )
        .replace(
            &format!(
                "<ds:CanonicalizationMethod Algorithm=\"{}\"/>",
                alg::EXC_C14N
            ),
            &format!("<ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>"),
        );
        let doc = insert_after_start_tag(&locate_request_bare(), "<LocateRequest", &tmpl);
        let signed = cli.sign(&doc, "LocateRequest", "I4ec3a", rsa);
        let element = signed.split_once("?>").unwrap().1.trim();
        let wrapped = soap12(element, "");
        let v = verified(&wrapped, "I4ec3a");
        assert_eq!(v.signer_chain, vec![rsa.cert_der.clone()], "{uri:?} {c14n}");
        let tampered = wrapped.replace("alice@example.com", "mallory@example.com");
        assert!(
            verify_message_signature(&tampered, "I4ec3a").is_err(),
            "{uri:?} {c14n}"
        );
    }
}

#[test]
fn whole_document_reference_is_refused_inside_soap() {
    // xmlsec1 happily signs URI="" inside an envelope (it covers the envelope); for us the
    // message is not the document, so the reference does not designate it.
    let tmpl = enveloped_template(
        alg::RSA_SHA256,
        "",
        alg::SHA256,
        "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
    );
    let doc = insert_after_start_tag(&locate_request_soap(), "<LocateRequest", &tmpl);
    let theirs = Cli::new().sign(&doc, "LocateRequest", "I4ec3a", &pki().rsa);
    assert!(matches!(
        verify_message_signature(&theirs, "I4ec3a"),
        Err(XmlSecError::ReferenceTarget)
    ));
}

#[test]
fn xmlsec1_chain_in_any_order_yields_leaf_first() {
    // Our signer with CA + leaf; then the certificates are swapped in KeyInfo (outside
    // SignedInfo, removed by the enveloped transform: still valid).
    let Pki { ca, leaf, .. } = pki();
    let signer = MessageSigner::rsa(
        &leaf.pkcs8_der,
        vec![leaf.cert_der.clone(), ca.cert_der.clone()],
    )
    .unwrap();
    let signed = sign_message(&locate_request_soap(), "I4ec3a", &signer).unwrap();
    let v = verified(&signed, "I4ec3a");
    assert_eq!(
        v.signer_chain,
        vec![leaf.cert_der.clone(), ca.cert_der.clone()]
    );
    assert_eq!(v.signer_public_key_spki, leaf.spki_der);
    let (ok, err) = Cli::new().verify(&signed, "LocateRequest", "I4ec3a", Some(&ca.cert_pem));
    assert!(ok, "xmlsec1 refused the chain: {err}");

    let (l, c) = (B64.encode(&leaf.cert_der), B64.encode(&ca.cert_der));
    let swapped = signed.replace(
        &format!("<ds:X509Certificate>{l}</ds:X509Certificate><ds:X509Certificate>{c}</ds:X509Certificate>"),
        &format!("<ds:X509Certificate>{c}</ds:X509Certificate><ds:X509Certificate>{l}</ds:X509Certificate>"),
    );
    assert_ne!(swapped, signed);
    let v = verified(&swapped, "I4ec3a");
    assert_eq!(v.signer_chain[0], leaf.cert_der);
    assert_eq!(v.signer_public_key_spki, leaf.spki_der);

    // A signer whose leaf certificate is not its key is refused up front.
    assert!(matches!(
        MessageSigner::rsa(&leaf.pkcs8_der, vec![ca.cert_der.clone()]),
        Err(XmlSecError::KeyMismatch)
    ));
}

// ---------------------------------------------------------------------------------------------
// Message signature together with key-binding signatures.

#[test]
fn register_request_with_kba_pop_and_message_signature() {
    // Key-binding signatures first, the message signature last (it covers them).
    let doc = signed_request();
    let doc = sign_message(&doc, "req1", &rsa_signer()).unwrap();
    let v = verified(&doc, "req1");
    assert_eq!(v.signer_public_key_spki, pki().rsa.spki_der);
    verify_key_binding_signature(
        &doc,
        "req1",
        Slot::KeyBindingAuthentication,
        &VerifyKey::Hmac(&auth_key()),
    )
    .unwrap();
    verify_key_binding_signature(&doc, "req1", Slot::ProofOfPossession, &rsa().verify_key())
        .unwrap();

    let cli = Cli::new();
    let (ok, err) = cli.verify(&doc, "RegisterRequest", "req1", Some(&pki().rsa.cert_pem));
    assert!(ok, "xmlsec1 refused the message signature: {err}");
    let (ok, err) = cli.x.verify(&doc, KBA_XPATH, &CliKey::Hmac(&auth_key()));
    assert!(
        ok,
        "xmlsec1 refused the KBA beside a message signature: {err}"
    );

    // The KBA is part of the signed message: changing its value breaks the message signature
    // (and, of course, the KBA).
    let kba_value = {
        let s = doc.find("<KeyBindingAuthentication>").unwrap();
        let v = s + doc[s..].find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
        let e = v + doc[v..].find("</ds:SignatureValue>").unwrap();
        doc[v..e].to_owned()
    };
    let forged = doc.replace(&kba_value, &B64.encode([7u8; 20]));
    assert!(matches!(
        verify_message_signature(&forged, "req1"),
        Err(XmlSecError::DigestMismatch)
    ));
}

#[test]
fn xmlsec1_message_signature_over_our_kba() {
    let tmpl = enveloped_template(
        alg::RSA_SHA256,
        "#req1",
        alg::SHA256,
        "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
    );
    let doc = insert_after_start_tag(&signed_request(), "<RegisterRequest", &tmpl);
    let theirs = Cli::new().sign(&doc, "RegisterRequest", "req1", &pki().rsa);
    verified(&theirs, "req1");
    verify_key_binding_signature(
        &theirs,
        "req1",
        Slot::KeyBindingAuthentication,
        &VerifyKey::Hmac(&auth_key()),
    )
    .unwrap();
}

#[test]
fn compound_request_outer_and_inner_signatures() {
    // The outer signature precedes the inner one in document order but lies outside the inner
    // request: verifying the inner one must still pick the inner one.
    let inner = locate_request_bare()
        .split_once("?>\n")
        .unwrap()
        .1
        .trim()
        .to_owned();
    let doc = format!(
        "<CompoundRequest xmlns=\"{XKMS}\" Id=\"C1\" Service=\"urn:s\">{inner}</CompoundRequest>"
    );
    let doc = sign_message(&doc, "I4ec3a", &rsa_signer()).unwrap();
    let ec = &pki().ec;
    let outer_signer = MessageSigner::ecdsa_p256(&ec.pkcs8_der, vec![ec.cert_der.clone()]).unwrap();
    let doc = sign_message(&doc, "C1", &outer_signer).unwrap();
    assert_eq!(verified(&doc, "C1").signer_public_key_spki, ec.spki_der);
    assert_eq!(
        verified(&doc, "I4ec3a").signer_public_key_spki,
        pki().rsa.spki_der
    );
    // Tampering with the inner request breaks both.
    let tampered = doc.replace("alice@", "eve@");
    for id in ["C1", "I4ec3a"] {
        assert!(matches!(
            verify_message_signature(&tampered, id),
            Err(XmlSecError::DigestMismatch)
        ));
    }
}

#[test]
fn signature_in_soap_header_before_the_message_is_not_the_one_verified() {
    // A valid-looking signature by another key sits in the SOAP header, first in document
    // order. The message signature is still the one verified, with its own KeyInfo key.
    let signed = sign_message(&locate_request_soap(), "I4ec3a", &rsa_signer()).unwrap();
    let sig = first_signature(&signed);
    let other = sign_message(
        &locate_request_soap(),
        "I4ec3a",
        &MessageSigner::rsa(&pki().leaf.pkcs8_der, vec![pki().leaf.cert_der.clone()]).unwrap(),
    )
    .unwrap();
    let header_sig = first_signature(&other);
    let doc = signed.replace(
        "<env:Header></env:Header>",
        &format!("<env:Header>{header_sig}</env:Header>"),
    );
    assert!(doc.find(&header_sig).unwrap() < doc.find(&sig).unwrap());
    let v = verified(&doc, "I4ec3a");
    assert_eq!(v.signer_public_key_spki, pki().rsa.spki_der);
}

// ---------------------------------------------------------------------------------------------
// Refusals.

#[test]
fn unsigned_message_and_unknown_id() {
    assert!(
        verify_message_signature(&locate_request_soap(), "I4ec3a")
            .unwrap()
            .is_none()
    );
    // A request carrying only key-binding signatures has no message signature.
    assert!(
        verify_message_signature(&signed_request(), "req1")
            .unwrap()
            .is_none()
    );
    for id in ["nope", "q1"] {
        assert!(matches!(
            verify_message_signature(&locate_request_soap(), id),
            Err(XmlSecError::MessageNotFound)
        ));
    }
}

#[test]
fn reference_to_another_element_is_refused() {
    let signed = sign_message(&locate_request_soap(), "I4ec3a", &rsa_signer()).unwrap();
    for uri in ["#q1", "", "#xpointer(id('I4ec3a'))"] {
        let moved = signed.replace("URI=\"#I4ec3a\"", &format!("URI=\"{uri}\""));
        assert!(
            matches!(
                verify_message_signature(&moved, "I4ec3a"),
                Err(XmlSecError::ReferenceTarget)
            ),
            "{uri:?}"
        );
    }
    // An xmlsec1-made signature whose Reference covers the QueryKeyBinding only.
    let tmpl = enveloped_template(
        alg::RSA_SHA256,
        "#q1",
        alg::SHA256,
        "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
    );
    let doc = insert_after_start_tag(&locate_request_soap(), "<LocateRequest", &tmpl);
    // xmlsec1 must know the ID attribute of QueryKeyBinding for this one.
    let theirs = sign_with_extra_id(&Cli::new(), &doc, "QueryKeyBinding");
    assert!(matches!(
        verify_message_signature(&theirs, "I4ec3a"),
        Err(XmlSecError::ReferenceTarget)
    ));
}

fn sign_with_extra_id(cli: &Cli, doc: &str, extra: &str) -> String {
    let input = cli.x.write("tmpl2.xml", doc.as_bytes());
    let key = cli.x.write("k2.pem", pki().rsa.key_pem.as_bytes());
    let cert = cli.x.write("c2.pem", pki().rsa.cert_pem.as_bytes());
    let output = cli.x.path().join("signed2.xml");
    let out = crate::tools::tool("xmlsec1")
        .arg("--sign")
        .args(["--id-attr:Id", &format!("{XKMS}:{extra}")])
        .args(["--enabled-reference-uris", "same-doc"])
        .args(["--node-xpath", &msg_xpath("I4ec3a")])
        .arg("--privkey-pem")
        .arg(format!("{},{}", key.display(), cert.display()))
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&output).unwrap()
}

#[test]
fn signature_not_in_first_child_position_is_refused() {
    let signed = sign_message(&locate_request_soap(), "I4ec3a", &rsa_signer()).unwrap();
    let sig = first_signature(&signed);
    let unsigned = signed.replace(&sig, "");
    // After RespondWith: still an enveloped signature over the message, but not in the slot.
    let late = unsigned.replace(
        "#X509Cert</RespondWith>",
        &format!("#X509Cert</RespondWith>{sig}"),
    );
    assert!(matches!(
        verify_message_signature(&late, "I4ec3a"),
        Err(XmlSecError::UnexpectedSignature)
    ));
    // Two message signatures.
    let twice = signed.replace(&sig, &format!("{sig}{sig}"));
    assert!(matches!(
        verify_message_signature(&twice, "I4ec3a"),
        Err(XmlSecError::UnexpectedSignature | XmlSecError::DuplicateId)
    ));
    // Inside the QueryKeyBinding: not a message signature at all, the message is unsigned.
    let nested = unsigned.replace(
        "<QueryKeyBinding Id=\"q1\">",
        &format!("<QueryKeyBinding Id=\"q1\">{sig}"),
    );
    assert!(
        verify_message_signature(&nested, "I4ec3a")
            .unwrap()
            .is_none()
    );
    // The message wrapped into another signature's Object.
    let wrapped = signed
        .replace(
            "<env:Body>",
            "<env:Body><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:Object>",
        )
        .replace("</env:Body>", "</ds:Object></ds:Signature></env:Body>");
    assert!(matches!(
        verify_message_signature(&wrapped, "I4ec3a"),
        Err(XmlSecError::UnexpectedSignature)
    ));
}

#[test]
fn wrong_key_in_key_info_fails() {
    // Replace the certificate with another one: the signature does not verify with its key.
    let signed = sign_message(&locate_request_soap(), "I4ec3a", &rsa_signer()).unwrap();
    let swapped = signed.replace(
        &B64.encode(&pki().rsa.cert_der),
        &B64.encode(&pki().leaf.cert_der),
    );
    assert!(matches!(
        verify_message_signature(&swapped, "I4ec3a"),
        Err(XmlSecError::BadSignature)
    ));
    // A key of the wrong type for the method.
    let ec_cert = signed.replace(
        &B64.encode(&pki().rsa.cert_der),
        &B64.encode(&pki().ec.cert_der),
    );
    assert!(matches!(
        verify_message_signature(&ec_cert, "I4ec3a"),
        Err(XmlSecError::KeyMismatch)
    ));
    // No key at all.
    let ki = {
        let s = signed.find("<ds:KeyInfo>").unwrap();
        let e = signed.find("</ds:KeyInfo>").unwrap() + "</ds:KeyInfo>".len();
        signed[s..e].to_owned()
    };
    for replacement in [
        "",
        "<ds:KeyInfo><ds:KeyName>svc</ds:KeyName></ds:KeyInfo>",
        "<ds:KeyInfo><ds:RetrievalMethod URI=\"#x\"/></ds:KeyInfo>",
    ] {
        let doc = signed.replace(&ki, replacement);
        assert!(
            matches!(
                verify_message_signature(&doc, "I4ec3a"),
                Err(XmlSecError::SignatureStructure(_))
            ),
            "{replacement}"
        );
    }
}

type Expected = fn(&XmlSecError) -> bool;

#[test]
fn algorithms_and_transforms_outside_the_profile_are_refused() {
    let signed = sign_message(&locate_request_soap(), "I4ec3a", &rsa_signer()).unwrap();
    let env = format!("<ds:Transform Algorithm=\"{}\"/>", alg::ENVELOPED_SIGNATURE);
    let exc = format!("<ds:Transform Algorithm=\"{}\"/>", alg::EXC_C14N);
    let cases: Vec<(String, Expected)> = vec![
        // HMAC at message level.
        (
            signed.replace(alg::RSA_SHA256, alg::HMAC_SHA1),
            |e| {
                matches!(
                    e,
                    XmlSecError::AlgorithmNotAllowed {
                        role: AlgorithmRole::Signature
                    }
                )
            },
        ),
        // Transforms out of order.
        (
            signed.replace(&format!("{env}{exc}"), &format!("{exc}{env}")),
            |e| {
                matches!(
                    e,
                    XmlSecError::AlgorithmNotAllowed {
                        role: AlgorithmRole::Transform
                    }
                )
            },
        ),
        // Enveloped only / c14n only.
        (signed.replace(&exc, ""), |e| {
            matches!(e, XmlSecError::SignatureStructure("Transforms"))
        }),
        (signed.replace(&env, ""), |e| {
            matches!(e, XmlSecError::SignatureStructure("Transforms"))
        }),
        // An XPath transform instead of c14n.
        (
            signed.replace(
                &exc,
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>1</ds:XPath></ds:Transform>",
            ),
            |e| {
                matches!(
                    e,
                    XmlSecError::AlgorithmNotAllowed {
                        role: AlgorithmRole::Transform
                    }
                )
            },
        ),
        // An Object.
        (
            signed.replace("</ds:KeyInfo>", "</ds:KeyInfo><ds:Object/>"),
            |e| matches!(e, XmlSecError::SignatureStructure(_)),
        ),
        // A duplicate Id elsewhere.
        (
            signed.replace("<env:Header></env:Header>", "<env:Header><x Id=\"I4ec3a\"/></env:Header>"),
            |e| matches!(e, XmlSecError::DuplicateId),
        ),
    ];
    for (i, (doc, expected)) in cases.into_iter().enumerate() {
        assert_ne!(doc, signed, "case {i} did not change the document");
        match verify_message_signature(&doc, "I4ec3a") {
            Err(e) => assert!(expected(&e), "case {i}: {e:?}"),
            Ok(v) => panic!("case {i} verified: {v:?}"),
        }
    }
}

#[test]
fn inclusive_namespaces_and_with_comments_from_xmlsec1() {
    let rsa = &pki().rsa;
    let cli = Cli::new();
    let with_prefix_list = enveloped_template(
        alg::RSA_SHA256,
        "#I4ec3a",
        alg::SHA256,
        "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
    )
    .replace(
        &format!("<ds:Transform Algorithm=\"{}\"/>", alg::EXC_C14N),
        &format!(
            "<ds:Transform Algorithm=\"{c}\"><ec:InclusiveNamespaces xmlns:ec=\"{c}\" PrefixList=\"env #default\"/></ds:Transform>",
            c = alg::EXC_C14N
        ),
    );
    let with_comments = enveloped_template(
        alg::RSA_SHA256,
        "#I4ec3a",
        alg::SHA256,
        "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo>",
    )
    .replace(
        &format!("<ds:Transform Algorithm=\"{}\"/>", alg::EXC_C14N),
        &format!(
            "<ds:Transform Algorithm=\"{}\"/>",
            alg::EXC_C14N_WITH_COMMENTS
        ),
    );
    for tmpl in [with_prefix_list, with_comments] {
        let doc = insert_after_start_tag(&locate_request_soap(), "<LocateRequest", &tmpl);
        let theirs = cli.sign(&doc, "LocateRequest", "I4ec3a", rsa);
        verified(&theirs, "I4ec3a");
    }
}
