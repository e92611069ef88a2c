//! `xkmsd admin backup DIR`: a consistent copy of the SQLite database taken while the
//! service runs (`VACUUM INTO`), the data directory's key files with their modes (0600,
//! in a 0700 directory), and `backup.txt`: what is in the backup, the audit chain's head
//! in the copy (compare with `xkmsd admin audit --verify` after a restore), the files'
//! SHA-256, and what is not in it (a PostgreSQL database: `pg_dump`; a CA key in a
//! token; passphrase and PIN files). A backup is as sensitive as the data directory:
//! together its files are everything needed to run the CA.

use std::path::Path;

use anyhow::{Context, bail};
use xkms_store::{SqliteStore, StoreLocation};

use crate::app::admin_service;
use crate::config::Config;
use crate::display::rfc3339;
use crate::keyfiles::{
    MASTER_KEY_FILE, SERVICE_SECRET_FILE, SIGNING_CERT_FILE, SIGNING_KEY_FILE, write_new_file,
};

/// The database file's name in a backup (restored as the data directory's `xkms.db`).
pub const DATABASE_FILE: &str = "xkms.db";
/// The manifest's name in a backup.
pub const MANIFEST_FILE: &str = "backup.txt";

/// Key files copied from the data directory, when present.
const KEY_FILES: [&str; 6] = [
    xkms_ca::CA_KEY_FILE,
    xkms_ca::CA_CERT_FILE,
    MASTER_KEY_FILE,
    SERVICE_SECRET_FILE,
    SIGNING_KEY_FILE,
    SIGNING_CERT_FILE,
];

/// Writes the backup into `dir` (created 0700, or empty).
pub async fn backup(config: &Config, dir: &Path) -> anyhow::Result<()> {
    // Opening the service checks the key files against the store first: a backup of a
    // data directory that cannot serve is refused, not taken.
    let service = admin_service(config).await?;
    create_private_dir(dir)?;
    let mut manifest = format!(
        "xkms backup, {}\n",
        rfc3339(time::OffsetDateTime::now_utc())
    );
    let mut files = Vec::new();
    let url = config.database_url();
    let shown = xkms_store::redact_url(&url);
    match xkms_store::check_url(&url)? {
        StoreLocation::SqliteFile(_) => {
            let target = dir.join(DATABASE_FILE);
            let store = SqliteStore::connect(&url)
                .await
                .with_context(|| format!("opening {shown}"))?;
            let copied = store.backup_into(&target).await;
            store.close().await;
            copied.with_context(|| format!("copying {shown} to {}", target.display()))?;
            let copy = SqliteStore::open_path(&target).await?;
            let head = {
                use xkms_service::store::AuditStore;
                copy.audit_head().await
            };
            copy.close().await;
            let head = head?;
            manifest.push_str(&format!(
                "database: {DATABASE_FILE}, a consistent copy of {shown}; audit chain head \
                 seq {} hash {}\n",
                head.seq,
                crate::display::hex(&head.hash)
            ));
            files.push(DATABASE_FILE);
        }
        StoreLocation::Postgres => {
            manifest.push_str(&format!(
                "database: NOT in this backup ({shown} is PostgreSQL): pg_dump --format=custom \
                 --file {}/xkms.dump DATABASE\n",
                dir.display()
            ));
            println!(
                "the PostgreSQL database is not copied by xkmsd: run pg_dump --format=custom \
                 --file {}/xkms.dump (docs/OPERATIONS.md, \"Backups\")",
                dir.display()
            );
        }
        StoreLocation::SqliteMemory => {
            bail!("{shown} is an in-memory database: nothing to back up")
        }
    }
    drop(service);
    for name in KEY_FILES {
        let source = config.data_dir.join(name);
        if !source.exists() {
            continue;
        }
        copy_private(&source, &dir.join(name))?;
        files.push(name);
    }
    if let Some(module) = &config.ca.pkcs11_module {
        manifest.push_str(&format!(
            "CA key: NOT in this backup: key {:?} in token {:?} ({}); back the token up with \
             its own procedure\n",
            config.pkcs11_key_label(),
            config.ca.pkcs11_token_label.as_deref().unwrap_or_default(),
            module.display()
        ));
    }
    for (setting, path) in [
        ("ca.key_passphrase_file", &config.ca.key_passphrase_file),
        ("ca.pkcs11_pin_file", &config.ca.pkcs11_pin_file),
        ("server.tls_key", &config.server.tls_key),
    ] {
        if let Some(path) = path {
            manifest.push_str(&format!(
                "{setting}: NOT in this backup ({}): keep it with the configuration\n",
                path.display()
            ));
        }
    }
    manifest.push_str("files (SHA-256):\n");
    for name in &files {
        let bytes = std::fs::read(dir.join(name))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
        manifest.push_str(&format!(
            "  {name}  {}\n",
            crate::display::hex(digest.as_ref())
        ));
    }
    manifest.push_str(
        "restore: stop xkmsd, copy these files (not backup.txt) into an empty data directory \
         (mode 0700, files 0600), start; then xkmsd admin audit --verify (docs/OPERATIONS.md)\n",
    );
    write_new_file(&dir.join(MANIFEST_FILE), manifest.as_bytes(), 0o600)?;
    print!("{manifest}");
    println!("backup written to {}", dir.display());
    Ok(())
}

/// Creates `dir` with mode 0700, or accepts an existing empty directory (made 0700).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: a backup goes into a new or empty directory",
            dir.display()
        );
    }
    crate::keyfiles::prepare_data_dir(dir)
}

/// Copies a key file into the backup as a new file, mode 0600.
fn copy_private(source: &Path, target: &Path) -> anyhow::Result<()> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(source).with_context(|| format!("reading {}", source.display()))?,
    );
    write_new_file(target, &bytes, 0o600)
}
