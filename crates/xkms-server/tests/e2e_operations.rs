//! What an operator of the real `xkmsd` binary relies on: `check-config` checks what
//! `serve` checks and creates nothing; log lines without colour codes in files, in JSON
//! on request, with millisecond durations of three decimals; `--version`; completions
//! and manual pages generated from the command line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use std::path::Path;
use std::process::{Command, Output};
use xkms_client::XkmsClient;
use xkms_client::locate::LocateParams;
use xkms_proto::RespondWith;

fn xkmsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xkmsd"))
        .args(args)
        .env_remove("XKMS_DATA_DIR")
        .env_remove("XKMS_DATABASE_URL")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every entry under `dir`, recursively, with its size (to see that nothing changed).
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            out.push((entry.path().display().to_string(), meta.len()));
            if meta.is_dir() {
                out.extend(listing(&entry.path()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn check_config_checks_what_serve_checks_and_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_arg = data.to_str().unwrap();
    let write = |name: &str, body: &str| {
        let path = root.path().join(name);
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let junk = write("junk.pem", "not a certificate\n");
    let configs = [
        ("good.toml", String::new(), None),
        (
            "mysql.toml",
            "[database]\nurl = \"mysql://db.example/xkms\"\n".to_owned(),
            Some("store URL must start with sqlite:, postgres: or postgresql:"),
        ),
        (
            "missing-anchor.toml",
            "[trust]\nanchors = [\"/nonexistent/roots.pem\"]\n".to_owned(),
            Some("[trust] trust anchor /nonexistent/roots.pem"),
        ),
        (
            "junk-anchor.toml",
            format!("[trust]\nanchors = [\"{junk}\"]\n"),
            Some("not an X.509 certificate"),
        ),
        (
            "junk-crl.toml",
            format!("[trust]\ncrls = [\"{junk}\"]\n"),
            Some("not a CRL"),
        ),
        (
            "policy.toml",
            "[policy]\nregister = \"sometimes\"\n".to_owned(),
            Some("policy.register"),
        ),
    ];
    for (name, body, error) in &configs {
        let config = write(name, body);
        let before = listing(root.path());
        let out = xkmsd(&["check-config", "--config", &config, "--data-dir", data_arg]);
        match error {
            None => {
                assert!(out.status.success(), "{name}: {}", text(&out.stderr));
                let stdout = text(&out.stdout);
                assert!(stdout.starts_with("configuration OK\n"), "{stdout}");
                assert!(stdout.contains("will be created"), "{stdout}");
            }
            Some(error) => {
                assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stdout));
                assert!(
                    text(&out.stderr).contains(error),
                    "{name}: {}",
                    text(&out.stderr)
                );
            }
        }
        assert_eq!(
            listing(root.path()),
            before,
            "{name}: check-config created something"
        );
        assert!(!data.exists());
    }

    // serve fails on the same problems before it creates a data directory or a CA.
    for (name, _, error) in configs.iter().filter(|c| c.2.is_some()) {
        let config = root.path().join(name);
        let out = xkmsd(&[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data_arg,
            "--listen",
            "127.0.0.1:0",
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            text(&out.stderr).contains(error.unwrap()),
            "{name}: {}",
            text(&out.stderr)
        );
        assert!(!data.exists(), "{name}: serve created the data directory");
    }
}

#[test]
fn check_config_reads_an_existing_data_directory() {
    let server = Server::start();
    let dir = server.dir().to_path_buf();
    let data_dir = server.stop();
    let dir_arg = dir.to_str().unwrap();
    let before = listing(&dir);
    let out = xkmsd(&["check-config", "--data-dir", dir_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("  CA: CN=XKMS Demo CA valid until 20"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  data directory {}", dir.display())),
        "{stdout}"
    );
    assert_eq!(listing(&dir), before);

    // A CA key others can read, or a CA certificate without its key: what serve refuses.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.join("ca-key.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = xkmsd(&["check-config", "--data-dir", dir_arg]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("chmod 600"),
            "{}",
            text(&out.stderr)
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::rename(dir.join("ca-key.pem"), dir.join("ca-key.pem.away")).unwrap();
    let out = xkmsd(&["check-config", "--data-dir", dir_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the CA key is missing"),
        "{}",
        text(&out.stderr)
    );
    drop(data_dir);
}

/// `duration_ms` values of the request lines in a text log.
fn text_durations(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("xkms request"))
        .filter_map(|l| l.split("duration_ms=").nth(1))
        .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
        .collect()
}

fn assert_three_decimals(value: &str) {
    let decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
    assert!(
        decimals <= 3 && value.parse::<f64>().is_ok(),
        "duration {value:?}"
    );
}

async fn one_request(server: &Server) {
    XkmsClient::new(&server.url)
        .locate(&LocateParams {
            key_names: vec!["nobody@example.com".into()],
            respond_with: vec![RespondWith::KeyName],
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn logs_are_plain_in_files_and_json_on_request() {
    let server = Server::start();
    one_request(&server).await;
    let log = server.log().await;
    let data_dir = server.stop();
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
    let durations = text_durations(&log);
    assert!(!durations.is_empty(), "{log}");
    durations.iter().for_each(|d| assert_three_decimals(d));

    let server = Server::start_in(data_dir, &["--log-format", "json"]);
    one_request(&server).await;
    let log = server.log().await;
    drop(server);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["fields"]["message"] == "xkms request")
        .unwrap_or_else(|| panic!("no request line:\n{log}"));
    assert_eq!(request["fields"]["operation"], "Locate");
    assert_eq!(request["fields"]["result_minor"], "NoMatch");
    assert_three_decimals(&request["fields"]["duration_ms"].to_string());
}

/// Colour only on a terminal, and not even there with NO_COLOR: `script` gives the
/// command a pseudo-terminal.
#[test]
fn colour_follows_the_terminal_and_no_color() {
    let on_terminal = |no_color: bool| {
        let dir = tempfile::tempdir().unwrap();
        let command = format!(
            "{} admin ca-certificate --data-dir {}",
            env!("CARGO_BIN_EXE_xkmsd"),
            dir.path().display()
        );
        let mut script = common::tools::tool("script");
        script.args(["-q", "-e", "-c", &command, "/dev/null"]);
        script
            .env("XKMS_CA_KEY_TYPE", "rsa2048")
            .env_remove("NO_COLOR");
        if no_color {
            script.env("NO_COLOR", "1");
        }
        let out = script.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let shown = text(&out.stdout);
        assert!(shown.contains("created a new CA"), "{shown}");
        shown.contains('\u{1b}')
    };
    assert!(on_terminal(false), "no colour on a terminal");
    assert!(!on_terminal(true), "colour despite NO_COLOR");
}

#[test]
fn version_completions_and_manual_pages() {
    let out = xkmsd(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("xkmsd {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = xkmsd(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(
            script.contains("check-config") && script.contains("log-format"),
            "{shell}: {script}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man1");
    let out = xkmsd(&["man", man.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let serve = std::fs::read_to_string(man.join("xkmsd-serve.1")).unwrap();
    assert!(serve.starts_with(".ie"), "not roff: {serve}");
    assert!(serve.contains("\\-\\-listen"), "{serve}");
    for page in [
        "xkmsd.1",
        "xkmsd-check-config.1",
        "xkmsd-admin-pending-approve.1",
        "xkmsd-admin-authorize.1",
    ] {
        assert!(man.join(page).is_file(), "{page} missing");
    }
}
