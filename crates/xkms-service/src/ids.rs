//! Identifiers the service mints: message Ids and key-binding Ids ("I" + 128 random
//! bits in hex, the REC's convention).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Source of fresh, unpredictable identifiers.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdSource;

impl IdSource {
    /// A fresh `xs:ID`/NCName-valid identifier.
    pub fn message_id(&self) -> String {
        let mut bytes = [0u8; 16];
        // SystemRandom only fails if the OS RNG is unavailable; then fall back to a
        // value that is still unique within the process (ids are not secrets).
        if SystemRandom::new().fill(&mut bytes).is_err() {
            let n = FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            bytes[..8].copy_from_slice(&n.to_be_bytes());
        }
        format!("I{}", hex::encode(bytes))
    }
}

static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Longest request Id accepted: Ids are stored (replay records, pending requests) and
/// logged, so an unbounded one is an unbounded cost.
pub const MAX_REQUEST_ID_CHARS: usize = 256;

/// Whether `id` is an `xs:ID` (an NCName) of at most [`MAX_REQUEST_ID_CHARS`] characters.
pub fn acceptable_request_id(id: &str) -> bool {
    id.chars().nth(MAX_REQUEST_ID_CHARS).is_none() && xkms_proto::is_ncname(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_ncnames_and_distinct() {
        let a = IdSource.message_id();
        let b = IdSource.message_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('I'));
        assert!(acceptable_request_id(&a));
    }

    #[test]
    fn request_ids_are_bounded_ncnames() {
        for ok in ["I1", "_x", "a-b.c", "Ié", &"I".repeat(256)] {
            assert!(acceptable_request_id(ok), "{ok}");
        }
        for bad in ["", "1abc", "a:b", "a b", "-x", &"I".repeat(257)] {
            assert!(!acceptable_request_id(bad), "{bad}");
        }
    }
}
