//! The data directory and its key files: private (directory 0700, files 0600), checked
//! at every start, written atomically, and never silently replaced.
//!
//! A new CA, master key, nonce secret or signing key is created only for a store that
//! holds nothing they vouch for (no authorization, key binding or certificate). A store
//! that does, with a key file missing or malformed, is a restore without its key files
//! or a command run from the wrong directory: every command then refuses, naming the
//! file and the backup procedure, instead of starting a second CA.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The escrow / secrets-at-rest master key (32 bytes).
pub const MASTER_KEY_FILE: &str = "master.key";
/// The secret shared by all nodes for two-phase nonces (32 bytes).
pub const SERVICE_SECRET_FILE: &str = "service.key";
/// The service's result-signing key and certificate (issued by the built-in CA).
pub const SIGNING_KEY_FILE: &str = "signing-key.pem";
pub const SIGNING_CERT_FILE: &str = "signing-cert.pem";
/// Length of the two secret files.
const SECRET_LEN: usize = 32;

/// Whether missing key files may be created: only for a store without records.
#[derive(Debug, Clone)]
pub struct Creation {
    allowed: bool,
    /// The store, for messages (password redacted).
    store: String,
}

impl Creation {
    /// Asks the store whether it holds anything key files vouch for.
    pub async fn for_store(
        store: &dyn xkms_service::store::Store,
        url: &str,
    ) -> anyhow::Result<Creation> {
        let holds = store
            .holds_records()
            .await
            .context("asking the store whether it holds records")?;
        Ok(Creation {
            allowed: !holds,
            store: xkms_store::redact_url(url),
        })
    }

    /// Fails unless `path` may be created now.
    pub(crate) fn check(&self, path: &Path, what: &str) -> anyhow::Result<()> {
        self.check_named(&path.display().to_string(), what)
    }

    /// Fails unless the thing called `name` (a file, a key in a token) may be created now.
    pub(crate) fn check_named(&self, name: &str, what: &str) -> anyhow::Result<()> {
        if self.allowed {
            return Ok(());
        }
        bail!(
            "{name} ({what}) is missing, but the store {} already holds authorizations, key \
             bindings or certificates that depend on it. Refusing to create a new one: restore \
             the data directory's key files (and the CA key's token) from the backup \
             (docs/OPERATIONS.md, \"Backups\"), or point --data-dir and the configuration at \
             the deployment that holds them.",
            self.store
        )
    }
}

/// Sets the process umask to 077: every file and directory `xkmsd` creates (database,
/// WAL, key files) is private to the service account.
pub fn restrict_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates the data directory (0700) if missing; tightens it and every file in it to
/// 0700/0600 when wider (with a log line), and refuses what another user owns.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    tighten_data_dir(dir)
}

/// Tightens an existing data directory and every file in it to 0700/0600 (a log line
/// each), refusing what another user owns; creates nothing.
pub fn tighten_data_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    tighten(dir, 0o700)?;
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading data directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading data directory {}", dir.display()))?;
        let kind = entry.file_type()?;
        // Symbolic links are left alone (their target's mode is the target owner's).
        if kind.is_file() {
            tighten(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

/// Clears group and other bits of `path` (to `mode`), refusing a file another user owns.
fn tighten(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta =
            std::fs::metadata(path).with_context(|| format!("inspecting {}", path.display()))?;
        let ours = rustix::process::geteuid().as_raw();
        if meta.uid() != ours {
            bail!(
                "{} belongs to uid {}, not to the service account (uid {ours}): refusing to use \
                 it; give it to the service account (chown) and make it private (chmod {:o})",
                path.display(),
                meta.uid(),
                mode
            );
        }
        let current = meta.permissions().mode() & 0o777;
        if current & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("making {} private", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                was = format!("{current:o}"),
                now = format!("{mode:o}"),
                "tightened the mode of a data file"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// The 32 secret bytes of `dir/name`, created if missing and allowed; refused if the
/// file has any other length.
pub fn open_secret(
    dir: &Path,
    name: &str,
    what: &str,
    creation: &Creation,
) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let path = dir.join(name);
    if !path.exists() {
        creation.check(&path, what)?;
        let bytes = xkms_service::escrow::MasterKey::generate_bytes()?;
        if xkms_ca::publish_exclusive(dir, name, &bytes, 0o600)
            .with_context(|| format!("creating {}", path.display()))?
        {
            tracing::info!(path = %path.display(), "created {what}");
        }
    }
    let bytes = Zeroizing::new(
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    );
    if bytes.len() != SECRET_LEN {
        bail!(
            "{} ({what}) is malformed: {} bytes, expected {SECRET_LEN}. Restore it from the \
             backup (docs/OPERATIONS.md, \"Backups\"); a new one would not open what the old \
             one protects.",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes)
}

/// Writes a new file at `path` with `mode`, atomically and never over an existing one
/// (`xkms_ca::publish_exclusive`).
pub fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a file name", path.display()))?;
    if !xkms_ca::publish_exclusive(dir, name, bytes, mode)
        .with_context(|| format!("writing {}", path.display()))?
    {
        bail!("{} exists: refusing to overwrite it", path.display());
    }
    Ok(())
}

/// Where the signing key files are, and whether they are both present.
pub fn signing_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(SIGNING_KEY_FILE), dir.join(SIGNING_CERT_FILE))
}

/// Checks that a missing signing key may be created.
pub fn may_create_signing_key(path: &Path, creation: &Creation) -> anyhow::Result<()> {
    creation.check(path, "the result-signing key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusing() -> Creation {
        Creation {
            allowed: false,
            store: "sqlite://x.db".into(),
        }
    }

    #[test]
    fn secrets_of_the_wrong_length_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("service.key"), b"").unwrap();
        let err = open_secret(dir.path(), "service.key", "the nonce secret", &refusing())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("service.key") && err.contains("0 bytes"),
            "{err}"
        );
    }

    #[test]
    fn missing_files_are_not_created_for_a_store_with_records() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_secret(dir.path(), "master.key", "the master key", &refusing())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("master.key") && err.contains("Backups"),
            "{err}"
        );
        assert!(!dir.path().join("master.key").exists());
        let allowed = Creation {
            allowed: true,
            ..refusing()
        };
        let created = open_secret(dir.path(), "master.key", "the master key", &allowed).unwrap();
        assert_eq!(created.len(), 32);
    }

    #[cfg(unix)]
    #[test]
    fn wide_modes_are_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(data.join("xkms.db"), b"x").unwrap();
        std::fs::set_permissions(data.join("xkms.db"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        prepare_data_dir(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("xkms.db")), 0o600);
    }
}
