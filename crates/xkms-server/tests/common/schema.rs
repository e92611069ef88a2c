//! Schema validity of what the service returns: every XKMS element, validated against the
//! W3C `xkms.xsd` (verbatim copy in `crates/xkms-server/schema/`) by `xmllint --schema`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;

use super::tools::tool;

/// Validates every `(label, element)` with one `xmllint` run; panics naming each element
/// that does not validate, with xmllint's reasons.
pub fn validate_all(dir: &Path, elements: &[(String, String)]) {
    assert!(!elements.is_empty(), "nothing to validate");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/xkms.xsd");
    let files: Vec<_> = elements
        .iter()
        .enumerate()
        .map(|(i, (_, xml))| {
            let path = dir.join(format!("response-{i:03}.xml"));
            std::fs::write(&path, xml).unwrap();
            path
        })
        .collect();
    let out = tool("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&schema)
        .args(&files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failed: Vec<String> = files
        .iter()
        .zip(elements)
        .filter(|(file, _)| !stderr.contains(&format!("{} validates", file.display())))
        .map(|(file, (label, xml))| {
            let reasons: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with(&*file.display().to_string()))
                .collect();
            format!("{label}: {}\n{xml}", reasons.join("\n"))
        })
        .collect();
    assert!(
        failed.is_empty() && out.status.success(),
        "{} of {} responses are not schema-valid:\n{}",
        failed.len(),
        elements.len(),
        failed.join("\n\n")
    );
}
