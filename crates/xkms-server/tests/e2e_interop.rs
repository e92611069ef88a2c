//! Interoperability with the XKMS clients already deployed (issue: interoperate and answer
//! schema-valid everywhere). A REC-era client (`common::legacy`: hand-written requests,
//! signatures by `xmlsec1` over the request as a standalone document with inclusive C14N,
//! then wrapped in SOAP; `POST /xkmsHTTP/1.0`) runs the seed scenarios T100–T104, Locate,
//! Validate, Compound and the two-phase protocol against `xkmsd` directly, over SOAP 1.2,
//! SOAP 1.1 and bare XML. Every XKMS element it receives is validated against the W3C
//! schema with `xmllint`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::Server;
use common::legacy::{C14n, Legacy, RsaKey, Wire, attr, codes, texts};
use common::tools::tool;
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret, revocation_code_identifier};

const SASL: SecretPreparation = SecretPreparation::SaslPrep;
const PHRASE: &str = "Help I Have Revealed My Key";
const DN: &str = "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe";

fn k_auth(secret: &str) -> Vec<u8> {
    SharedSecret::new(secret.into())
        .authentication_key(SASL)
        .unwrap()
        .to_vec()
}

fn ok(label: &str, result: &str) {
    let (major, minor) = codes(result);
    assert_eq!(major, "Success", "{label}: {major}/{minor}\n{result}");
}

/// The seed's PrototypeKeyBinding content after KeyInfo.
fn seed_binding_tail() -> String {
    format!(
        "<KeyUsage>http://www.w3.org/2002/03/xkms#Signature</KeyUsage>\
         <UseKeyWith Application=\"urn:ietf:rfc:2633\" Identifier=\"joe@example.com\"/>\
         <UseKeyWith Application=\"urn:ietf:rfc:2459\" Identifier=\"{DN}\"/>"
    )
}

const RESPOND_SEED: &str = "<RespondWith>http://www.w3.org/2002/03/xkms#KeyValue</RespondWith>\
    <RespondWith>http://www.w3.org/2002/03/xkms#KeyName</RespondWith>\
    <RespondWith>http://www.w3.org/2002/03/xkms#X509Cert</RespondWith>";

/// T100: a RegisterRequest for `key`, KBA with "secret" and POP, signed standalone.
fn t100_request(c: &mut Legacy, key: &RsaKey, tamper: bool) -> String {
    let (id, kb) = (c.id(), c.id());
    let rci = revocation_code_identifier(
        &SharedSecret::new(PHRASE.into())
            .revocation_code(SASL)
            .unwrap(),
    );
    let request = format!(
        "{open}{RESPOND_SEED}<PrototypeKeyBinding Id=\"{kb}\"><ds:KeyInfo>{kv}\
         <ds:KeyName>joe@example.com</ds:KeyName></ds:KeyInfo>{tail}\
         <RevocationCodeIdentifier>{rci}</RevocationCodeIdentifier></PrototypeKeyBinding>\
         {kba}{pop}</RegisterRequest>",
        open = c.open("RegisterRequest", &id, ""),
        kv = key.key_value(),
        tail = seed_binding_tail(),
        rci = B64.encode(rci),
        kba = c.kba(&kb),
        pop = c.pop(&kb),
    );
    let signed = c.sign_kba(&request, "PrototypeKeyBinding", &k_auth("secret"));
    let signed = c.sign_pop(&signed, "PrototypeKeyBinding", key);
    if tamper {
        // One byte of the key binding: the KeyName the certificate would carry.
        signed.replacen(
            "<ds:KeyName>joe@example.com</ds:KeyName>",
            "<ds:KeyName>joe@example.con</ds:KeyName>",
            1,
        )
    } else {
        signed
    }
}

/// The certificates of a result's key bindings, DER (not those of a result signature).
fn certificates(result: &str) -> Vec<Vec<u8>> {
    let bindings = result
        .split_once("</ds:Signature>")
        .map_or(result, |(_, rest)| rest);
    texts(bindings, "X509Certificate")
        .iter()
        .map(|b| B64.decode(b).unwrap())
        .collect()
}

fn cert_key_info(der: &[u8]) -> String {
    format!(
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
        B64.encode(der)
    )
}

/// `openssl x509 -modulus` of a DER certificate, as bytes.
fn certified_modulus(dir: &std::path::Path, der: &[u8]) -> Vec<u8> {
    let path = dir.join("cert.der");
    std::fs::write(&path, der).unwrap();
    let out = tool("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-modulus", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    hex::decode(text.trim().strip_prefix("Modulus=").unwrap()).unwrap()
}

/// `xmlsec1 --decrypt` of the PrivateKey in `result` with the 0x04 key of `secret`; the
/// RSAKeyPair Modulus.
fn decrypted_modulus(dir: &std::path::Path, result: &str, secret: &str) -> Vec<u8> {
    let kek = SharedSecret::new(secret.into())
        .private_key_encryption_key(SASL, 24)
        .unwrap();
    let kek_path = dir.join("kek.bin");
    std::fs::write(&kek_path, &*kek).unwrap();
    let doc = dir.join("private-key-result.xml");
    std::fs::write(&doc, result).unwrap();
    let out = tool("xmlsec1")
        .args(["--decrypt", "--deskey"])
        .arg(&kek_path)
        .arg(&doc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = String::from_utf8(out.stdout).unwrap();
    B64.decode(&texts(&plain, "Modulus")[0]).unwrap()
}

/// The whole seed lifecycle and X-KISS with the legacy client on one wire.
async fn lifecycle(wire: Wire, c14n: C14n) -> Vec<(String, String)> {
    let server = Server::start();
    server.authorize_joe("secret", "register");
    let dir = tempfile::tempdir().unwrap();
    let service = server.url.clone();
    let mut c = Legacy::new(&service, wire, c14n, dir.path());
    let joe = RsaKey::generate(dir.path(), "joe");

    // A changed byte in the signed key binding: refused, nothing stored.
    let tampered = t100_request(&mut c, &joe, true);
    let r = c.exchange("T100 tampered", &tampered);
    assert_eq!(
        codes(&r),
        ("Sender".into(), "NoAuthentication".into()),
        "{r}"
    );
    assert_eq!(server.binding_count().await, 0);

    // T100: client-generated key.
    let request = t100_request(&mut c, &joe, false);
    let r = c.exchange("T100 Register", &request);
    ok("T100", &r);
    let cert = certificates(&r).remove(0);
    assert_eq!(certified_modulus(dir.path(), &cert), joe.modulus);
    assert_eq!(server.binding_count().await, 1);

    // T101: service-generated key, returned under the 0x04 key of "secret".
    let (id, kb) = (c.id(), c.id());
    let request = format!(
        "{open}{RESPOND_SEED}<RespondWith>http://www.w3.org/2002/03/xkms#PrivateKey</RespondWith>\
         <PrototypeKeyBinding Id=\"{kb}\"><ds:KeyInfo><ds:KeyName>joe@example.com</ds:KeyName>\
         </ds:KeyInfo>{tail}</PrototypeKeyBinding>{kba}</RegisterRequest>",
        open = c.open("RegisterRequest", &id, ""),
        tail = seed_binding_tail(),
        kba = c.kba(&kb),
    );
    let signed = c.sign_kba(&request, "PrototypeKeyBinding", &k_auth("secret"));
    let r = c.exchange("T101 Register generated", &signed);
    ok("T101", &r);
    let generated_cert = certificates(&r).remove(0);
    let generated_modulus = decrypted_modulus(dir.path(), &r, "secret");
    assert_eq!(
        certified_modulus(dir.path(), &generated_cert),
        generated_modulus
    );

    // T102: reissue the T100 certificate, KBA + POP.
    let (id, kb) = (c.id(), c.id());
    let request = format!(
        "{open}{RESPOND_SEED}<ReissueKeyBinding Id=\"{kb}\">{ki}\
         <Status StatusValue=\"http://www.w3.org/2002/03/xkms#Valid\"/></ReissueKeyBinding>\
         {kba}{pop}</ReissueRequest>",
        open = c.open("ReissueRequest", &id, ""),
        ki = cert_key_info(&cert),
        kba = c.kba(&kb),
        pop = c.pop(&kb),
    );
    let signed = c.sign_kba(&request, "ReissueKeyBinding", &k_auth("secret"));
    let signed = c.sign_pop(&signed, "ReissueKeyBinding", &joe);
    let r = c.exchange("T102 Reissue", &signed);
    ok("T102", &r);
    let reissued = certificates(&r).remove(0);
    assert_ne!(reissued, cert);
    assert_eq!(certified_modulus(dir.path(), &reissued), joe.modulus);

    // T103: recover the T101 key asynchronously with the single-use code "secret1".
    server.authorize_joe("secret1", "recover");
    let (id, kb) = (c.id(), c.id());
    let request = format!(
        "{open}<ResponseMechanism>http://www.w3.org/2002/03/xkms#Pending</ResponseMechanism>\
         {RESPOND_SEED}<RespondWith>http://www.w3.org/2002/03/xkms#PrivateKey</RespondWith>\
         <RecoverKeyBinding Id=\"{kb}\">{ki}<Status StatusValue=\"http://www.w3.org/2002/03/xkms#Indeterminate\"/>\
         </RecoverKeyBinding>{kba}</RecoverRequest>",
        open = c.open("RecoverRequest", &id, ""),
        ki = cert_key_info(&generated_cert),
        kba = c.kba(&kb),
    );
    let signed = c.sign_kba(&request, "RecoverKeyBinding", &k_auth("secret1"));
    let r = c.exchange("T103 Recover", &signed);
    assert_eq!(codes(&r).0, "Pending", "{r}");
    let response_id = attr(&r, "RecoverResult", "Id").unwrap();
    let mut done = false;
    for _ in 0..200 {
        let status_id = c.id();
        let status = format!(
            "{}</StatusRequest>",
            c.open(
                "StatusRequest",
                &status_id,
                &format!(" OriginalRequestId=\"{id}\" ResponseId=\"{response_id}\""),
            )
        );
        let r = c.exchange("T103 Status", &status);
        // While the worker has not finished the job, the StatusResult itself is Pending.
        let (major, minor) = codes(&r);
        if major == "Pending" {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        assert_eq!(major, "Success", "T103 Status: {major}/{minor}\n{r}");
        if attr(&r, "StatusResult", "Success").as_deref() == Some("1") {
            done = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(done, "the recovery did not finish");
    let pending_id = c.id();
    let pending = format!(
        "{}</PendingRequest>",
        c.open(
            "PendingRequest",
            &pending_id,
            &format!(" OriginalRequestId=\"{id}\" ResponseId=\"{response_id}\""),
        )
    );
    let r = c.exchange("T103 PendingRequest", &pending);
    ok("T103 PendingRequest", &r);
    assert_eq!(
        decrypted_modulus(dir.path(), &r, "secret1"),
        generated_modulus
    );

    // T104: revoke the reissued binding with the pass phrase.
    let code = SharedSecret::new(PHRASE.into())
        .revocation_code(SASL)
        .unwrap();
    let (id, kb) = (c.id(), c.id());
    let request = format!(
        "{open}<RevokeKeyBinding Id=\"{kb}\">{ki}\
         <Status StatusValue=\"http://www.w3.org/2002/03/xkms#Indeterminate\"/></RevokeKeyBinding>\
         <RevocationCode>{code}</RevocationCode></RevokeRequest>",
        open = c.open("RevokeRequest", &id, ""),
        ki = cert_key_info(&reissued),
        code = B64.encode(code),
    );
    let r = c.exchange("T104 Revoke by code", &request);
    ok("T104", &r);
    assert!(r.contains("#Invalid"), "{r}");

    // Revoke by KeyBindingAuthentication: the generated key's binding.
    let (id, kb) = (c.id(), c.id());
    let request = format!(
        "{open}<RevokeKeyBinding Id=\"{kb}\">{ki}\
         <Status StatusValue=\"http://www.w3.org/2002/03/xkms#Indeterminate\"/></RevokeKeyBinding>\
         {kba}</RevokeRequest>",
        open = c.open("RevokeRequest", &id, ""),
        ki = cert_key_info(&generated_cert),
        kba = c.kba(&kb),
    );
    let signed = c.sign_kba(&request, "RevokeKeyBinding", &k_auth("secret"));
    let r = c.exchange("Revoke by KBA", &signed);
    ok("Revoke by KBA", &r);

    // X-KISS: Locate by the S/MIME address, Validate the (revoked) certificate.
    let id = c.id();
    let locate = format!(
        "{open}{RESPOND_SEED}<QueryKeyBinding><UseKeyWith Application=\"urn:ietf:rfc:2633\" \
         Identifier=\"joe@example.com\"/></QueryKeyBinding></LocateRequest>",
        open = c.open("LocateRequest", &id, ""),
    );
    let r = c.exchange("Locate", &locate);
    ok("Locate", &r);
    assert_eq!(r.matches("UnverifiedKeyBinding ").count(), 2, "{r}");
    let id = c.id();
    let validate = format!(
        "{open}<QueryKeyBinding>{ki}</QueryKeyBinding></ValidateRequest>",
        open = c.open("ValidateRequest", &id, ""),
        ki = cert_key_info(&reissued),
    );
    let r = c.exchange("Validate", &validate);
    ok("Validate", &r);
    assert!(r.contains("#RevocationStatus"), "{r}");

    // Compound: a Locate and a Validate of the same binding (their Ids must differ).
    let (id, locate_id, validate_id) = (c.id(), c.id(), c.id());
    let compound = format!(
        "{open}<LocateRequest Id=\"{locate_id}\" Service=\"{service}\">{RESPOND_SEED}\
         <QueryKeyBinding>{ki}</QueryKeyBinding></LocateRequest>\
         <ValidateRequest Id=\"{validate_id}\" Service=\"{service}\">\
         <QueryKeyBinding>{ki}</QueryKeyBinding></ValidateRequest></CompoundRequest>",
        open = c.open("CompoundRequest", &id, ""),
        ki = cert_key_info(&reissued),
    );
    let r = c.exchange("Compound", &compound);
    ok("Compound", &r);
    assert!(
        r.contains("LocateResult") && r.contains("ValidateResult"),
        "{r}"
    );

    // Two-phase: Represent, then the same request with the Nonce.
    let first = c.id();
    let query = "<QueryKeyBinding><UseKeyWith Application=\"urn:ietf:rfc:2633\" \
                 Identifier=\"joe@example.com\"/></QueryKeyBinding>";
    let locate = format!(
        "{open}<ResponseMechanism>http://www.w3.org/2002/03/xkms#Represent</ResponseMechanism>\
         {query}</LocateRequest>",
        open = c.open("LocateRequest", &first, ""),
    );
    let r = c.exchange("two-phase Represent", &locate);
    assert_eq!(codes(&r).0, "Represent", "{r}");
    let nonce = attr(&r, "LocateResult", "Nonce").unwrap();
    let second = c.id();
    let locate = format!(
        "{open}{query}</LocateRequest>",
        open = c.open(
            "LocateRequest",
            &second,
            &format!(" Nonce=\"{nonce}\" OriginalRequestId=\"{first}\""),
        ),
    );
    let r = c.exchange("two-phase second", &locate);
    ok("two-phase", &r);
    assert_eq!(
        attr(&r, "LocateResult", "RequestId").as_deref(),
        Some(second.as_str())
    );

    c.received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rec_era_client_completes_the_lifecycle_over_every_binding() {
    let mut received = Vec::new();
    for (wire, c14n) in [
        (Wire::Soap12, C14n::Inclusive),
        (Wire::Soap11, C14n::Inclusive),
        (Wire::Soap12Crowded, C14n::Inclusive),
        (Wire::Soap11, C14n::Exclusive),
        (Wire::Bare, C14n::Inclusive),
    ] {
        received.extend(lifecycle(wire, c14n).await);
    }
    let dir = tempfile::tempdir().unwrap();
    common::schema::validate_all(dir.path(), &received);
}

/// An external CA (`openssl`): a root the service trusts by configuration, and leaves
/// whose signatures our verifier cannot judge — one signed by a 512-bit intermediate, one
/// signed with SHA-1 — plus a leaf of a CA the service does not know.
struct ExternalPki {
    root: std::path::PathBuf,
    /// (leaf, its intermediate), DER.
    weak_key_chain: (Vec<u8>, Vec<u8>),
    sha1_chain: (Vec<u8>, Vec<u8>),
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = tool("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn der_of(dir: &std::path::Path, pem: &str) -> Vec<u8> {
    let der = format!("{pem}.der");
    openssl(dir, &["x509", "-in", pem, "-outform", "DER", "-out", &der]);
    std::fs::read(dir.join(der)).unwrap()
}

impl ExternalPki {
    fn create(dir: &std::path::Path) -> ExternalPki {
        std::fs::write(
            dir.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        std::fs::write(dir.join("leaf.ext"), "keyUsage=critical,digitalSignature\n").unwrap();
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "root.key",
                "-out",
                "root.pem",
                "-subj",
                "/CN=External Root",
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let chain = |name: &str, bits: &str, leaf_digest: &str| -> (Vec<u8>, Vec<u8>) {
            let (int_key, int_csr, int_pem) = (
                format!("{name}-int.key"),
                format!("{name}-int.csr"),
                format!("{name}-int.pem"),
            );
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    &format!("rsa_keygen_bits:{bits}"),
                    "-out",
                    &int_key,
                ],
            );
            openssl(
                dir,
                &[
                    "req",
                    "-new",
                    "-key",
                    &int_key,
                    "-subj",
                    &format!("/CN={name} Intermediate"),
                    "-out",
                    &int_csr,
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &int_csr,
                    "-CA",
                    "root.pem",
                    "-CAkey",
                    "root.key",
                    "-set_serial",
                    "2",
                    "-days",
                    "30",
                    "-sha256",
                    "-extfile",
                    "ca.ext",
                    "-out",
                    &int_pem,
                ],
            );
            let (leaf_key, leaf_csr, leaf_pem) = (
                format!("{name}-leaf.key"),
                format!("{name}-leaf.csr"),
                format!("{name}-leaf.pem"),
            );
            openssl(
                dir,
                &[
                    "req",
                    "-new",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &leaf_key,
                    "-subj",
                    &format!("/CN={name} Leaf"),
                    "-out",
                    &leaf_csr,
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &leaf_csr,
                    "-CA",
                    &int_pem,
                    "-CAkey",
                    &int_key,
                    "-set_serial",
                    "3",
                    "-days",
                    "30",
                    leaf_digest,
                    "-extfile",
                    "leaf.ext",
                    "-out",
                    &leaf_pem,
                ],
            );
            (der_of(dir, &leaf_pem), der_of(dir, &int_pem))
        };
        ExternalPki {
            root: dir.join("root.pem"),
            weak_key_chain: chain("Weak", "512", "-sha256"),
            sha1_chain: chain("Sha1", "2048", "-sha1"),
        }
    }
}

fn chain_key_info(leaf: &[u8], intermediate: &[u8]) -> String {
    format!(
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate>\
         <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
        B64.encode(leaf),
        B64.encode(intermediate)
    )
}

/// Every `Id="…"` value of a response.
fn ids(xml: &str) -> Vec<String> {
    xml.match_indices(" Id=\"")
        .map(|(at, m)| {
            let v = &xml[at + m.len()..];
            v[..v.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// The conformance deviations found with third-party messages, each answered as the REC
/// and the schema say; and every error path of the service, each answer schema-valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deviations_and_error_paths_are_answered_schema_valid() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ExternalPki::create(dir.path());
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        format!(
            "[trust]\nanchors = [\"{}\"]\n[protocol]\ntwo_phase_operations = {{ Validate = \"required\" }}\nsign_results = true\n",
            pki.root.display()
        ),
    )
    .unwrap();
    let server = Server::start_in(data, &["--config", config.to_str().unwrap()]);
    server.authorize_joe("secret", "register");
    let mut c = Legacy::new(
        &server.url.clone(),
        Wire::Soap12,
        C14n::Inclusive,
        dir.path(),
    );
    let joe = RsaKey::generate(dir.path(), "joe");
    let query_joe = "<QueryKeyBinding><UseKeyWith Application=\"urn:ietf:rfc:2633\" \
                     Identifier=\"joe@example.com\"/></QueryKeyBinding>";
    let locate = |c: &Legacy, id: &str, body: &str| {
        format!("{}{body}</LocateRequest>", c.open("LocateRequest", id, ""))
    };

    // ValidityInterval: NotOnOrAfter is one second after the certificate's (inclusive)
    // notAfter.
    let request = t100_request(&mut c, &joe, false);
    let r = c.exchange("T100", &request);
    ok("T100", &r);
    let cert = certificates(&r).remove(0);
    let not_after = {
        let path = dir.path().join("t100.der");
        std::fs::write(&path, &cert).unwrap();
        let out = tool("openssl")
            .args([
                "x509", "-inform", "DER", "-noout", "-enddate", "-dateopt", "iso_8601", "-in",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let iso = text
            .trim()
            .strip_prefix("notAfter=")
            .unwrap()
            .replace(' ', "T");
        time::OffsetDateTime::parse(&iso, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let noa = attr(&r, "ValidityInterval", "NotOnOrAfter").unwrap();
    let noa =
        time::OffsetDateTime::parse(&noa, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(noa, not_after + time::Duration::SECOND);

    // A request Id that is not an NCName: answered, without a RequestId.
    for bad_id in ["?", "CN=Joe Doe,O=Joe Corp"] {
        let request = format!(
            "<LocateRequest xmlns=\"{}\" Id=\"{bad_id}\" Service=\"{}\">{query_joe}</LocateRequest>",
            common::legacy::XKMS,
            c.service
        );
        let r = c.exchange("non-NCName Id", &request);
        assert_eq!(attr(&r, "LocateResult", "RequestId"), None, "{r}");
    }

    // A compound whose inner results return the same binding: every Id unique.
    let (id, a, b) = (c.id(), c.id(), c.id());
    let service = c.service.clone();
    let compound = format!(
        "{open}<LocateRequest Id=\"{a}\" Service=\"{service}\">{query_joe}</LocateRequest>\
         <LocateRequest Id=\"{b}\" Service=\"{service}\">{query_joe}</LocateRequest></CompoundRequest>",
        open = c.open("CompoundRequest", &id, ""),
    );
    let r = c.exchange("compound, one binding twice", &compound);
    ok("compound", &r);
    let all = ids(&r);
    assert_eq!(all.len(), 5, "result, two inner results, two bindings: {r}");
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "duplicate Ids: {r}");

    // Validate of chains our verifier cannot judge: Indeterminate, not Invalid. (Validate
    // is two-phase here: Represent first.)
    for (label, (leaf, intermediate)) in [
        ("512-bit intermediate", &pki.weak_key_chain),
        ("SHA-1 leaf", &pki.sha1_chain),
    ] {
        let first = c.id();
        let body = format!(
            "<ResponseMechanism>http://www.w3.org/2002/03/xkms#Represent</ResponseMechanism>\
             <QueryKeyBinding>{}</QueryKeyBinding>",
            chain_key_info(leaf, intermediate)
        );
        let r = c.exchange(
            label,
            &format!(
                "{}{body}</ValidateRequest>",
                c.open("ValidateRequest", &first, "")
            ),
        );
        assert_eq!(codes(&r).0, "Represent", "{r}");
        let nonce = attr(&r, "ValidateResult", "Nonce").unwrap();
        let second = c.id();
        let body = format!(
            "<QueryKeyBinding>{}</QueryKeyBinding>",
            chain_key_info(leaf, intermediate)
        );
        let open = c.open(
            "ValidateRequest",
            &second,
            &format!(" Nonce=\"{nonce}\" OriginalRequestId=\"{first}\""),
        );
        let r = c.exchange(label, &format!("{open}{body}</ValidateRequest>"));
        ok(label, &r);
        assert_eq!(
            attr(&r, "Status", "StatusValue").as_deref(),
            Some("http://www.w3.org/2002/03/xkms#Indeterminate"),
            "{label}: {r}"
        );
        assert!(r.contains("<IndeterminateReason>http://www.w3.org/2002/03/xkms#Signature</IndeterminateReason>"), "{label}: {r}");
        assert!(!r.contains("InvalidReason"), "{label}: {r}");
    }

    // Locate with a certificate the service does not hold (REC §4.1.2): the key value
    // taken from the certificate.
    let (leaf, _) = &pki.sha1_chain;
    let id = c.id();
    let body = format!(
        "<RespondWith>http://www.w3.org/2002/03/xkms#KeyValue</RespondWith><QueryKeyBinding>{}</QueryKeyBinding>",
        cert_key_info(leaf)
    );
    let request = locate(&c, &id, &body);
    let r = c.exchange("Locate foreign certificate", &request);
    ok("Locate foreign certificate", &r);
    let modulus = B64.decode(&texts(&r, "Modulus")[0]).unwrap();
    assert_eq!(modulus, certified_modulus(dir.path(), leaf));

    // Locate and Validate treat an out-of-range TimeInstant alike.
    let future = "2999-01-01T00:00:00Z";
    let id = c.id();
    let body = format!(
        "<QueryKeyBinding><ds:KeyInfo><ds:KeyName>joe@example.com</ds:KeyName></ds:KeyInfo><TimeInstant Time=\"{future}\"/></QueryKeyBinding>"
    );
    let request = locate(&c, &id, &body);
    let r = c.exchange("Locate future TimeInstant", &request);
    assert_eq!(
        codes(&r),
        ("Sender".into(), "TimeInstantOutOfRange".into()),
        "{r}"
    );
    let id = c.id();
    let r = c.exchange(
        "Validate future TimeInstant",
        &format!("{}<ResponseMechanism>http://www.w3.org/2002/03/xkms#Represent</ResponseMechanism>{body}</ValidateRequest>", c.open("ValidateRequest", &id, "")),
    );
    // Two-phase comes first for Validate here; the TimeInstant is judged on the second leg.
    let nonce = attr(&r, "ValidateResult", "Nonce").unwrap();
    let second = c.id();
    let open = c.open(
        "ValidateRequest",
        &second,
        &format!(" Nonce=\"{nonce}\" OriginalRequestId=\"{id}\""),
    );
    let r = c.exchange(
        "Validate future TimeInstant",
        &format!("{open}{body}</ValidateRequest>"),
    );
    assert_eq!(
        codes(&r),
        ("Sender".into(), "TimeInstantOutOfRange".into()),
        "{r}"
    );

    // Reissue of a binding the service does not hold: Sender/NoMatch.
    let (id, kb) = (c.id(), c.id());
    let request = format!(
        "{open}<ReissueKeyBinding Id=\"{kb}\">{ki}\
         <Status StatusValue=\"http://www.w3.org/2002/03/xkms#Valid\"/></ReissueKeyBinding>{kba}</ReissueRequest>",
        open = c.open("ReissueRequest", &id, ""),
        ki = cert_key_info(leaf),
        kba = c.kba(&kb),
    );
    let signed = c.sign_kba(&request, "ReissueKeyBinding", &k_auth("secret"));
    let r = c.exchange("Reissue unknown binding", &signed);
    assert_eq!(codes(&r), ("Sender".into(), "NoMatch".into()), "{r}");

    // Every other error path, each answer kept for the schema check.
    let cases: Vec<(&str, String, (&str, &str))> = vec![
        (
            "wrong Service",
            format!(
                "<LocateRequest xmlns=\"{}\" Id=\"Iws\" Service=\"http://elsewhere/xkms\">{query_joe}</LocateRequest>",
                common::legacy::XKMS
            ),
            ("Sender", "Failure"),
        ),
        (
            "unknown request element",
            format!(
                "<FrobnicateRequest xmlns=\"{}\" Id=\"Ifr\" Service=\"{}\"/>",
                common::legacy::XKMS,
                c.service
            ),
            ("Sender", "MessageNotSupported"),
        ),
        (
            "not schema-valid",
            format!("{}</LocateRequest>", c.open("LocateRequest", "Ino", "")),
            ("Sender", "Failure"),
        ),
        (
            "unknown ResponseId (Pending)",
            format!(
                "{}</PendingRequest>",
                c.open(
                    "PendingRequest",
                    "Ipe",
                    " ResponseId=\"Inever\" OriginalRequestId=\"Ix\""
                )
            ),
            ("Sender", "UnknownResponseId"),
        ),
        (
            "unknown ResponseId (Status)",
            format!(
                "{}</StatusRequest>",
                c.open(
                    "StatusRequest",
                    "Ist",
                    " ResponseId=\"Inever\" OriginalRequestId=\"Ix\""
                )
            ),
            ("Sender", "UnknownResponseId"),
        ),
        (
            "ResponseLimit 0",
            format!(
                "{}{query_joe}</LocateRequest>",
                c.open("LocateRequest", "Irl", " ResponseLimit=\"0\"")
            ),
            ("Receiver", "TooManyResponses"),
        ),
        (
            "RespondWith PGP",
            format!(
                "{}<RespondWith>http://www.w3.org/2002/03/xkms#PGP</RespondWith>{query_joe}</LocateRequest>",
                c.open("LocateRequest", "Ipg", "")
            ),
            ("Success", "Incomplete"),
        ),
        (
            "RetrievalMethod in a query",
            format!(
                "{}<QueryKeyBinding><ds:KeyInfo><ds:RetrievalMethod URI=\"http://x/y\"/></ds:KeyInfo></QueryKeyBinding></LocateRequest>",
                c.open("LocateRequest", "Irm", "")
            ),
            ("Receiver", "OptionalElementNotSupported"),
        ),
        (
            "two-phase required",
            format!(
                "{}<QueryKeyBinding><ds:KeyInfo><ds:KeyName>joe@example.com</ds:KeyName></ds:KeyInfo></QueryKeyBinding></ValidateRequest>",
                c.open("ValidateRequest", "Itp", "")
            ),
            ("Sender", "RepresentRequired"),
        ),
        (
            "OpaqueClientData echoed",
            format!(
                "{}<OpaqueClientData><OpaqueData>b3BhcXVl</OpaqueData></OpaqueClientData>{query_joe}</LocateRequest>",
                c.open("LocateRequest", "Ioc", "")
            ),
            ("Success", "-"),
        ),
        (
            "no match",
            format!(
                "{}<QueryKeyBinding><ds:KeyInfo><ds:KeyName>nobody@example.com</ds:KeyName></ds:KeyInfo></QueryKeyBinding></LocateRequest>",
                c.open("LocateRequest", "Inm", "")
            ),
            ("Success", "NoMatch"),
        ),
        (
            "Recover without Pending",
            format!(
                "{}<RecoverKeyBinding Id=\"Irk\">{}<Status StatusValue=\"http://www.w3.org/2002/03/xkms#Indeterminate\"/></RecoverKeyBinding><Authentication/></RecoverRequest>",
                c.open("RecoverRequest", "Irc", ""),
                cert_key_info(&cert)
            ),
            ("Receiver", "NotSynchronous"),
        ),
        (
            "Revoke with a wrong code",
            format!(
                "{}<RevokeKeyBinding Id=\"Irv\">{}<Status StatusValue=\"http://www.w3.org/2002/03/xkms#Indeterminate\"/></RevokeKeyBinding><RevocationCode>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</RevocationCode></RevokeRequest>",
                c.open("RevokeRequest", "Irw", ""),
                cert_key_info(&cert)
            ),
            ("Sender", "NoAuthentication"),
        ),
        (
            "Register without authentication",
            format!(
                "{}<PrototypeKeyBinding Id=\"Ipk\"><ds:KeyInfo>{}</ds:KeyInfo></PrototypeKeyBinding><Authentication/></RegisterRequest>",
                c.open("RegisterRequest", "Ina", ""),
                joe.key_value()
            ),
            ("Sender", "NoAuthentication"),
        ),
    ];
    for (label, request, (major, minor)) in cases {
        let r = c.exchange(label, &request);
        assert_eq!(
            codes(&r),
            (major.to_owned(), minor.to_owned()),
            "{label}: {r}"
        );
    }
    // Results are signed here (sign_results): the schema check covers ds:Signature too.
    assert!(c.received.iter().all(|(_, r)| r.contains("<ds:Signature")));
    assert!(
        c.received
            .iter()
            .any(|(_, r)| r.contains("<OpaqueData>b3BhcXVl</OpaqueData>"))
    );

    // Register without proof of possession, and with a key below the minimum.
    let small = dir.path().join("small.pem");
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            small.to_str().unwrap(),
        ],
    );
    let out = tool("openssl")
        .args(["rsa", "-noout", "-modulus", "-in"])
        .arg(&small)
        .output()
        .unwrap();
    let small_key = RsaKey {
        pem: small.clone(),
        modulus: hex::decode(
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .strip_prefix("Modulus=")
                .unwrap(),
        )
        .unwrap(),
    };
    for (label, key, with_pop, expected) in [
        (
            "Register without POP",
            &joe,
            false,
            ("Sender", "ProofOfPossessionRequired"),
        ),
        (
            "Register a 1024-bit key",
            &small_key,
            true,
            ("Sender", "Refused"),
        ),
    ] {
        let (id, kb) = (c.id(), c.id());
        let request = format!(
            "{open}<PrototypeKeyBinding Id=\"{kb}\"><ds:KeyInfo>{kv}<ds:KeyName>joe@example.com</ds:KeyName></ds:KeyInfo>\
             <UseKeyWith Application=\"urn:ietf:rfc:2633\" Identifier=\"joe@example.com\"/></PrototypeKeyBinding>{kba}{pop}</RegisterRequest>",
            open = c.open("RegisterRequest", &id, ""),
            kv = key.key_value(),
            kba = c.kba(&kb),
            pop = if with_pop { c.pop(&kb) } else { String::new() },
        );
        let mut signed = c.sign_kba(&request, "PrototypeKeyBinding", &k_auth("secret"));
        if with_pop {
            signed = c.sign_pop(&signed, "PrototypeKeyBinding", key);
        }
        let r = c.exchange(label, &signed);
        assert_eq!(
            codes(&r),
            (expected.0.to_owned(), expected.1.to_owned()),
            "{label}: {r}"
        );
    }
    // The replayed T100 request: refused (its Id was seen).
    let r = c.exchange("replayed Register", &request);
    assert_eq!(codes(&r), ("Sender".into(), "Refused".into()), "{r}");
    assert_eq!(server.binding_count().await, 1);

    common::schema::validate_all(dir.path(), &c.received);
}

/// Raw bytes over TCP: the deployed clients' request line is repaired, nothing else is.
#[test]
fn sloppy_request_lines_from_deployed_clients_are_accepted_and_nothing_else() {
    use std::io::{Read, Write};
    let server = Server::start();
    let addr = server
        .url
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // Sends `head` and `body`, reads until the server closes; everything received.
    let received = |head: &str, body: &str| -> String {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        String::from_utf8_lossy(&raw).into_owned()
    };
    let exchange = |head: &str, body: &str| -> String {
        received(head, body)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let locate = format!(
        "<LocateRequest xmlns=\"{}\" Id=\"Iraw\" Service=\"{}\"><QueryKeyBinding>\
         <KeyUsage>http://www.w3.org/2002/03/xkms#Signature</KeyUsage>\
         <UseKeyWith Application=\"urn:ietf:rfc:2633\" Identifier=\"x@example.com\"/>\
         </QueryKeyBinding></LocateRequest>",
        common::legacy::XKMS,
        server.url
    );
    let post = |line: &str| {
        format!(
            "{line}\r\nContent-Type: text/xml; charset=utf-8\r\nHost: {addr}\r\n\
             Content-Length: {}\r\nSOAPAction: \"\"\r\n\r\n",
            locate.len()
        )
    };
    // Repaired: answered (and, HTTP/1.0, closed — read_to_end returned).
    assert_eq!(
        exchange(&post("POST /xkmsHTTP/1.0"), &locate),
        "HTTP/1.0 200 OK"
    );
    assert_eq!(
        exchange(&post("POST /xkms?a=bHTTP/1.0"), &locate),
        "HTTP/1.0 200 OK"
    );
    assert_eq!(
        exchange("GET /healthzHTTP/1.0\r\nHost: h\r\n\r\n", ""),
        "HTTP/1.0 200 OK"
    );
    // `POST /HTTP/1.0` reaches the router (no such route), it is not a parse error.
    assert_eq!(
        exchange(&post("POST /HTTP/1.0"), &locate),
        "HTTP/1.0 404 Not Found"
    );
    // A repaired HTTP/1.1 connection is not kept alive: one answer, then close.
    let answers = received(
        &format!(
            "GET /healthzHTTP/1.1\r\nHost: {addr}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        ),
        "",
    );
    assert!(answers.starts_with("HTTP/1.1 200 OK"), "{answers}");
    assert_eq!(answers.matches("HTTP/1.1 ").count(), 1, "{answers}");
    // Every other malformed request line: 400.
    for line in [
        "POST /xkms  HTTP/1.0",
        "POST /xkmsHTTP/2.0",
        "POST /xkmsHTTP/1.10",
        "POST /xkmshttp/1.0",
        "POSTxkmsHTTP/1.0",
    ] {
        assert_eq!(
            exchange(&post(line), &locate),
            "HTTP/1.1 400 Bad Request",
            "{line}"
        );
    }
    // A well-formed HTTP/1.0 request without keep-alive: answered, then closed.
    assert_eq!(
        exchange(&post("POST /xkms HTTP/1.0"), &locate),
        "HTTP/1.0 200 OK"
    );
}
