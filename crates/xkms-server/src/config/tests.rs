use super::*;
use std::net::SocketAddr;
use xkms_proto::Operation;

#[test]
fn empty_file_is_the_default() {
    let c: Config = toml::from_str("").unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.server.max_body_bytes, 1 << 20);
    c.check().unwrap();
}

#[test]
fn unknown_fields_are_refused() {
    assert!(toml::from_str::<Config>("[server]\nlisten_on = \"x\"\n").is_err());
    assert!(toml::from_str::<Config>("colour = 1\n").is_err());
}

#[test]
fn env_overrides_apply() {
    let mut c = Config::default();
    c.apply_env(|n| match n {
        "XKMS_LISTEN" => Some("127.0.0.1:9999".into()),
        "XKMS_CA_KEY_TYPE" => Some("ecdsa-p256".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(c.server.listen.port(), 9999);
    c.check().unwrap();
    assert!(
        c.apply_env(|n| (n == "XKMS_LISTEN").then(|| "nope".into()))
            .is_err()
    );
}

#[test]
fn operation_names_are_checked_at_load() {
    let c: Config = toml::from_str(
        "[protocol]\nrequire_signed = [\"register\", \"Revoke\"]\n\
         two_phase_operations = { locate = \"never\" }\n",
    )
    .unwrap();
    assert_eq!(
        c.protocol.require_signed,
        [Operation::Register, Operation::Revoke]
    );
    let policy = c.protocol_policy().unwrap();
    assert_eq!(
        policy.require_signed,
        [Operation::Register, Operation::Revoke]
    );
    assert_eq!(policy.two_phase[0].0, Operation::Locate);
    for bad in [
        "[protocol]\nrequire_signed = [\"Registr\"]\n",
        "[protocol]\ntwo_phase_operations = { Lookup = \"never\" }\n",
    ] {
        let err = toml::from_str::<Config>(bad).unwrap_err().to_string();
        assert!(err.contains("unknown operation (one of Locate,"), "{err}");
    }
}

#[test]
fn tls_files_go_together_and_make_the_uri_https() {
    let mut c = Config::default();
    let bound: SocketAddr = "127.0.0.1:8443".parse().unwrap();
    assert_eq!(c.service_uri(bound), "http://127.0.0.1:8443/xkms");
    c.apply_env(|n| (n == "XKMS_TLS_CERT").then(|| "server.pem".into()))
        .unwrap();
    let err = c.check().unwrap_err().to_string();
    assert!(err.contains("server.tls_cert"), "{err}");
    c.apply_env(|n| (n == "XKMS_TLS_KEY").then(|| "server-key.pem".into()))
        .unwrap();
    c.check().unwrap();
    assert_eq!(c.service_uri(bound), "https://127.0.0.1:8443/xkms");
}

#[test]
fn pkcs11_settings_are_checked() {
    let token = "[ca]\npkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\"\n";
    let c: Config = toml::from_str(token).unwrap();
    assert!(
        c.check()
            .unwrap_err()
            .to_string()
            .contains("pkcs11_token_label")
    );
    let full = format!("{token}pkcs11_token_label = \"ca\"\npkcs11_pin_file = \"pin\"\n");
    let c: Config = toml::from_str(&full).unwrap();
    c.check().unwrap();
    assert_eq!(c.pkcs11_key_label(), "xkms-ca");
    let both: Config = toml::from_str(&format!("{full}key_passphrase_file = \"pass\"\n")).unwrap();
    assert!(
        both.check()
            .unwrap_err()
            .to_string()
            .contains("key_passphrase_file")
    );
    let stray: Config = toml::from_str("[ca]\npkcs11_pin_file = \"pin\"\n").unwrap();
    assert!(
        stray
            .check()
            .unwrap_err()
            .to_string()
            .contains("pkcs11_module")
    );
}

#[test]
fn bad_values_are_named() {
    let c: Config = toml::from_str("[ca]\nkey_type = \"dsa\"\n").unwrap();
    let err = c.check().unwrap_err().to_string();
    assert!(err.contains("ca.key_type"), "{err}");
}

#[test]
fn connection_threads_default_to_one_per_core_and_are_bounded() {
    let c: Config = toml::from_str("").unwrap();
    assert_eq!(c.connection_limits().threads, 0, "0 = one per core");
    let c: Config = toml::from_str("[server]\nthreads = 4\n").unwrap();
    c.check().unwrap();
    assert_eq!(c.connection_limits().threads, 4);
    let c: Config = toml::from_str("[server]\nthreads = 100000\n").unwrap();
    let err = c.check().unwrap_err().to_string();
    assert!(err.contains("server.threads"), "{err}");
}
