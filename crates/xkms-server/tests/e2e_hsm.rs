//! The CA key in a PKCS#11 token (issue 11), with SoftHSM2 and the real binary: the key is
//! generated inside the token on the first start of an empty store and never written to
//! the data directory; T100 certificates, the CRL and the result-signing certificate are
//! signed through the token (checked by `openssl`); a restart signs with the same token
//! key; a store with records refuses a token without the key; `check-config` reports the
//! token key's protection and refuses a wrong PIN or a readable PIN file. Also the CA key
//! file encrypted under a passphrase (PKCS#8 PBES2), read by `openssl pkey -passin`, and a
//! key file encrypted by `openssl pkcs8 -topk8` used by the service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tools::tool;
use common::{SEED_DN, Server, certificate_pem, openssl, refused, succeeded, t100_params};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use xkms_client::{ClientKey, XkmsClient};
use xkms_proto::ResultMajor;
use xkms_xmlsec::kdf::SharedSecret;

/// Where Debian's softhsm2 package puts the module.
const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "4711-pin";

/// A SoftHSM2 token store in a temporary directory, with its own configuration file
/// (`SOFTHSM2_CONF`, given to every process that uses it).
struct SoftHsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl SoftHsm {
    fn new() -> SoftHsm {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let hsm = SoftHsm { dir, conf };
        assert!(
            Path::new(SOFTHSM_MODULE).exists(),
            "the test needs {SOFTHSM_MODULE}: run scripts/test or apt-get install -y softhsm2"
        );
        hsm
    }

    /// The environment of every process using the tokens (the configuration files name
    /// the key type, which `XKMS_CA_KEY_TYPE` would override).
    fn env(&self) -> [(&str, &str); 1] {
        [("SOFTHSM2_CONF", self.conf.to_str().unwrap())]
    }

    /// `softhsm2-util --init-token --free --label LABEL --pin … --so-pin …`.
    fn init_token(&self, label: &str) {
        let out = tool("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                PIN,
                "--so-pin",
                "so-secret",
            ])
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A configuration file putting the CA key (`key_type`) in token `label`.
    fn config(&self, name: &str, label: &str, key_type: &str, extra: &str) -> PathBuf {
        let pin = self.dir.path().join("pin");
        if !pin.exists() {
            write_private(&pin, &format!("{PIN}\n"));
        }
        let path = self.dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "[ca]\nkey_type = \"{key_type}\"\npkcs11_module = \"{SOFTHSM_MODULE}\"\n\
                 pkcs11_token_label = \"{label}\"\npkcs11_pin_file = {:?}\n{extra}",
                pin.to_str().unwrap()
            ),
        )
        .unwrap();
        path
    }

    /// `xkmsd ARGS --config CONFIG --data-dir DATA` with the token's environment.
    fn xkmsd(&self, args: &[&str], config: &Path, data: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xkmsd"))
            .args(args)
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .envs(self.env())
            .env_remove("XKMS_CA_KEY_TYPE")
            .output()
            .unwrap()
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// Registers a fresh key for Joe; the certificate, written to `dir/name`.
async fn register_joe(server: &Server, name: &str) -> PathBuf {
    let key = ClientKey::generate(2048).unwrap();
    let secret = SharedSecret::new("secret".into());
    let registered = XkmsClient::new(&server.url)
        .register(&t100_params(&key, &secret))
        .await
        .unwrap();
    assert_eq!(registered.result.result.result_major, ResultMajor::Success);
    let path = server.dir().join(name);
    std::fs::write(&path, certificate_pem(registered.certificate().unwrap())).unwrap();
    path
}

fn verified(ca: &Path, cert: &Path) {
    let cert = cert.to_str().unwrap();
    assert_eq!(
        openssl(&["verify", "-CAfile", ca.to_str().unwrap(), cert]).trim(),
        format!("{cert}: OK")
    );
}

#[tokio::test]
async fn t100_with_the_ca_key_in_a_token_and_a_restart() {
    let hsm = SoftHsm::new();
    hsm.init_token("xkms-ca-token");
    let config = hsm.config("xkmsd.toml", "xkms-ca-token", "rsa2048", "");
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_path_buf();

    let before = succeeded(hsm.xkmsd(&["check-config"], &config, &data));
    assert!(
        before.contains("will be generated in the token if the store holds no records"),
        "{before}"
    );
    let config_arg = ["--config", config.to_str().unwrap()];
    let env = hsm.env();
    let server = Server::start_with_env(&data, data_dir, &config_arg, &env);
    succeeded(hsm.xkmsd(
        &[
            "admin",
            "authorize",
            "joe@example.com",
            "--secret",
            "secret",
            "--dn",
            SEED_DN,
        ],
        &config,
        &data,
    ));
    let first = register_joe(&server, "joe-1.pem").await;
    let ca = data.join("ca-from-admin.pem");
    std::fs::write(
        &ca,
        succeeded(hsm.xkmsd(&["admin", "ca-certificate"], &config, &data)),
    )
    .unwrap();
    verified(&ca, &first);
    verified(&ca, &data.join("signing-cert.pem"));

    // The key is in the token only.
    assert!(!data.join("ca-key.pem").exists(), "no CA key file");
    let mut files: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.iter().all(|f| !f.contains("ca-key")), "{files:?}");
    let report = succeeded(hsm.xkmsd(&["check-config"], &config, &data));
    assert!(
        report.contains("token \"xkms-ca-token\", key \"xkms-ca\" (RSA-2048), sensitive, never extractable, generated in the token"),
        "{report}"
    );

    // The CRL is signed by the token key too.
    let crl = data.join("crl.pem");
    std::fs::write(
        &crl,
        succeeded(hsm.xkmsd(&["admin", "crl", "--pem"], &config, &data)),
    )
    .unwrap();
    let crl_check = tool("openssl")
        .args([
            "crl",
            "-in",
            crl.to_str().unwrap(),
            "-noout",
            "-CAfile",
            ca.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&crl_check.stderr).contains("verify OK"),
        "{}",
        String::from_utf8_lossy(&crl_check.stderr)
    );

    // A restart signs with the same key: the new certificate verifies under the old CA.
    let ca_before = std::fs::read(data.join("ca-cert.pem")).unwrap();
    let own = server.stop();
    let server = Server::start_with_env(&data, own, &config_arg, &env);
    let second = register_joe(&server, "joe-2.pem").await;
    verified(&ca, &second);
    assert_eq!(std::fs::read(data.join("ca-cert.pem")).unwrap(), ca_before);
    // Stopped, the data directory kept.
    let _own = server.stop();

    // The store now holds records: a token without the key is refused, nothing created.
    let other = hsm.config(
        "other.toml",
        "xkms-ca-token",
        "rsa2048",
        "pkcs11_key_label = \"another-key\"\n",
    );
    let err = refused(hsm.xkmsd(&["admin", "ca-certificate"], &other, &data));
    assert!(
        err.contains("key \"another-key\" in token \"xkms-ca-token\"")
            && err.contains("Refusing to create a new one"),
        "{err}"
    );
    let again = succeeded(hsm.xkmsd(&["check-config"], &config, &data));
    assert!(again.contains("key \"xkms-ca\""), "{again}");
}

#[tokio::test]
async fn ecdsa_ca_key_in_a_token_signs_what_openssl_verifies() {
    let hsm = SoftHsm::new();
    hsm.init_token("ec-token");
    let config = hsm.config("ec.toml", "ec-token", "ecdsa-p256", "");
    let data = tempfile::tempdir().unwrap();
    let ca = data.path().join("ca-out.pem");
    std::fs::write(
        &ca,
        succeeded(hsm.xkmsd(&["admin", "ca-certificate"], &config, data.path())),
    )
    .unwrap();
    let text = openssl(&["x509", "-in", ca.to_str().unwrap(), "-noout", "-text"]);
    assert!(
        text.contains("prime256v1") && text.contains("ecdsa-with-SHA256"),
        "{text}"
    );
    let tls = tempfile::tempdir().unwrap();
    let cert = tls.path().join("server.pem");
    succeeded(hsm.xkmsd(
        &[
            "admin",
            "server-certificate",
            "--dns",
            "xkms.example",
            "--cert-out",
            cert.to_str().unwrap(),
            "--key-out",
            tls.path().join("server-key.pem").to_str().unwrap(),
        ],
        &config,
        data.path(),
    ));
    verified(&ca, &cert);
    verified(&ca, &data.path().join("signing-cert.pem"));
    assert!(!data.path().join("ca-key.pem").exists());
}

#[test]
fn check_config_refuses_a_wrong_pin_and_a_readable_pin_file() {
    let hsm = SoftHsm::new();
    hsm.init_token("pin-token");
    let config = hsm.config("pin.toml", "pin-token", "rsa2048", "");
    let data = tempfile::tempdir().unwrap();
    succeeded(hsm.xkmsd(&["check-config"], &config, data.path()));

    let pin = hsm.dir.path().join("pin");
    write_private(&pin, "0000\n");
    let err = refused(hsm.xkmsd(&["check-config"], &config, data.path()));
    assert!(err.contains("the PIN is wrong"), "{err}");
    assert!(!err.contains("0000"), "the PIN is never printed: {err}");

    write_private(&pin, &format!("{PIN}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = refused(hsm.xkmsd(&["check-config"], &config, data.path()));
        assert!(err.contains("accessible to group or others"), "{err}");
        std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let wrong_token = hsm.config("none.toml", "no-such-token", "rsa2048", "");
    let err = refused(hsm.xkmsd(&["check-config"], &wrong_token, data.path()));
    assert!(err.contains("no token labelled \"no-such-token\""), "{err}");
    assert!(
        !data.path().join("xkms.db").exists(),
        "check-config created nothing"
    );
}

#[tokio::test]
async fn ca_key_file_encrypted_under_a_passphrase() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_path_buf();
    let secrets = tempfile::tempdir().unwrap();
    let passphrase = secrets.path().join("ca-passphrase");
    write_private(&passphrase, "correct horse battery staple\n");
    let config = secrets.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        format!(
            "[ca]\nkey_passphrase_file = {:?}\n",
            passphrase.to_str().unwrap()
        ),
    )
    .unwrap();
    let config_arg = ["--config", config.to_str().unwrap()];
    let server = Server::start_with_env(&data, data_dir, &config_arg, &[]);
    let admin = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_xkmsd"))
            .args(args)
            .args(config_arg)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    succeeded(admin(&[
        "admin",
        "authorize",
        "joe@example.com",
        "--secret",
        "secret",
        "--dn",
        SEED_DN,
    ]));
    let cert = register_joe(&server, "joe.pem").await;
    let ca = secrets.path().join("ca.pem");
    std::fs::write(&ca, succeeded(admin(&["admin", "ca-certificate"]))).unwrap();
    verified(&ca, &cert);

    // The key file is an EncryptedPrivateKeyInfo that openssl opens with the passphrase
    // and no other.
    let key = data.join("ca-key.pem");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{text}"
    );
    let pass_arg = format!("file:{}", passphrase.display());
    let opened = openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-passin",
        &pass_arg,
        "-pubout",
    ]);
    let ca_pub = openssl(&[
        "x509",
        "-in",
        data.join("ca-cert.pem").to_str().unwrap(),
        "-noout",
        "-pubkey",
    ]);
    assert_eq!(opened, ca_pub, "the file holds the CA's key");
    let parsed = openssl(&["asn1parse", "-in", key.to_str().unwrap()]);
    assert!(
        parsed.contains("PBES2")
            && parsed.contains("PBKDF2")
            && parsed.contains("hmacWithSHA256")
            && parsed.contains("aes-256-cbc"),
        "{parsed}"
    );
    let wrong = tool("openssl")
        .args([
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-passin",
            "pass:wrong",
            "-noout",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    // Stopped, the data directory kept.
    let _own = server.stop();

    // Without the passphrase, or with a wrong one, every command refuses.
    let no_pass = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args(["admin", "ca-certificate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let err = refused(no_pass);
    assert!(
        err.contains("encrypted and no passphrase file is configured"),
        "{err}"
    );
    let report = succeeded(
        Command::new(env!("CARGO_BIN_EXE_xkmsd"))
            .args([
                "check-config",
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
            ])
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert!(
        report.contains("CA: CN=XKMS Demo CA valid until 20")
            && report.contains("(key file encrypted)"),
        "{report}"
    );
    write_private(&passphrase, "correct horse battery stable\n");
    let wrong_pass = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args([
            "check-config",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    let err = refused(wrong_pass);
    assert!(err.contains("passphrase does not decrypt"), "{err}");
}

#[test]
fn a_key_file_encrypted_by_openssl_is_used() {
    let data = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let passphrase = secrets.path().join("pass");
    write_private(&passphrase, "pass phrase from openssl\n");
    let plain = secrets.path().join("plain.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        plain.to_str().unwrap(),
    ]);
    let key = data.path().join("ca-key.pem");
    let pass_arg = format!("file:{}", passphrase.display());
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        plain.to_str().unwrap(),
        "-v2",
        "aes-256-cbc",
        "-passout",
        &pass_arg,
        "-out",
        key.to_str().unwrap(),
    ]);
    write_private(&key, &std::fs::read_to_string(&key).unwrap());
    let config = secrets.path().join("xkmsd.toml");
    std::fs::write(
        &config,
        format!(
            "[ca]\nkey_passphrase_file = {:?}\n",
            passphrase.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args([
            "admin",
            "ca-certificate",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    let ca = secrets.path().join("ca.pem");
    std::fs::write(&ca, succeeded(out)).unwrap();
    let ours = openssl(&["x509", "-in", ca.to_str().unwrap(), "-noout", "-pubkey"]);
    let theirs = openssl(&["pkey", "-in", plain.to_str().unwrap(), "-pubout"]);
    assert_eq!(ours, theirs, "the CA certifies the key openssl encrypted");
}
