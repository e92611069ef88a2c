//! `xkmsd admin seed`: fills the store with synthetic key bindings through the bulk
//! path, so Locate can be measured at a realistic size (1,000,000 bindings).
//!
//! Binding `i` is named `<prefix><i>@<domain>` (KeyName, S/MIME UseKeyWith, PKIX
//! `CN=`), has a random RSA-2048-sized modulus (never used cryptographically, so random
//! bytes suffice) whose SPKI fingerprint is real, a unique random serial (reserved in
//! the same transaction as its row) and a random SubjectKeyIdentifier. Every row carries
//! the same certificate DER: one real certificate the CA signs for the run. Locate by
//! name returns it; Validate of seeded bindings is meaningless (the DER does not match
//! the binding's key) — benchmark Validate with a certificate registered for real.

use crate::config::Config;
use anyhow::Context;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use std::io::Write;
use std::time::Instant;
use time::{Duration, OffsetDateTime};
use xkms_ca::{DistinguishedName, DnAttribute, IssueRequest, RsaPublicKey, Serial};
use xkms_proto::{Application, KeyUsage};
use xkms_service::store::{
    BindingStatus, CertificateRecord, KeyBindingRecord, Registration, StoredUseKeyWith,
};

/// What `xkmsd admin seed` creates.
#[derive(Debug, Clone)]
pub struct SeedParams {
    /// Number of bindings.
    pub count: u64,
    /// Index of the first binding (to grow an already seeded store).
    pub start: u64,
    /// Local part before the index: `user` gives `user0@seed.example`, …
    pub identity_prefix: String,
    pub domain: String,
}

impl Default for SeedParams {
    fn default() -> Self {
        SeedParams {
            count: 0,
            start: 0,
            identity_prefix: "user".into(),
            domain: "seed.example".into(),
        }
    }
}

/// Registrations generated and written per batch (one or more bulk transactions).
const BATCH: u64 = 10_000;
/// Bytes of randomness per binding: modulus, SKI, serial, revocation code identifier.
const MODULUS_LEN: usize = 256;
const RANDOM_PER_ROW: usize = MODULUS_LEN + 20 + 16 + 20;

/// Seeds the store `config` names; progress on stderr. Returns the number written.
pub async fn seed(config: &Config, params: &SeedParams) -> anyhow::Result<u64> {
    let now = OffsetDateTime::now_utc();
    let template = template_certificate(config, now).await?;
    let url = config.database_url();
    let store = BulkStore::open(&url)
        .await
        .with_context(|| format!("opening database {}", xkms_store::redact_url(&url)))?;
    let rng = SystemRandom::new();
    let mut run_id = [0u8; 8];
    rng.fill(&mut run_id)
        .map_err(|_| anyhow::anyhow!("random number generator failed"))?;
    let run_id = u64::from_be_bytes(run_id);
    let started = Instant::now();
    let end = params.start.saturating_add(params.count);
    let mut next = params.start;
    let mut random = Vec::new();
    while next < end {
        let batch_end = end.min(next.saturating_add(BATCH));
        let rows = usize::try_from(batch_end - next)?;
        random.resize(rows * RANDOM_PER_ROW, 0);
        rng.fill(&mut random)
            .map_err(|_| anyhow::anyhow!("random number generator failed"))?;
        let registrations: Vec<Registration> = (next..batch_end)
            .zip(random.chunks_exact(RANDOM_PER_ROW))
            .map(|(i, bytes)| synthetic(params, run_id, i, bytes, &template, now))
            .collect();
        store.insert(&registrations).await?;
        next = batch_end;
        progress(next - params.start, params.count, started);
    }
    eprintln!();
    // Without current statistics PostgreSQL plans Locate's joins as sequential scans.
    store.refresh_statistics().await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "seeded {} key bindings ({}{}..{}@{}) in {elapsed:.1} s",
        params.count,
        params.identity_prefix,
        params.start,
        end.saturating_sub(1),
        params.domain
    );
    store.close().await;
    Ok(params.count)
}

/// The SQLite or PostgreSQL store, for its bulk path (not part of the store traits).
enum BulkStore {
    Sqlite(xkms_store::SqliteStore),
    Postgres(xkms_store::PgStore),
}

impl BulkStore {
    async fn open(url: &str) -> anyhow::Result<BulkStore> {
        let scheme = url
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        Ok(match scheme.as_str() {
            "postgres" | "postgresql" => {
                BulkStore::Postgres(xkms_store::PgStore::connect(url).await?)
            }
            _ => BulkStore::Sqlite(xkms_store::SqliteStore::connect(url).await?),
        })
    }

    async fn insert(&self, registrations: &[Registration]) -> anyhow::Result<()> {
        match self {
            BulkStore::Sqlite(s) => s.bulk_insert_registrations(registrations).await?,
            BulkStore::Postgres(s) => s.bulk_insert_registrations(registrations).await?,
        }
        Ok(())
    }

    async fn refresh_statistics(&self) -> anyhow::Result<()> {
        match self {
            BulkStore::Sqlite(s) => s.refresh_statistics().await?,
            BulkStore::Postgres(s) => s.refresh_statistics().await?,
        }
        Ok(())
    }

    async fn close(&self) {
        match self {
            BulkStore::Sqlite(s) => s.close().await,
            BulkStore::Postgres(s) => s.close().await,
        }
    }
}

/// One real certificate (a random key certified by the CA) whose DER every seeded row
/// carries, so responses have a realistic size and parse.
async fn template_certificate(config: &Config, now: OffsetDateTime) -> anyhow::Result<Vec<u8>> {
    // The whole start-up, so a fresh data directory gets every key file at once.
    let ca = crate::app::admin_service(config).await?.ca().clone();
    let rng = SystemRandom::new();
    let mut modulus = vec![0u8; MODULUS_LEN];
    rng.fill(&mut modulus)
        .map_err(|_| anyhow::anyhow!("random number generator failed"))?;
    let public_key = synthetic_key(&mut modulus);
    let mut subject = DistinguishedName::new();
    subject.push(DnAttribute::CommonName, "xkmsd seed template")?;
    let request = IssueRequest {
        subject,
        public_key,
        email_addresses: vec!["template@seed.example".into()],
        ..IssueRequest::default()
    };
    let serial = Serial::random()?;
    let issued = ca
        .issue(&request, &serial, now)
        .context("signing the seed template certificate")?;
    Ok(issued.der)
}

/// Makes `modulus` look like an RSA modulus (top bit and low bit set), exponent 65537.
fn synthetic_key(modulus: &mut [u8]) -> RsaPublicKey {
    if let Some(first) = modulus.first_mut() {
        *first |= 0x80;
    }
    if let Some(last) = modulus.last_mut() {
        *last |= 0x01;
    }
    RsaPublicKey {
        modulus: modulus.to_vec(),
        exponent: vec![1, 0, 1],
    }
}

fn synthetic(
    params: &SeedParams,
    run_id: u64,
    i: u64,
    random: &[u8],
    template: &[u8],
    now: OffsetDateTime,
) -> Registration {
    let (modulus, rest) = random.split_at(MODULUS_LEN);
    let (ski, rest) = rest.split_at(20);
    let (serial, revocation_code) = rest.split_at(16);
    let mut modulus = modulus.to_vec();
    let key = synthetic_key(&mut modulus);
    let fingerprint = xkms_service::identity::key_fingerprint(&key);
    let mut serial_bytes = [0u8; 16];
    serial_bytes.copy_from_slice(serial);
    // Positive and exactly 16 bytes, as `Serial::random` makes them.
    serial_bytes[0] = (serial_bytes[0] & 0x7f).max(1);
    let address = format!("{}{i}@{}", params.identity_prefix, params.domain).to_lowercase();
    // Unique per run and per row, in the shape of the service's ids ("I" + 32 hex).
    let id = format!("I{run_id:016x}{i:016x}");
    let binding = KeyBindingRecord {
        id: id.clone(),
        key_name: Some(address.clone()),
        modulus: key.modulus,
        exponent: key.exponent,
        key_fingerprint: fingerprint,
        key_usage: vec![KeyUsage::Signature, KeyUsage::Encryption],
        use_key_with: vec![
            StoredUseKeyWith {
                application: Application::Smime,
                identifier: address.clone(),
            },
            StoredUseKeyWith {
                application: Application::Pkix,
                identifier: format!("CN={address}"),
            },
        ],
        status: BindingStatus::Valid,
        revocation_code_identifier: Some(revocation_code.to_vec()),
        authorization_id: None,
        created_at: now,
        revoked_at: None,
    };
    let certificate = CertificateRecord {
        serial: Serial(serial_bytes),
        binding_id: id,
        der: template.to_vec(),
        ski: ski.to_vec(),
        not_before: now,
        not_after: now + Duration::days(365),
        issued_at: now,
        revoked_at: None,
        revocation_reason: None,
    };
    Registration {
        binding,
        certificate,
        authorization_id: None,
        escrowed_private_key: None,
        replay: Vec::new(),
        audit: Vec::new(),
    }
}

/// One progress line on stderr, rewritten in place.
fn progress(done: u64, total: u64, started: Instant) {
    let elapsed = started.elapsed().as_secs_f64().max(1e-3);
    let rate = done as f64 / elapsed;
    let percent = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    };
    let eta = if rate > 0.0 {
        (total - done) as f64 / rate
    } else {
        0.0
    };
    let width = 30usize;
    let filled = ((percent / 100.0) * width as f64) as usize;
    let bar: String = (0..width)
        .map(|k| if k < filled { '#' } else { '-' })
        .collect();
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r[{bar}] {done}/{total} ({percent:.0}%) {rate:.0} bindings/s, ETA {eta:.0} s   "
    );
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_rows_are_distinct_and_consistent() {
        let params = SeedParams::default();
        let now = OffsetDateTime::UNIX_EPOCH;
        let a_bytes = vec![7u8; RANDOM_PER_ROW];
        let b_bytes = vec![9u8; RANDOM_PER_ROW];
        let a = synthetic(&params, 1, 0, &a_bytes, &[0x30], now);
        let b = synthetic(&params, 1, 1, &b_bytes, &[0x30], now);
        assert_eq!(a.binding.key_name.as_deref(), Some("user0@seed.example"));
        assert_eq!(b.binding.key_name.as_deref(), Some("user1@seed.example"));
        assert_ne!(a.binding.id, b.binding.id);
        assert_ne!(a.binding.key_fingerprint, b.binding.key_fingerprint);
        assert_ne!(a.certificate.serial, b.certificate.serial);
        assert_eq!(a.certificate.binding_id, a.binding.id);
        assert_eq!(a.certificate.serial.to_hex().len(), 32);
        assert_eq!(a.binding.modulus.len(), MODULUS_LEN);
        assert!(a.binding.modulus[0] & 0x80 != 0);
        assert_eq!(
            a.binding.use_key_with[0].identifier,
            "user0@seed.example".to_string()
        );
    }
}
