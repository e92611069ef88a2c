//! Test harness: the real `xkmsd` binary on a loopback port with a fresh data directory.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod legacy;
pub mod schema;
#[path = "../../../../tests/tools.rs"]
pub mod tools;
use tools::tool;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The X.509 name of seed T100.
pub const SEED_DN: &str = "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe";

/// A running `xkmsd serve`, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub data_dir: tempfile::TempDir,
    /// The data directory the server uses (`data_dir`, or a shared one).
    path: PathBuf,
}

impl Server {
    /// Starts `xkmsd serve` on 127.0.0.1 with a free port and a fresh data directory.
    pub fn start() -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        Server::start_in(data_dir, &[])
    }

    /// Starts on an existing data directory (restart tests) with extra arguments.
    pub fn start_in(data_dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let path = data_dir.path().to_path_buf();
        Server::start_shared(&path, data_dir, extra)
    }

    /// Starts on the data directory `path` (e.g. shared with another node), logging into
    /// `own`.
    pub fn start_shared(path: &Path, own: tempfile::TempDir, extra: &[&str]) -> Server {
        Server::start_with_env(path, own, extra, &[])
    }

    /// [`Server::start_shared`] with extra environment variables (e.g. `SOFTHSM2_CONF`).
    pub fn start_with_env(
        path: &Path,
        own: tempfile::TempDir,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let data_dir = own;
        let log = std::fs::File::create(data_dir.path().join("xkmsd.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(path)
            .args(extra)
            .env("XKMS_CA_KEY_TYPE", "rsa2048")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        // Keep draining stdout so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let Some(url) = line.trim().strip_prefix("xkmsd listening on ") else {
            let _ = child.kill();
            let log =
                std::fs::read_to_string(data_dir.path().join("xkmsd.log")).unwrap_or_default();
            panic!("xkmsd did not start: {line:?}\n{log}");
        };
        Server {
            url: url.to_owned(),
            child,
            data_dir,
            path: path.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Number of key bindings in the store at `url`.
    pub async fn binding_count_at(&self, url: &str) -> u64 {
        let store = xkms_store::open_store(url).await.unwrap();
        store.count_bindings().await.unwrap()
    }

    /// Runs `xkmsd admin ARGS --data-dir DIR`.
    pub fn admin(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_xkmsd"))
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(self.dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xkmsd admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `xkmsd admin authorize IDENTITY --secret SECRET --purpose PURPOSE`.
    pub fn authorize(&self, identity: &str, secret: &str, purpose: &str) {
        self.admin(&[
            "authorize",
            identity,
            "--secret",
            secret,
            "--purpose",
            purpose,
        ]);
    }

    /// The README's T100 authorization: `xkmsd admin authorize joe@example.com --secret
    /// SECRET --dn 'C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe' --purpose PURPOSE` (the
    /// seed's DN is granted besides the e-mail identity).
    pub fn authorize_joe(&self, secret: &str, purpose: &str) {
        self.admin(&[
            "authorize",
            "joe@example.com",
            "--secret",
            secret,
            "--dn",
            SEED_DN,
            "--purpose",
            purpose,
        ]);
    }

    /// The CA certificate as `xkmsd admin ca-certificate` prints it, written to a file.
    pub fn ca_pem_file(&self) -> PathBuf {
        let out = self.admin(&["ca-certificate"]);
        let path = self.dir().join("ca-from-admin.pem");
        std::fs::write(&path, &out.stdout).unwrap();
        path
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir().join("xkms.db").display())
    }

    /// Number of key bindings in the store (read from the real SQLite file).
    pub async fn binding_count(&self) -> u64 {
        use xkms_service::store::KeyBindingStore;
        let store = xkms_store::SqliteStore::connect(&self.db_url())
            .await
            .unwrap();
        store.count_bindings().await.unwrap()
    }

    /// The server's log so far. `xkmsd serve` writes its lines from a background
    /// thread, in the order they were logged: one more request, and waiting until its
    /// line is in the file, makes sure every line logged before is there too.
    pub async fn log(&self) -> String {
        let marker = xkms_client::XkmsClient::new(&self.url)
            .locate(&xkms_client::locate::LocateParams {
                key_names: vec!["log-barrier@example.com".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .result
            .request_id
            .expect("a result names the request it answers");
        let file = self.data_dir.path().join("xkmsd.log");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.contains(marker.as_str()) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the line of request {marker} never reached the log:\n{text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Sends SIGTERM (graceful shutdown) to the server.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the server to exit; its exit status.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.data_dir, dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `openssl ARGS`, returns stdout; panics with stderr on failure.
pub fn openssl(args: &[&str]) -> String {
    let out = tool("openssl")
        .args(args)
        .output()
        .expect("openssl on PATH");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A certificate as PEM.
pub fn certificate_pem(der: &[u8]) -> String {
    xkms_client::pem::encode(xkms_client::pem::Label::Certificate, der)
}

/// `xkmsd ARGS --data-dir DIR` (RSA-2048 for a new CA), not asserting success.
pub fn xkmsd_in(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("XKMS_CA_KEY_TYPE", "rsa2048")
        .output()
        .unwrap()
}

/// The standard output of a run that succeeded (else a panic showing its errors).
pub fn succeeded(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The standard error of an `xkmsd` run that refused (exit status 1).
pub fn refused(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a refusal: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// Seed T100's registration of Joe's `key` (KeyName and S/MIME joe@example.com, the seed
/// DN), authenticated with `secret`, asking for the certificate.
pub fn t100_params<'a>(
    key: &'a xkms_client::ClientKey,
    secret: &'a xkms_xmlsec::kdf::SharedSecret,
) -> xkms_client::RegisterParams<'a> {
    use xkms_proto::{Application, RespondWith, UseKeyWith};
    xkms_client::RegisterParams {
        key: Some(key),
        key_name: Some("joe@example.com".into()),
        use_key_with: vec![
            UseKeyWith {
                application: Application::Smime,
                identifier: "joe@example.com".into(),
            },
            UseKeyWith {
                application: Application::Pkix,
                identifier: SEED_DN.into(),
            },
        ],
        key_usage: vec![],
        respond_with: vec![RespondWith::X509Cert],
        response_mechanism: vec![],
        secret,
        preparation: xkms_xmlsec::kdf::SecretPreparation::SaslPrep,
        revocation_phrase: None,
    }
}
