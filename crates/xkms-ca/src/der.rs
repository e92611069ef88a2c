//! The few DER encodings we build by hand (an RSA SubjectPublicKeyInfo).

/// Appends a DER length.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Fits in the short form.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// A complete TLV with the given tag.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// An INTEGER holding a non-negative big-endian magnitude (leading zeros
/// must already be stripped; a 0x00 is prepended when the top bit is set).
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        let mut content = Vec::with_capacity(magnitude.len() + 1);
        content.push(0);
        content.extend_from_slice(magnitude);
        tlv(0x02, &content)
    } else if magnitude.is_empty() {
        tlv(0x02, &[0])
    } else {
        tlv(0x02, magnitude)
    }
}

/// A SEQUENCE of already-encoded elements.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// Strips leading zero bytes of a big-endian magnitude.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(tlv(4, &[1, 2]), vec![4, 2, 1, 2]);
        let long = tlv(4, &[0u8; 300]);
        assert_eq!(&long[..4], &[4, 0x82, 0x01, 0x2c]);
        let mid = tlv(4, &[0u8; 200]);
        assert_eq!(&mid[..3], &[4, 0x81, 200]);
    }

    #[test]
    fn integers() {
        assert_eq!(unsigned_integer(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0x01, 0x00, 0x01]), vec![2, 3, 1, 0, 1]);
        assert_eq!(unsigned_integer(&[]), vec![2, 1, 0]);
    }
}
