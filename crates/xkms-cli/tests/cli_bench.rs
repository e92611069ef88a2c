//! `xkms bench` runs each workload against a real server (in-process, loopback, real
//! SQLite file and CA) and ends with the summary line. Small counts: this checks
//! behaviour, not speed (figures live in docs/PERFORMANCE.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;

/// Runs `xkms --service URL ARGS…` off the async runtime; (exit code, stdout, stderr).
async fn xkms(url: &str, args: &[&str]) -> (i32, String, String) {
    let run = common::xkms(url, args).await;
    (run.code, run.stdout, run.stderr)
}

/// The last line must be `<op>: <ops/s> ops/s p50=<ms>ms p99=<ms>ms errors=0`.
fn assert_summary(op: &str, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(code, 0, "{stdout}{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    let rest = last.strip_prefix(&format!("{op}: ")).expect(last);
    let (rate, rest) = rest.split_once(" ops/s p50=").expect(last);
    let (p50, rest) = rest.split_once("ms p99=").expect(last);
    let (p99, errors) = rest.split_once("ms errors=").expect(last);
    assert!(rate.parse::<f64>().unwrap() > 0.0, "{last}");
    assert!(
        p50.parse::<f64>().unwrap() <= p99.parse::<f64>().unwrap(),
        "{last}"
    );
    assert_eq!(errors, "0", "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_every_workload() {
    let server = TestServer::start(|c| c.policy.key_pool_size = 2).await;
    let url = server.url.clone();
    let mut config = xkms_server::config::Config {
        data_dir: server.dir.path().to_path_buf(),
        ..Default::default()
    };
    config.ca.key_type = "rsa2048".into();
    let seeded = xkms_server::seed::seed(
        &config,
        &xkms_server::seed::SeedParams {
            count: 30,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(seeded, 30);
    server
        .xkmsd_admin(&[
            "authorize",
            "bench@example.com",
            "--secret",
            "bench secret",
            "--max-uses",
            "20",
        ])
        .await;

    let load = ["--requests", "6", "--concurrency", "2", "--warmup", "1"];
    let request = server.path("locate.xml");
    let (code, out, err) = xkms(
        &url,
        &[
            &[
                "bench",
                "locate",
                "--key-name",
                "user{i}@seed.example",
                "--spread",
                "30",
                "--write-request",
                request.to_str().unwrap(),
            ][..],
            &load,
        ]
        .concat(),
    )
    .await;
    assert_summary("locate", code, &out, &err);
    // The first timed request, as posted: a SOAP 1.2 LocateRequest for a seeded name.
    let written = std::fs::read_to_string(&request).unwrap();
    assert!(
        written
            .starts_with("<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\""),
        "{written}"
    );
    assert!(written.contains("LocateRequest"), "{written}");
    assert!(written.contains("@seed.example</"), "{written}");

    let identity = [
        "--identity",
        "bench@example.com",
        "--secret",
        "bench secret",
    ];
    let record = server.path("record.txt");
    let (code, out, err) = xkms(
        &url,
        &[
            &[
                "bench",
                "register",
                "--keys",
                "2",
                "--record",
                record.to_str().unwrap(),
            ][..],
            &identity,
            &load,
        ]
        .concat(),
    )
    .await;
    assert_summary("register", code, &out, &err);
    // One line per Success (warm-up included): `<serial> <binding id>`, each serial a
    // certificate the store holds.
    let recorded = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<(&str, &str)> = recorded
        .lines()
        .map(|l| l.split_once(' ').expect(l))
        .collect();
    assert_eq!(lines.len(), 7, "{recorded}");
    let serials: std::collections::HashSet<&str> = lines.iter().map(|(s, _)| *s).collect();
    assert_eq!(serials.len(), 7, "{recorded}");
    for (serial, id) in &lines {
        assert_eq!(serial.len(), 32, "{serial}");
        assert!(
            serial
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert!(id.starts_with('I'), "{id}");
        server
            .xkmsd_admin(&["bindings", "show", "--serial", serial])
            .await;
    }
    let (code, out, err) = xkms(
        &url,
        &[
            &["bench", "generate"][..],
            &identity,
            &["--requests", "2", "--warmup", "0"],
        ]
        .concat(),
    )
    .await;
    assert_summary("generate", code, &out, &err);

    // 6 + 1 registrations and 2 generated keys used 9 of the 20 uses; one more for a
    // certificate to validate.
    let cert = server.path("bench.pem");
    let key = server.path("bench.key");
    let (code, out, err) = xkms(
        &url,
        &[
            "register",
            "--key-name",
            "bench@example.com",
            "--secret",
            "bench secret",
            "--key",
            key.to_str().unwrap(),
            "--out",
            cert.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = xkms(
        &url,
        &[
            &["bench", "validate", "--cert", cert.to_str().unwrap()][..],
            &load,
        ]
        .concat(),
    )
    .await;
    assert_summary("validate", code, &out, &err);

    // A workload that cannot succeed counts errors and exits 1.
    let (code, out, _) = xkms(
        &url,
        &[
            &["bench", "locate", "--key-name", "nobody@example.com"][..],
            &load,
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.trim_end().ends_with("errors=6"), "{out}");
}
