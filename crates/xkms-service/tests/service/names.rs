//! Finding 1: names nobody authorized ended up in certificates.

use crate::harness::*;
use crate::tools;
use xkms_client::locate::LocateParams;
use xkms_proto::{Application, Request, ResultMessage};
use xkms_service::store::Purpose;
use xkms_xmlsec::kdf::SharedSecret;

/// Every request names joe@example.com (so Joe's code is found) and asks for one name
/// the code does not grant: each is refused and nothing is stored.
#[tokio::test]
async fn names_not_granted_are_refused_and_nothing_is_stored() {
    let h = Harness::new().await;
    h.authorize("joe@example.com", "secret", Purpose::Register, &[])
        .await;
    h.authorize("CN=Mallory,O=Evil", "evil", Purpose::Register, &[])
        .await;
    let joe = SharedSecret::new("secret".into());
    let evil = SharedSecret::new("evil".into());
    let mail = || ukw(Application::Smime, "joe@example.com");
    let cases: Vec<(&str, Vec<_>, &SharedSecret)> = vec![
        // A bank's web server name, as subject and as DNS name.
        (
            "joe@example.com",
            vec![mail(), ukw(Application::TlsHttps, "www.bank.example")],
            &joe,
        ),
        (
            "joe@example.com",
            vec![mail(), ukw(Application::Pkix, "CN=www.bank.example")],
            &joe,
        ),
        // A wildcard and an IP address.
        (
            "joe@example.com",
            vec![
                mail(),
                ukw(Application::TlsHttps, "*.example.com"),
                ukw(Application::Ipsec, "10.1.2.3"),
            ],
            &joe,
        ),
        // A URI and an XKMS service identifier.
        (
            "joe@example.com",
            vec![mail(), ukw(Application::Tls, "https://www.bank.example/")],
            &joe,
        ),
        // A KeyName that is someone's host name.
        ("www.bank.example", vec![mail()], &joe),
        // The seed DN without `--dn`.
        ("joe@example.com", seed_names(), &joe),
        // A DN code asking for someone else's e-mail address.
        (
            "CN=Mallory,O=Evil",
            vec![ukw(Application::Smime, "alice@example.com")],
            &evil,
        ),
    ];
    for (key_name, names, secret) in cases {
        let result = h
            .register(&params(Some(key()), key_name, names.clone(), secret, None))
            .await;
        assert_eq!(codes(&result), refused(), "{key_name} {names:?}");
    }
    assert_eq!(h.bindings().await, 0, "nothing stored");

    // Locate by alice@example.com finds no key of Mallory's.
    let locate = h.client.locate_request(&LocateParams {
        use_key_with: vec![ukw(Application::Smime, "alice@example.com")],
        ..Default::default()
    });
    let ResultMessage::Locate(found) = h.process(&document(&Request::Locate(locate))).await else {
        panic!()
    };
    assert!(found.unverified_key_bindings.is_empty());
}

/// Names the operator granted are certified, and the certificate is good for the
/// purposes its names fit, checked by `openssl verify -purpose`.
#[tokio::test]
async fn granted_names_are_certified_for_fitting_purposes_only() {
    let h = Harness::new().await;
    let dn = format!("dn:{SEED_DN}");
    h.authorize(
        "joe@example.com",
        "secret",
        Purpose::Register,
        &[&dn, "dns:www.joe.example"],
    )
    .await;
    let secret = SharedSecret::new("secret".into());
    let mut names = seed_names();
    names.push(ukw(Application::TlsHttps, "www.joe.example"));
    let server = h
        .register(&params(
            Some(key()),
            "joe@example.com",
            names,
            &secret,
            None,
        ))
        .await;
    assert_eq!(codes(&server), success());
    let t100 = h.register(&t100(Some(&fresh_key()), &secret)).await;
    assert_eq!(codes(&t100), success());

    let dir = h.dir.path();
    std::fs::write(dir.join("ca.pem"), h.service.ca().certificate_pem()).unwrap();
    let pem = |der: &[u8]| xkms_client::pem::encode(xkms_client::pem::Label::Certificate, der);
    std::fs::write(dir.join("server.pem"), pem(&certificate_of(&server))).unwrap();
    std::fs::write(dir.join("t100.pem"), pem(&certificate_of(&t100))).unwrap();
    let verify = |file: &str, extra: &[&str]| {
        tools::tool("openssl")
            .args(["verify", "-CAfile", "ca.pem"])
            .args(extra)
            .arg(file)
            .current_dir(dir)
            .output()
            .unwrap()
            .status
            .success()
    };
    let server_for = |host: &'static str| ["-purpose", "sslserver", "-verify_hostname", host];
    assert!(verify("server.pem", &server_for("www.joe.example")));
    assert!(!verify("server.pem", &server_for("www.bank.example")));
    assert!(verify("server.pem", &["-purpose", "smimesign"]));
    assert!(verify("t100.pem", &["-purpose", "smimesign"]));
    assert!(verify("t100.pem", &["-purpose", "sslclient"]));
    assert!(
        !verify("t100.pem", &["-purpose", "sslserver"]),
        "no DNS name granted, no TLS server"
    );
}

/// A new certificate for an existing binding repeats all its names, so the code that
/// asks for it must grant them all: a code for just the binding's DN does not do.
#[tokio::test]
async fn reissue_needs_every_name_of_the_binding_granted() {
    let h = Harness::new().await;
    h.authorize_joe().await;
    h.authorize(SEED_DN, "dn only", Purpose::Register, &[])
        .await;
    let secret = SharedSecret::new("secret".into());
    let registered = h.register(&t100(Some(key()), &secret)).await;
    assert_eq!(codes(&registered), success());
    let reissue = |code: &str| {
        h.reissue_document(
            certificate_of(&registered),
            &SharedSecret::new(code.into()),
            key(),
        )
    };
    let by_dn_code = h.process(&reissue("dn only")).await;
    assert_eq!(
        codes(&by_dn_code),
        refused(),
        "joe@example.com is not granted"
    );
    let by_joe = h.process(&reissue("secret")).await;
    assert_eq!(codes(&by_joe), success());
}
