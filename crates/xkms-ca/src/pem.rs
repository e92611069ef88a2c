//! PEM for the whole workspace (server, client, CLI), on the `pem-rfc7468` crate.
//!
//! Written strictly (RFC 7468 §3 "strict": 64-column base64, LF line ends, a trailing
//! newline), the form OpenSSL writes and every reader accepts.
//!
//! Read tolerantly, because the files come from people and other tools: a file may hold
//! several blocks (a chain; a key beside its certificate), text around and between them
//! (OpenSSL's `subject=`/`issuer=` lines, comments), blocks of other labels, indented
//! boundary lines, CRLF line ends and base64 lines of any width. Each block is then
//! decoded by `pem-rfc7468`'s strict decoder, so a block with headers (legacy encrypted
//! PEM), bad base64 or no END line of its own label is an error rather than garbage.

use zeroize::Zeroizing;

/// The labels the workspace writes or looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// An X.509 certificate.
    Certificate,
    /// An X.509 CRL.
    X509Crl,
    /// A PKCS#8 `PrivateKeyInfo`.
    PrivateKey,
    /// A PKCS#8 `EncryptedPrivateKeyInfo` (PBES2).
    EncryptedPrivateKey,
    /// A PKCS#1 `RSAPrivateKey`.
    RsaPrivateKey,
}

impl Label {
    /// The label as it stands in the boundary lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Certificate => "CERTIFICATE",
            Label::X509Crl => "X509 CRL",
            Label::PrivateKey => "PRIVATE KEY",
            Label::EncryptedPrivateKey => "ENCRYPTED PRIVATE KEY",
            Label::RsaPrivateKey => "RSA PRIVATE KEY",
        }
    }
}

/// A block that does not decode. Names the label only, never the contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// `-----BEGIN L-----` without a matching `-----END L-----` line.
    #[error("a {label} PEM block has no END line")]
    Unterminated { label: String },
    /// The block's contents are not what RFC 7468 allows (bad base64, headers).
    #[error("a {label} PEM block does not decode ({reason})")]
    Invalid {
        label: String,
        reason: pem_rfc7468::Error,
    },
}

/// `der` as one PEM block. Wrap the result in `Zeroizing` for key material.
pub fn encode(label: Label, der: &[u8]) -> String {
    // Fails only on an invalid label (ours are all valid) or on a length overflowing
    // usize, which needs a slice larger than isize::MAX bytes.
    #[allow(clippy::expect_used)]
    pem_rfc7468::encode_string(label.as_str(), pem_rfc7468::LineEnding::LF, der)
        .expect("a valid label and an in-memory length")
}

/// One block of a PEM text: its label and its contents (or why they do not decode).
#[derive(Debug)]
pub struct Block<'a> {
    pub label: &'a str,
    pub der: Result<Zeroizing<Vec<u8>>, PemError>,
}

impl Block<'_> {
    pub fn is(&self, label: Label) -> bool {
        self.label == label.as_str()
    }
}

/// Every block of `text` in order; text outside blocks is skipped. A text without any
/// `-----BEGIN` line (e.g. DER) has none.
pub fn blocks(text: &[u8]) -> impl Iterator<Item = Block<'_>> {
    let mut lines = text.split(|&b| b == b'\n').map(|l| l.trim_ascii());
    std::iter::from_fn(move || {
        let label = lines.by_ref().find_map(|line| {
            let label = line.strip_prefix(b"-----BEGIN ")?.strip_suffix(b"-----")?;
            std::str::from_utf8(label).ok()
        })?;
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(Vec::new());
        let mut terminated = false;
        for line in lines.by_ref() {
            if line == end.as_bytes() {
                terminated = true;
                break;
            }
            body.extend_from_slice(line);
        }
        let der = if terminated {
            decode_body(label, &body)
        } else {
            Err(PemError::Unterminated {
                label: label.to_owned(),
            })
        };
        Some(Block { label, der })
    })
}

/// The contents of every block labelled `label`, in order (certificates of a chain, CRLs).
/// A block of that label that does not decode is an error; other blocks are ignored.
pub fn decode_all(text: &[u8], label: Label) -> Result<Vec<Vec<u8>>, PemError> {
    blocks(text)
        .filter(|b| b.is(label))
        .map(|b| b.der.map(|mut der| std::mem::take(&mut *der)))
        .collect()
}

/// The contents of the first block with one of `labels` (a key).
pub fn decode_first(text: &[u8], labels: &[Label]) -> Result<Option<Zeroizing<Vec<u8>>>, PemError> {
    match blocks(text).find(|b| labels.iter().any(|&l| b.is(l))) {
        Some(block) => block.der.map(Some),
        None => Ok(None),
    }
}

/// A block body (base64 lines, whitespace removed) re-wrapped in the strict form and
/// decoded by `pem-rfc7468`.
fn decode_body(label: &str, base64: &[u8]) -> Result<Zeroizing<Vec<u8>>, PemError> {
    let invalid = |reason| PemError::Invalid {
        label: label.to_owned(),
        reason,
    };
    let mut strict = Zeroizing::new(Vec::with_capacity(base64.len() + base64.len() / 64 + 64));
    strict.extend_from_slice(format!("-----BEGIN {label}-----\n").as_bytes());
    for line in base64.chunks(64) {
        strict.extend_from_slice(line);
        strict.push(b'\n');
    }
    strict.extend_from_slice(format!("-----END {label}-----\n").as_bytes());
    let mut decoder = pem_rfc7468::Decoder::new(&strict).map_err(invalid)?;
    let mut der = Zeroizing::new(vec![0; decoder.remaining_len()]);
    let len = decoder.decode(&mut der).map_err(invalid)?.len();
    if !decoder.is_finished() {
        return Err(invalid(pem_rfc7468::Error::Length));
    }
    der.truncate(len);
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_strict_form() {
        let data: Vec<u8> = (0..=255).collect();
        let pem = encode(Label::Certificate, &data);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.ends_with("\n-----END CERTIFICATE-----\n"));
        let body: Vec<&str> = pem
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("-----"))
            .collect();
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
        assert_eq!(
            decode_all(pem.as_bytes(), Label::Certificate).unwrap(),
            vec![data]
        );
        assert_eq!(
            encode(Label::X509Crl, b"x"),
            "-----BEGIN X509 CRL-----\neA==\n-----END X509 CRL-----\n"
        );
    }

    #[test]
    fn reads_several_blocks_with_text_around_them() {
        let a: Vec<u8> = (0..100).collect();
        let b: Vec<u8> = (100..250).collect();
        let key = [0x30, 0x03, 2, 1, 0];
        // OpenSSL's `x509 -text`-style noise, CRLF, a 76-column line, indentation.
        let wide = base64_76(&b);
        let text = format!(
            "subject=CN = a\r\n{}\r\nissuer=CN = b\n  -----BEGIN CERTIFICATE-----\n{wide}\n\
             -----END CERTIFICATE-----  \n{}trailing text",
            encode(Label::Certificate, &a).replace('\n', "\r\n"),
            encode(Label::PrivateKey, &key),
        );
        assert_eq!(
            decode_all(text.as_bytes(), Label::Certificate).unwrap(),
            vec![a, b]
        );
        let labels: Vec<&str> = blocks(text.as_bytes()).map(|b| b.label).collect();
        assert_eq!(labels, ["CERTIFICATE", "CERTIFICATE", "PRIVATE KEY"]);
        let der = decode_first(text.as_bytes(), &[Label::RsaPrivateKey, Label::PrivateKey])
            .unwrap()
            .unwrap();
        assert_eq!(der.as_slice(), &key[..]);
        assert_eq!(
            decode_all(text.as_bytes(), Label::X509Crl).unwrap(),
            Vec::<Vec<u8>>::new()
        );
    }

    #[test]
    fn broken_blocks_are_errors_and_der_has_no_blocks() {
        let bad_base64 = "-----BEGIN CERTIFICATE-----\nAA!A\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            decode_all(bad_base64.as_bytes(), Label::Certificate),
            Err(PemError::Invalid { .. })
        ));
        let headers = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n\
                       -----END RSA PRIVATE KEY-----\n";
        assert!(decode_first(headers.as_bytes(), &[Label::RsaPrivateKey]).is_err());
        let unterminated = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            decode_first(unterminated.as_bytes(), &[Label::PrivateKey]).unwrap_err(),
            PemError::Unterminated {
                label: "PRIVATE KEY".into()
            }
        );
        // A broken block of another label does not matter to the one asked for.
        let mixed = format!("{bad_base64}{}", encode(Label::PrivateKey, &[1, 2, 3]));
        assert!(
            decode_first(mixed.as_bytes(), &[Label::PrivateKey])
                .unwrap()
                .is_some()
        );
        assert_eq!(blocks(&[0x30, 0x82, 0x01, 0x0a, 0x02]).count(), 0);
    }

    /// Base64 in 76-column lines (MIME style), as some tools write PEM bodies.
    fn base64_76(data: &[u8]) -> String {
        let single = encode(Label::Certificate, data);
        let b64: String = single.lines().filter(|l| !l.starts_with("-----")).collect();
        b64.as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
