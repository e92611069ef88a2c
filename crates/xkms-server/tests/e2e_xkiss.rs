//! End-to-end X-KISS: Locate and Validate against the real `xkmsd` over HTTP on
//! loopback — seed T100's Joe, W3C test XKISS-T1 (Bob's encryption key), ResponseLimit,
//! NoMatch, RetrievalMethod, and Validate of our own and of external certificates made
//! with the openssl CLI (configured anchor + intermediate + CRLs; expired, not yet valid,
//! wrong usage, unknown issuer).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, openssl};
use std::path::{Path, PathBuf};
use xkms_client::locate::LocateParams;
use xkms_client::validate::ValidateParams;
use xkms_client::{ClientKey, RegisterParams, Registered, XkmsClient};
use xkms_proto::{
    Application, KeyUsage, KeyValue, Reason, RespondWith, ResultMajor, ResultMinor, StatusValue,
    UseKeyWith,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

const SEED_DN: &str = "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe";
const ALL_REASONS: [Reason; 4] = [
    Reason::IssuerTrust,
    Reason::RevocationStatus,
    Reason::ValidityInterval,
    Reason::Signature,
];

fn smime(address: &str) -> UseKeyWith {
    UseKeyWith {
        application: Application::Smime,
        identifier: address.into(),
    }
}

/// Registers a fresh client key for `address` (authorized with secret "secret").
async fn register(
    client: &XkmsClient,
    address: &str,
    extra: Vec<UseKeyWith>,
    usage: Vec<KeyUsage>,
) -> (ClientKey, Registered) {
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new("secret".into());
    let mut use_key_with = vec![smime(address)];
    use_key_with.extend(extra);
    let registered = client
        .register(&RegisterParams {
            key: Some(&key),
            key_name: Some(address.into()),
            use_key_with,
            key_usage: usage,
            respond_with: vec![RespondWith::X509Cert],
            response_mechanism: vec![],
            secret: &secret,
            preparation: SecretPreparation::SaslPrep,
            revocation_phrase: None,
        })
        .await
        .unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);
    (key, registered)
}

async fn register_joe(server: &Server, client: &XkmsClient) -> (ClientKey, Registered) {
    server.authorize_joe("secret", "register");
    let pkix = UseKeyWith {
        application: Application::Pkix,
        identifier: SEED_DN.into(),
    };
    register(client, "joe@example.com", vec![pkix], vec![]).await
}

#[tokio::test]
async fn locate_and_validate_joe_after_t100() {
    let server = Server::start();
    let client = XkmsClient::new(&server.url);
    let (key, registered) = register_joe(&server, &client).await;
    let cert = registered.certificate().unwrap().to_vec();

    // By S/MIME address (another case) and by KeyName.
    for params in [
        LocateParams {
            use_key_with: vec![smime("Joe@Example.COM")],
            ..Default::default()
        },
        LocateParams {
            key_names: vec!["joe@example.com".into()],
            ..Default::default()
        },
    ] {
        let params = LocateParams {
            respond_with: vec![
                RespondWith::KeyName,
                RespondWith::KeyValue,
                RespondWith::X509Cert,
            ],
            ..params
        };
        let result = client.locate(&params).await.unwrap();
        assert_eq!(result.result.result_major, ResultMajor::Success);
        assert_eq!(result.result.result_minor, None);
        assert_eq!(result.unverified_key_bindings.len(), 1);
        let ukb = &result.unverified_key_bindings[0];
        let ki = ukb.core.key_info.as_ref().unwrap();
        assert_eq!(ki.key_names, vec!["joe@example.com".to_string()]);
        let KeyValue::Rsa(rsa) = &ki.key_values[0] else {
            panic!("RSA key value expected")
        };
        assert_eq!(rsa.modulus, key.modulus());
        assert_eq!(ki.x509_data[0].certificates, vec![cert.clone()]);
        assert!(ukb.validity_interval.is_some());
        assert!(
            ukb.core
                .use_key_with
                .iter()
                .any(|u| u.application == Application::Pkix)
        );
    }

    // Validate Joe's certificate: Valid with all four ValidReasons.
    let result = client
        .validate(&ValidateParams {
            certificates: vec![cert.clone()],
            use_key_with: vec![smime("joe@example.com")],
            respond_with: vec![RespondWith::KeyName],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(result.result.result_major, ResultMajor::Success);
    let kb = &result.key_bindings[0];
    assert_eq!(kb.status.status_value, StatusValue::Valid);
    assert_eq!(kb.status.valid_reasons, ALL_REASONS.to_vec());
    assert_eq!(
        kb.core.key_info.as_ref().unwrap().key_names,
        vec!["joe@example.com".to_string()]
    );

    // Validate by name only: the stored binding's certificate is evaluated.
    let result = client
        .validate(&ValidateParams {
            key_names: vec!["joe@example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        result.key_bindings[0].status.status_value,
        StatusValue::Valid
    );

    // RetrievalMethod points at the certificate the server publishes; X509CRL is ours.
    let result = client
        .locate(&LocateParams {
            key_names: vec!["joe@example.com".into()],
            respond_with: vec![RespondWith::RetrievalMethod, RespondWith::X509Crl],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(result.result.result_minor, None);
    let ki = result.unverified_key_bindings[0]
        .core
        .key_info
        .clone()
        .unwrap();
    let url = &ki.retrieval_methods[0].uri;
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status().as_u16(), 200, "{url}");
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), cert);
    assert_eq!(ki.x509_data[0].crls.len(), 1);

    // A TimeInstant a day ahead cannot be answered.
    let result = client
        .validate(&ValidateParams {
            certificates: vec![cert],
            time_instant: Some(time::OffsetDateTime::now_utc() + time::Duration::days(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (result.result.result_major, result.result.result_minor),
        (
            ResultMajor::Sender,
            Some(ResultMinor::TimeInstantOutOfRange)
        )
    );
}

#[tokio::test]
async fn xkiss_t1_response_limit_and_no_match() {
    let server = Server::start();
    let client = XkmsClient::new(&server.url);
    server.authorize("bob@example.com", "secret", "register");
    let (bob, _) = register(
        &client,
        "bob@example.com",
        vec![],
        vec![KeyUsage::Encryption],
    )
    .await;

    // XKISS-T1.
    let t1 = LocateParams {
        use_key_with: vec![smime("bob@example.com")],
        key_usage: vec![KeyUsage::Encryption],
        respond_with: vec![RespondWith::KeyName, RespondWith::KeyValue],
        ..Default::default()
    };
    let result = client.locate(&t1).await.unwrap();
    assert_eq!(result.result.result_major, ResultMajor::Success);
    assert_eq!(result.result.result_minor, None);
    assert_eq!(result.unverified_key_bindings.len(), 1);
    let ukb = &result.unverified_key_bindings[0];
    assert!(ukb.core.id.is_some());
    let ki = ukb.core.key_info.as_ref().unwrap();
    assert_eq!(ki.key_names, vec!["bob@example.com".to_string()]);
    let KeyValue::Rsa(rsa) = &ki.key_values[0] else {
        panic!("RSAKeyValue expected")
    };
    assert_eq!(
        (rsa.modulus.as_slice(), rsa.exponent.as_slice()),
        (bob.modulus(), bob.exponent())
    );
    assert_eq!(ukb.core.key_usage, vec![KeyUsage::Encryption]);

    // Bob's key is not a signature key.
    let result = client
        .locate(&LocateParams {
            key_usage: vec![KeyUsage::Signature],
            ..t1.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        (result.result.result_major, result.result.result_minor),
        (ResultMajor::Success, Some(ResultMinor::NoMatch))
    );

    // A second and third key for Bob: ResponseLimit 2 → TooManyResponses with 2.
    register(
        &client,
        "bob@example.com",
        vec![],
        vec![KeyUsage::Encryption],
    )
    .await;
    register(&client, "bob@example.com", vec![], vec![]).await;
    let result = client
        .locate(&LocateParams {
            response_limit: Some(2),
            ..t1.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        (result.result.result_major, result.result.result_minor),
        (ResultMajor::Success, Some(ResultMinor::TooManyResponses))
    );
    assert_eq!(result.unverified_key_bindings.len(), 2);
    let all = client.locate(&t1).await.unwrap();
    assert_eq!(all.unverified_key_bindings.len(), 3);

    // NoMatch for an unknown address; an empty query is the sender's failure.
    let result = client
        .locate(&LocateParams {
            use_key_with: vec![smime("nobody@example.com")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (result.result.result_major, result.result.result_minor),
        (ResultMajor::Success, Some(ResultMinor::NoMatch))
    );
    let result = client.locate(&LocateParams::default()).await.unwrap();
    assert_eq!(
        (result.result.result_major, result.result.result_minor),
        (ResultMajor::Sender, Some(ResultMinor::Failure))
    );
}

/// An external PKI made with `openssl ca`: root, intermediate, their CRLs, and leaves.
struct ExternalPki {
    dir: PathBuf,
}

impl ExternalPki {
    fn new(dir: &Path) -> ExternalPki {
        let dir = dir.join("ext-pki");
        std::fs::create_dir_all(dir.join("new")).unwrap();
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("serial"), "1000\n").unwrap();
        std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
        let cnf = format!(
            r#"[ ca ]
default_ca = ext
[ ext ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 7
policy = any
unique_subject = no
email_in_dn = no
[ any ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ leaf_sig ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = email:alice@example.com
"#,
            dir = dir.display()
        );
        std::fs::write(dir.join("ca.cnf"), cnf).unwrap();
        let pki = ExternalPki { dir };
        let root_key = pki.path("root.key");
        let root = pki.path("root.pem");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &root_key,
            "-out",
            &root,
            "-subj",
            "/CN=External Root",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &pki.path("inter.key"),
            "-out",
            &pki.path("inter.csr"),
            "-subj",
            "/CN=External Issuing CA",
        ]);
        pki.sign("root", "inter.csr", "inter.pem", "v3_ca", None);
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &pki.path("leaf.key"),
            "-out",
            &pki.path("leaf.csr"),
            "-subj",
            "/CN=Alice",
        ]);
        openssl(&[
            "ca",
            "-batch",
            "-config",
            &pki.path("ca.cnf"),
            "-gencrl",
            "-cert",
            &root,
            "-keyfile",
            &root_key,
            "-out",
            &pki.path("root.crl"),
        ]);
        openssl(&[
            "ca",
            "-batch",
            "-config",
            &pki.path("ca.cnf"),
            "-gencrl",
            "-cert",
            &pki.path("inter.pem"),
            "-keyfile",
            &pki.path("inter.key"),
            "-out",
            &pki.path("inter.crl"),
        ]);
        pki
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// Signs `csr` with `issuer` ("root" or "inter"); `dates` = (start, end) as
    /// YYYYMMDDHHMMSSZ, default: from now for a year.
    fn sign(&self, issuer: &str, csr: &str, out: &str, ext: &str, dates: Option<(&str, &str)>) {
        let cert = self.path(&format!("{issuer}.pem"));
        let key = self.path(&format!("{issuer}.key"));
        let (cnf, csr, out) = (self.path("ca.cnf"), self.path(csr), self.path(out));
        let mut args = vec![
            "ca",
            "-batch",
            "-notext",
            "-config",
            &cnf,
            "-cert",
            &cert,
            "-keyfile",
            &key,
            "-in",
            &csr,
            "-out",
            &out,
            "-extensions",
            ext,
        ];
        match dates {
            Some((start, end)) => args.extend(["-startdate", start, "-enddate", end]),
            None => args.extend(["-days", "365"]),
        }
        openssl(&args);
    }

    /// A leaf for Alice signed by the intermediate.
    fn leaf(&self, name: &str, dates: Option<(&str, &str)>) -> Vec<u8> {
        self.sign("inter", "leaf.csr", name, "leaf_sig", dates);
        der_of(&self.path(name))
    }

    fn config(&self, with_intermediate: bool) -> PathBuf {
        let mut text = format!(
            "[trust]\nanchors = [\"{}\"]\ncrls = [\"{}\", \"{}\"]\n",
            self.path("root.pem"),
            self.path("root.crl"),
            self.path("inter.crl")
        );
        if with_intermediate {
            text.push_str(&format!(
                "intermediates = [\"{}\"]\n",
                self.path("inter.pem")
            ));
        }
        let path = self.dir.join(format!("xkmsd-{with_intermediate}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn der_of(pem_path: &str) -> Vec<u8> {
    let text = std::fs::read(pem_path).unwrap();
    xkms_client::pem::decode_all(&text, xkms_client::pem::Label::Certificate)
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn validate_external_certificates() {
    let scratch = tempfile::tempdir().unwrap();
    let pki = ExternalPki::new(scratch.path());
    let good = pki.leaf("good.pem", None);
    let expired = pki.leaf("expired.pem", Some(("20200101000000Z", "20210101000000Z")));
    let future = pki.leaf("future.pem", Some(("20990101000000Z", "20991231000000Z")));
    let inter = der_of(&pki.path("inter.pem"));

    let data_dir = tempfile::tempdir().unwrap();
    let config = pki.config(true);
    let server = Server::start_in(data_dir, &["--config", config.to_str().unwrap()]);
    let client = XkmsClient::new(&server.url);
    let validate = |certificates: Vec<Vec<u8>>, usage: Vec<KeyUsage>| {
        let client = client.clone();
        async move {
            let result = client
                .validate(&ValidateParams {
                    certificates,
                    key_usage: usage,
                    respond_with: vec![RespondWith::X509Chain],
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(result.result.result_major, ResultMajor::Success);
            result
        }
    };

    // Through the configured intermediate, CRLs current: Valid, all four reasons, and
    // X509Chain returns the path up to the anchor.
    let result = validate(vec![good.clone()], vec![KeyUsage::Signature]).await;
    let kb = &result.key_bindings[0];
    assert_eq!(
        kb.status.status_value,
        StatusValue::Valid,
        "{:?}",
        kb.status
    );
    assert_eq!(kb.status.valid_reasons, ALL_REASONS.to_vec());
    let certs = &kb.core.key_info.as_ref().unwrap().x509_data[0].certificates;
    assert_eq!(certs.len(), 3);
    assert_eq!(certs[1], inter);

    // Expired and not yet valid: Invalid ValidityInterval only.
    for cert in [expired, future] {
        let result = validate(vec![cert], vec![]).await;
        let status = &result.key_bindings[0].status;
        assert_eq!(status.status_value, StatusValue::Invalid);
        assert_eq!(status.invalid_reasons, vec![Reason::ValidityInterval]);
    }

    // Wrong usage: the certificate is a signature certificate.
    let result = validate(vec![good.clone()], vec![KeyUsage::Encryption]).await;
    let status = &result.key_bindings[0].status;
    assert_eq!(status.status_value, StatusValue::Invalid);
    assert_eq!(status.valid_reasons, ALL_REASONS.to_vec());
    assert!(status.invalid_reasons.is_empty());

    // An unknown issuer: a self-signed certificate nobody configured.
    let stranger = scratch.path().join("stranger.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        scratch.path().join("stranger.key").to_str().unwrap(),
        "-out",
        stranger.to_str().unwrap(),
        "-subj",
        "/CN=Stranger",
        "-days",
        "30",
    ]);
    let result = validate(vec![der_of(stranger.to_str().unwrap())], vec![]).await;
    let status = &result.key_bindings[0].status;
    assert_eq!(status.status_value, StatusValue::Invalid);
    assert_eq!(status.invalid_reasons, vec![Reason::IssuerTrust]);
    drop(server);

    // Without the intermediate configured: unknown issuer, until the request brings it.
    let data_dir = tempfile::tempdir().unwrap();
    let config = pki.config(false);
    let server = Server::start_in(data_dir, &["--config", config.to_str().unwrap()]);
    let client = XkmsClient::new(&server.url);
    let ask = |certificates: Vec<Vec<u8>>| {
        let client = client.clone();
        async move {
            client
                .validate(&ValidateParams {
                    certificates,
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    let alone = ask(vec![good.clone()]).await;
    assert_eq!(
        alone.key_bindings[0].status.invalid_reasons,
        vec![Reason::IssuerTrust]
    );
    let chained = ask(vec![good, inter]).await;
    assert_eq!(
        chained.key_bindings[0].status.status_value,
        StatusValue::Valid
    );
}
