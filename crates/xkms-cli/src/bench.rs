//! `xkms bench`: a load generator for an XKMS service.
//!
//! Every request document is built (and, for X-KRSS, signed: KeyBindingAuthentication
//! HMAC and ProofOfPossession RSA signature) before the timed window opens, so the figure
//! measures the service. The timed window then posts the prepared documents from
//! `--concurrency` tokio tasks sharing one HTTP/1.1 keep-alive client. Progress goes to
//! stderr; the last line on stdout is
//! `<op>: <ops/s> ops/s p50=<ms>ms p99=<ms>ms errors=<n>`.

mod prepare;
mod record;
mod stats;

use crate::output::{errln, outln};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xkms_client::XkmsClient;
use xkms_proto::soap::Binding;
use xkms_proto::{RespondWith, ResultMajor, ResultMessage, StatusValue, UseKeyWith};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// Register client-generated keys (seed T100: KeyBindingAuthentication + ProofOfPossession).
    Register(RegisterArgs),
    /// Register service-generated keys (seed T101); measure with a warm key pool.
    Generate(GenerateArgs),
    /// Locate by KeyName or UseKeyWith.
    Locate(LocateArgs),
    /// Validate a certificate (and its chain).
    Validate(ValidateArgs),
}

/// How much load, and what to observe.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Requests in the timed window.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Requests in flight at once (one connection each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Untimed requests sent first, to open connections and warm caches (default: one
    /// per connection).
    #[arg(long)]
    warmup: Option<usize>,
    /// Process id of xkmsd on this machine: report its CPU use and memory (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also write the first timed request, exactly as posted (the SOAP document), to
    /// FILE, so another load generator can replay it (`scripts/bench` gives it to wrk).
    #[arg(long, value_name = "FILE")]
    write_request: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RegisterArgs {
    /// The identity the authorization code was issued for (KeyName and S/MIME address).
    #[arg(long)]
    identity: String,
    /// The authorization code; create it with `xkmsd admin authorize ID --max-uses N`.
    #[arg(long)]
    secret: String,
    /// Distinct client keys to generate; requests use them in turn (each request is
    /// distinct: own Ids and signatures).
    #[arg(long, default_value_t = 4)]
    keys: usize,
    /// Size of the client keys.
    #[arg(long, default_value_t = 2048)]
    key_bits: usize,
    /// Append one line `<serial> <binding id>` to FILE for every Success received, as
    /// soon as it is received (`scripts/crash-test` checks each is in the store after
    /// the server was killed).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// The identity the authorization code was issued for (KeyName and S/MIME address).
    #[arg(long)]
    identity: String,
    /// The authorization code; create it with `xkmsd admin authorize ID --max-uses N`.
    #[arg(long)]
    secret: String,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct LocateArgs {
    /// KeyName to look for; `{i}` is replaced by a random index below --spread
    /// (e.g. `user{i}@seed.example` against `xkmsd admin seed`).
    #[arg(long, required_unless_present = "use_key_with")]
    key_name: Option<String>,
    /// APPLICATION=IDENTIFIER to look for (`{i}` as for --key-name).
    #[arg(long = "use-key-with", value_parser = crate::args::parse_use_key_with)]
    use_key_with: Option<UseKeyWith>,
    /// Range of `{i}`.
    #[arg(long, default_value_t = 1)]
    spread: u64,
    /// What to return (comma separated).
    #[arg(long, value_delimiter = ',', value_parser = crate::args::parse_respond_with,
          default_value = "KeyName,KeyValue,X509Cert")]
    respond_with: Vec<RespondWith>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Certificate to validate (PEM or DER; first = end entity).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Further certificates sent for path building (PEM, repeatable).
    #[arg(long, value_name = "FILE")]
    chain: Vec<PathBuf>,
    #[command(flatten)]
    load: LoadArgs,
}

/// What a successful answer of a workload looks like.
type Check = fn(&ResultMessage) -> Result<(), String>;

pub async fn run(
    client: &XkmsClient,
    binding: Binding,
    args: BenchArgs,
) -> anyhow::Result<ExitCode> {
    let (op, load) = match &args.workload {
        Workload::Register(a) => ("register", a.load.clone()),
        Workload::Generate(a) => ("generate", a.load.clone()),
        Workload::Locate(a) => ("locate", a.load.clone()),
        Workload::Validate(a) => ("validate", a.load.clone()),
    };
    let concurrency = load.concurrency.max(1);
    let warmup = load.warmup.unwrap_or(concurrency);
    let count = warmup + load.requests;
    let preparing = Instant::now();
    errln!("{op}: preparing {count} requests ({warmup} warm-up) …");
    let prepare = prepare::Prepare { client, binding };
    let recorder = match &args.workload {
        Workload::Register(RegisterArgs {
            record: Some(path), ..
        }) => Some(Arc::new(record::Recorder::append(path)?)),
        _ => None,
    };
    let (mut documents, check): (Vec<String>, Check) = match args.workload {
        Workload::Register(a) => (
            prepare.register(&a.identity, &a.secret, Some((a.keys, a.key_bits)), count)?,
            check_register,
        ),
        Workload::Generate(a) => (
            prepare.register(&a.identity, &a.secret, None, count)?,
            check_register,
        ),
        Workload::Locate(a) => (
            prepare.locate(
                a.key_name.as_deref(),
                a.use_key_with.as_ref(),
                a.spread,
                &a.respond_with,
                count,
            ),
            check_locate,
        ),
        Workload::Validate(a) => {
            let mut certificates = crate::files::read_certificates(&a.cert)?;
            for path in &a.chain {
                certificates.extend(crate::files::read_certificates(path)?);
            }
            (prepare.validate(&certificates, count), check_validate)
        }
    };
    errln!(
        "{op}: prepared in {:.1} s; warming up",
        preparing.elapsed().as_secs_f64()
    );
    let timed = documents.split_off(warmup.min(documents.len()));
    if let Some(path) = &load.write_request {
        let first = timed.first().or(documents.last()).map(String::as_bytes);
        std::fs::write(path, first.unwrap_or_default())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let sink = Sink {
        check,
        recorder: recorder.clone(),
    };
    let warm = run_phase(client, documents, concurrency, sink.clone(), None).await;
    if warm.errors > 0 {
        errln!(
            "{op}: {} warm-up errors (first: {})",
            warm.errors,
            warm.first_error.as_deref().unwrap_or("-")
        );
    }
    let server = load.server_pid.map(|pid| pid.to_string());
    let client_cpu = stats::cpu_seconds("self");
    let server_cpu = server.as_deref().and_then(stats::cpu_seconds);
    let phase = run_phase(client, timed, concurrency, sink, Some(op)).await;
    let client_cpu = stats::cpu_seconds("self")
        .zip(client_cpu)
        .map(|(b, a)| b - a);
    let server_cpu = server
        .as_deref()
        .and_then(stats::cpu_seconds)
        .zip(server_cpu)
        .map(|(b, a)| b - a);

    let wall = phase.elapsed.as_secs_f64().max(1e-9);
    let summary = stats::Summary::of(phase.latencies);
    outln!(
        "{op}: {} requests, concurrency {concurrency}, {wall:.2} s, p90={:.2}ms max={:.2}ms",
        summary.count,
        stats::ms(summary.p90),
        stats::ms(summary.max)
    );
    if let Some(cpu) = client_cpu {
        outln!(
            "{op}: client CPU {cpu:.2} s = {:.0}% of one core",
            cpu / wall * 100.0
        );
    }
    if let (Some(pid), Some(cpu)) = (&server, server_cpu) {
        outln!(
            "{op}: xkmsd (pid {pid}) CPU {cpu:.2} s = {:.0}% of one core; {}",
            cpu / wall * 100.0,
            stats::memory(pid).unwrap_or_else(|| "memory unknown".into())
        );
    }
    if let Some(first) = &phase.first_error {
        errln!("{op}: first error: {first}");
    }
    if let Some(recorder) = &recorder {
        recorder.flush()?;
    }
    outln!(
        "{op}: {:.1} ops/s p50={:.2}ms p99={:.2}ms errors={}",
        summary.count as f64 / wall,
        stats::ms(summary.p50),
        stats::ms(summary.p99),
        phase.errors
    );
    Ok(if phase.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::report::EXIT_RESULT)
    })
}

/// What happens to each answer: checked, and (register with `--record`) recorded.
#[derive(Clone)]
struct Sink {
    check: Check,
    recorder: Option<Arc<record::Recorder>>,
}

impl Sink {
    fn take(&self, result: &ResultMessage) -> Result<(), String> {
        (self.check)(result)?;
        if let Some(recorder) = &self.recorder {
            recorder.record(result)?;
        }
        Ok(())
    }
}

/// What one phase observed.
struct Phase {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

/// Posts every document, `concurrency` at a time; with `progress`, a line per second on
/// stderr.
async fn run_phase(
    client: &XkmsClient,
    documents: Vec<String>,
    concurrency: usize,
    sink: Sink,
    progress: Option<&'static str>,
) -> Phase {
    let total = documents.len();
    let queue = Arc::new(Mutex::new(documents.into_iter()));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(total.max(1)) {
        let client = client.clone();
        let queue = Arc::clone(&queue);
        let done = Arc::clone(&done);
        let sink = sink.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let next = match queue.lock() {
                    Ok(mut q) => q.next(),
                    Err(_) => None,
                };
                let Some(document) = next else { break };
                let sent = Instant::now();
                let outcome = client.post(document).await;
                latencies.push(sent.elapsed());
                let verdict = outcome
                    .map_err(|e| e.to_string())
                    .and_then(|r| sink.take(&r));
                if let Err(e) = verdict {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (latencies, errors, first_error)
        });
    }
    let reporter = progress.map(|op| {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = done.load(Ordering::Relaxed);
                errln!("{op}: {now}/{total} done, {} ops/s", now - last);
                last = now;
            }
        })
    });
    let mut phase = Phase {
        latencies: Vec::with_capacity(total),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((latencies, errors, first_error)) => {
                phase.latencies.extend(latencies);
                phase.errors += errors;
                if phase.first_error.is_none() {
                    phase.first_error = first_error;
                }
            }
            Err(e) => {
                phase.errors += 1;
                phase.first_error.get_or_insert(format!("task failed: {e}"));
            }
        }
    }
    phase.elapsed = started.elapsed();
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    phase
}

fn check_register(result: &ResultMessage) -> Result<(), String> {
    match result {
        ResultMessage::Register(r) => {
            success(&r.result.result_major, r.result.result_minor.as_ref())?;
            if r.key_bindings.is_empty() {
                return Err("RegisterResult without a key binding".into());
            }
            Ok(())
        }
        other => Err(format!(
            "expected RegisterResult, got {}",
            xkms_client::register::result_kind(other)
        )),
    }
}

fn check_locate(result: &ResultMessage) -> Result<(), String> {
    match result {
        ResultMessage::Locate(r) => {
            success(&r.result.result_major, r.result.result_minor.as_ref())?;
            if r.unverified_key_bindings.is_empty() {
                return Err("no key binding found (NoMatch)".into());
            }
            Ok(())
        }
        other => Err(format!(
            "expected LocateResult, got {}",
            xkms_client::register::result_kind(other)
        )),
    }
}

fn check_validate(result: &ResultMessage) -> Result<(), String> {
    match result {
        ResultMessage::Validate(r) => {
            success(&r.result.result_major, r.result.result_minor.as_ref())?;
            match r.key_bindings.first() {
                Some(kb) if kb.status.status_value == StatusValue::Valid => Ok(()),
                Some(kb) => Err(format!("key binding is {:?}", kb.status.status_value)),
                None => Err("ValidateResult without a key binding".into()),
            }
        }
        other => Err(format!(
            "expected ValidateResult, got {}",
            xkms_client::register::result_kind(other)
        )),
    }
}

fn success(major: &ResultMajor, minor: Option<&xkms_proto::ResultMinor>) -> Result<(), String> {
    if *major == ResultMajor::Success {
        return Ok(());
    }
    Err(format!(
        "{} {}",
        major.as_uri(),
        minor.map(|m| m.as_uri()).unwrap_or("")
    ))
}
