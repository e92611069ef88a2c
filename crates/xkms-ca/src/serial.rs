//! Certificate serial numbers: 128 random bits, always a positive DER
//! INTEGER of exactly 16 bytes.

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::CaError;

/// A 16-byte certificate serial number (big-endian).
///
/// [`Serial::random`] keeps the first byte in `0x01..=0x7f`, so the DER
/// INTEGER is positive and never shortened: `to_hex()` is exactly what
/// `openssl x509 -serial` prints.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(pub [u8; 16]);

impl Serial {
    /// A fresh random serial (about 127 bits of entropy).
    pub fn random() -> Result<Serial, CaError> {
        let rng = SystemRandom::new();
        let mut bytes = [0u8; 16];
        loop {
            rng.fill(&mut bytes)
                .map_err(|_| CaError::Crypto("random number generator failed"))?;
            bytes[0] &= 0x7f;
            // A zero first byte would make the DER INTEGER shorter than 16
            // bytes; draw again (probability 1/128) instead of biasing.
            if bytes[0] != 0 {
                return Ok(Serial(bytes));
            }
        }
    }

    /// Upper-case hex, 32 digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// Parses 1 to 32 hex digits (either case, optional `0x` prefix and `:`
    /// separators as printed by some tools); shorter values are
    /// left-padded with zeros. The value must be positive (top bit clear)
    /// and non-zero.
    pub fn from_hex(s: &str) -> Result<Serial, CaError> {
        let s = s.trim();
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let digits: Vec<u8> = s
            .bytes()
            .filter(|b| *b != b':')
            .map(|b| match b {
                b'0'..=b'9' => Ok(b - b'0'),
                b'a'..=b'f' => Ok(b - b'a' + 10),
                b'A'..=b'F' => Ok(b - b'A' + 10),
                _ => Err(CaError::InvalidSerial {
                    reason: "not a hex digit",
                }),
            })
            .collect::<Result<_, _>>()?;
        if digits.is_empty() {
            return Err(CaError::InvalidSerial { reason: "empty" });
        }
        if digits.len() > 32 {
            return Err(CaError::InvalidSerial {
                reason: "longer than 128 bits",
            });
        }
        let mut bytes = [0u8; 16];
        // Fill from the right, two digits per byte.
        for (i, d) in digits.iter().rev().enumerate() {
            let byte = 15 - i / 2;
            bytes[byte] |= if i % 2 == 0 { *d } else { *d << 4 };
        }
        if bytes[0] & 0x80 != 0 {
            return Err(CaError::InvalidSerial {
                reason: "negative as a DER INTEGER",
            });
        }
        if bytes.iter().all(|b| *b == 0) {
            return Err(CaError::InvalidSerial { reason: "zero" });
        }
        Ok(Serial(bytes))
    }

    /// The minimal big-endian magnitude (what goes into the DER INTEGER).
    pub(crate) fn magnitude(&self) -> &[u8] {
        crate::der::strip_leading_zeros(&self.0)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({})", self.to_hex())
    }
}

impl std::str::FromStr for Serial {
    type Err = CaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Serial::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_full_length_and_differ() {
        let a = Serial::random().unwrap();
        let b = Serial::random().unwrap();
        assert_ne!(a, b);
        for s in [a, b] {
            assert_eq!(s.0.len(), 16);
            assert!(s.0[0] & 0x80 == 0 && s.0[0] != 0);
            assert_eq!(s.to_hex().len(), 32);
            assert_eq!(s.magnitude().len(), 16);
        }
    }

    #[test]
    fn hex_round_trip() {
        let s = Serial::random().unwrap();
        assert_eq!(Serial::from_hex(&s.to_hex()).unwrap(), s);
        assert_eq!(Serial::from_hex(&s.to_hex().to_lowercase()).unwrap(), s);
        let short = Serial::from_hex("0x1:2a").unwrap();
        assert_eq!(short.0[14..], [0x01, 0x2a]);
        assert_eq!(short.magnitude(), &[0x01, 0x2a]);
        assert!(Serial::from_hex("").is_err());
        assert!(Serial::from_hex("00").is_err());
        assert!(Serial::from_hex("zz").is_err());
        assert!(Serial::from_hex(&"8".repeat(32)).is_err());
        assert!(Serial::from_hex(&"1".repeat(33)).is_err());
    }
}
