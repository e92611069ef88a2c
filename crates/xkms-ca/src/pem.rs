//! Minimal PEM (RFC 7468) encoding and decoding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// Encodes `der` with the given label, 64 columns, trailing newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so any chunk boundary is a char boundary.
        out.extend(chunk.iter().map(|b| char::from(*b)));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes the first PEM block with the given label. Returns `None` when
/// there is no such block or its body is not valid base64.
pub(crate) fn decode(pem: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: Zeroizing<String> = Zeroizing::new(
        pem[start..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    STANDARD.decode(body.as_bytes()).ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..=255).collect();
        let pem = encode("CERTIFICATE", &data);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(decode(&pem, "CERTIFICATE").unwrap().as_slice(), &data[..]);
        assert!(decode(&pem, "PRIVATE KEY").is_none());
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(decode(&crlf, "CERTIFICATE").unwrap().as_slice(), &data[..]);
    }
}
