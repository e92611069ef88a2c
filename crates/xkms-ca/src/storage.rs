//! CA files on disk, published without clobbering.
//!
//! A file is written in full to a private temporary name, fsynced, then
//! hard-linked to its final name. `link(2)` fails if the name exists, which
//! gives O_EXCL semantics with atomic contents: of two processes creating
//! the CA at once exactly one wins, and the other reads complete files.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::CaError;

/// Reads a file, `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Zeroizing<String>>, CaError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(Zeroizing::new(s))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CaError::io("reading", path, e)),
    }
}

/// Publishes `contents` at `dir/name` unless that file already exists.
/// Returns `true` if this call created it. `mode` is the Unix permission
/// of the new file (ignored elsewhere).
pub fn publish_exclusive(
    dir: &Path,
    name: &str,
    contents: &[u8],
    mode: u32,
) -> Result<bool, CaError> {
    let target = dir.join(name);
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        random_tag()?
    ));
    let result =
        write_new(&tmp, contents, mode).and_then(|()| match fs::hard_link(&tmp, &target) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(CaError::io("publishing", &target, e)),
        });
    // The temporary name goes away in every case; the content survives
    // under `target` if we won.
    let _ = fs::remove_file(&tmp);
    if matches!(result, Ok(true)) {
        sync_dir(dir);
    }
    result
}

/// Refuses a private key file that group or others can access.
pub fn check_private_mode(path: &Path) -> Result<(), CaError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|e| CaError::io("inspecting", path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CaError::InsecureKeyFile {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .map_err(|e| CaError::io("creating", path, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| CaError::io("writing", path, e))
}

fn sync_dir(dir: &Path) {
    // Best effort: makes the new directory entry durable on Unix; opening a
    // directory fails on some platforms, which is harmless.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn random_tag() -> Result<String, CaError> {
    let mut b = [0u8; 6];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| CaError::Crypto("random number generator failed"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_publish_does_not_clobber() {
        let dir = tempfile::tempdir().unwrap();
        assert!(publish_exclusive(dir.path(), "f", b"one", 0o600).unwrap());
        assert!(!publish_exclusive(dir.path(), "f", b"two", 0o600).unwrap());
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"one");
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        check_private_mode(&dir.path().join("f")).unwrap();
        assert!(publish_exclusive(dir.path(), "g", b"x", 0o644).unwrap());
        #[cfg(unix)]
        assert!(matches!(
            check_private_mode(&dir.path().join("g")),
            Err(CaError::InsecureKeyFile { .. })
        ));
    }
}
