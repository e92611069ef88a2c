//! Test harness for the `xkms` binary: a real server started in-process on a loopback
//! port (real SQLite file, real CA), operator commands parsed from an `xkmsd` command
//! line and run on the same data directory, and `xkms` run as a process.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../../../../tests/tools.rs"]
pub mod tools;

use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A server on 127.0.0.1 with its own data directory (removed on drop).
pub struct TestServer {
    pub url: String,
    pub dir: tempfile::TempDir,
    running: xkms_server::admin::Running,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.running.handle.abort();
    }
}

impl TestServer {
    /// Starts a server; `tweak` adjusts the configuration (policy, …) first.
    pub async fn start(tweak: impl FnOnce(&mut xkms_server::config::Config)) -> TestServer {
        TestServer::start_in(tempfile::tempdir().unwrap(), tweak).await
    }

    /// Starts an HTTPS server with a certificate the built-in CA issued for
    /// `localhost` and `127.0.0.1` (`xkmsd admin server-certificate`, run first on the
    /// same data directory); the CA certificate is `ca-cert.pem` in it.
    pub async fn start_tls(tweak: impl FnOnce(&mut xkms_server::config::Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("xkmsd.toml");
        std::fs::write(&config, "[ca]\nkey_type = \"rsa2048\"\n").unwrap();
        let (cert, key) = (
            dir.path().join("tls-cert.pem"),
            dir.path().join("tls-key.pem"),
        );
        admin_in(
            dir.path(),
            &[
                "server-certificate",
                "--dns",
                "localhost",
                "--ip",
                "127.0.0.1",
                "--cert-out",
                s(&cert),
                "--key-out",
                s(&key),
                "--config",
                s(&config),
            ],
        )
        .await;
        TestServer::start_in(dir, |config| {
            config.server.tls_cert = Some(cert);
            config.server.tls_key = Some(key);
            tweak(config);
        })
        .await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut xkms_server::config::Config),
    ) -> TestServer {
        let mut config = xkms_server::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.ca.key_type = "rsa2048".into();
        config.policy.key_pool_size = 1;
        tweak(&mut config);
        let running = xkms_server::admin::start(config).await.unwrap();
        TestServer {
            url: running.service_uri.clone(),
            dir,
            running,
        }
    }

    /// A path in the data directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs an operator command as `xkmsd admin ARGS… --data-dir DIR` would: the real
    /// command-line definition and admin code, in-process (this crate's tests have no
    /// `xkmsd` binary).
    pub async fn xkmsd_admin(&self, args: &[&str]) {
        admin_in(self.dir.path(), args).await;
    }

    /// `xkmsd admin authorize IDENTITY --secret SECRET`.
    pub async fn authorize(&self, identity: &str, secret: &str) {
        self.xkmsd_admin(&["authorize", identity, "--secret", secret])
            .await;
    }

    /// The README's T100 authorization: joe@example.com, the seed DN granted too.
    pub async fn authorize_joe(&self, secret: &str) {
        self.xkmsd_admin(&[
            "authorize",
            "joe@example.com",
            "--secret",
            secret,
            "--dn",
            "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe",
        ])
        .await;
    }
}

/// Runs `xkmsd admin ARGS… --data-dir DIR` in-process: the real command-line definition
/// and admin code.
pub async fn admin_in(dir: &Path, args: &[&str]) {
    let mut argv = vec!["xkmsd", "admin"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--data-dir", s(dir)]);
    let cli = xkms_server::cli::Cli::try_parse_from(&argv).unwrap();
    let xkms_server::cli::Command::Admin { command } = cli.command else {
        panic!("not an admin command: {argv:?}");
    };
    xkms_server::admin::run(command, |common| {
        let mut config = xkms_server::config::Config::load(common.config.as_deref())?;
        if let Some(dir) = &common.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    })
    .await
    .unwrap_or_else(|e| panic!("xkmsd {argv:?}: {e:#}"));
}

/// What a finished `xkms` run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// An `xkms --service URL` command.
pub fn xkms_command(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xkms"));
    cmd.args(["--service", url]).stdin(Stdio::null());
    cmd
}

/// Runs `xkms --service URL ARGS…` off the async runtime.
pub async fn xkms(url: &str, args: &[&str]) -> Run {
    let mut cmd = xkms_command(url);
    cmd.args(args);
    run(cmd).await
}

/// Runs a prepared command off the async runtime.
pub async fn run(mut cmd: Command) -> Run {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `openssl ARGS`, returns stdout; panics with stderr on failure.
pub fn openssl(args: &[&str]) -> String {
    let out = tools::tool("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A path as `&str` (test paths are UTF-8).
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}
