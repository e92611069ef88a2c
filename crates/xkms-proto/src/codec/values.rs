//! Lexical forms of the XML Schema datatypes XKMS uses: base64Binary, ds:CryptoBinary,
//! xs:dateTime and xs:integer. Parsers return `None` on bad input; the caller names the
//! element in the error (the value itself is never echoed).

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};
use zeroize::Zeroizing;

use super::XML_WS;

/// Standard alphabet; padding optional on input (some peers drop it), always written.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64Binary, tolerating whitespace anywhere (REC examples wrap lines).
/// Whether `s` is an `xs:NCName` (XML Namespaces 1.0: an XML 1.0 5th-edition Name without
/// `:`), the type of `RequestId`, `OriginalRequestId` and `ResponseId`.
pub fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // The compacted copy may hold secret material (RSAKeyPair), so it is wiped.
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    B64.decode(compact.as_bytes()).ok()
}

/// Decodes a ds:CryptoBinary: base64 of a big-endian unsigned integer. Leading zero
/// octets (Java `BigInteger.toByteArray`) are stripped; zero stays one octet.
pub(crate) fn decode_crypto_binary(text: &str) -> Option<Vec<u8>> {
    let mut bytes = decode_base64(text)?;
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    let strip = zeros.min(bytes.len().saturating_sub(1));
    bytes.drain(..strip);
    Some(bytes)
}

pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// [`encode_base64`], appended to `out`.
pub(crate) fn encode_base64_into(bytes: &[u8], out: &mut String) {
    B64.encode_string(bytes, out);
}

/// Parses a non-negative xs:integer that fits in u32 (ResponseLimit, StatusResult counters).
pub(crate) fn parse_u32(text: &str) -> Option<u32> {
    let t = text.trim_matches(XML_WS);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// The years a dateTime may have once in UTC: the four-digit years of the lexical form.
/// `0000-01-01T00:00:00+14:00` is in year -1 in UTC, `9999-12-31T23:00:00-14:00` in year
/// 10000; both are refused (a decode error), never panicked on or written back as `-001`.
pub(crate) const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

/// Parses xs:dateTime: `YYYY-MM-DDTHH:MM:SS(.f+)?(Z|±HH:MM)?`. No timezone means UTC.
/// The result is converted to UTC and must fall in [`YEARS`].
pub(crate) fn parse_datetime(text: &str) -> Option<OffsetDateTime> {
    let s = text.trim_matches(XML_WS).as_bytes();
    // Fixed part: 0123-56-89T12:45:78
    if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || s[13] != b':' {
        return None;
    }
    if s[16] != b':' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let hour = digits(&s[11..13])?;
    let minute = digits(&s[14..16])?;
    let second = digits(&s[17..19])?;
    let mut rest = &s[19..];
    let mut nanos: u32 = 0;
    if let Some((b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Digits beyond nanosecond precision are truncated.
        for (i, d) in frac[..n].iter().enumerate().take(9) {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        [] | [b'Z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = i8::try_from(digits(&[*h1, *h2])?).ok()?;
            let m = i8::try_from(digits(&[*m1, *m2])?).ok()?;
            if h > 14 || m > 59 {
                return None;
            }
            let (h, m) = if *sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).ok()?
        }
        _ => return None,
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let utc = date
        .with_time(time)
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)?;
    YEARS.contains(&utc.year()).then_some(utc)
}

/// Writes UTC `YYYY-MM-DDTHH:MM:SS[.f]Z`, fractional seconds only when non-zero.
///
/// Only a value built in code can lie outside [`YEARS`] (the decoder refuses them); it is
/// still written as a valid xs:dateTime, never as `-001-…`: a year before 0 as `-YYYY`
/// (`time` keeps years within ±9999, so four digits suffice), and a value whose UTC form
/// `time` cannot represent (year ±10000) in its own offset, `…±HH:MM`. A peer, and our
/// decoder, then refuse it cleanly.
pub(crate) fn format_datetime(dt: &OffsetDateTime) -> String {
    let (u, zone) = match dt.checked_to_offset(UtcOffset::UTC) {
        Some(u) => (u, "Z".to_owned()),
        None => {
            let (h, m, _) = dt.offset().as_hms();
            let sign = if dt.offset().is_negative() { '-' } else { '+' };
            (
                *dt,
                format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs()),
            )
        }
    };
    let year = u.year();
    let sign = if year < 0 { "-" } else { "" };
    let mut out = format!(
        "{sign}{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        year.unsigned_abs(),
        u8::from(u.month()),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    );
    let nanos = u.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(&zone);
    out
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ncnames() {
        for ok in [
            "I1494ac4351b7de5c174d455b7000e18f",
            "_x",
            "a-b.c",
            "\u{e9}t\u{e9}",
            "x\u{B7}1",
        ] {
            assert!(is_ncname(ok), "{ok}");
        }
        for bad in ["", "?", "1abc", "-a", "a:b", "CN=Joe,O=Corp", "a b", ".a"] {
            assert!(!is_ncname(bad), "{bad}");
        }
    }

    use super::*;
    use time::macros::datetime;

    #[test]
    fn base64_tolerates_line_wrapping_and_missing_padding() {
        assert_eq!(
            decode_base64("AQ\n  ID\r\n\tBA==").unwrap(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(decode_base64("AQIDBA").unwrap(), vec![1, 2, 3, 4]);
        assert!(decode_base64("A*==").is_none());
    }

    #[test]
    fn crypto_binary_strips_leading_zeros() {
        assert_eq!(decode_crypto_binary("AAABAg==").unwrap(), vec![1, 2]);
        assert_eq!(decode_crypto_binary("AAA=").unwrap(), vec![0]);
        assert_eq!(decode_crypto_binary("AQAB").unwrap(), vec![1, 0, 1]);
    }

    #[test]
    fn datetime_forms() {
        let want = datetime!(2005-06-28 12:30:00 UTC);
        assert_eq!(parse_datetime("2005-06-28T12:30:00Z"), Some(want));
        assert_eq!(parse_datetime("2005-06-28T12:30:00"), Some(want));
        assert_eq!(parse_datetime("2005-06-28T14:30:00+02:00"), Some(want));
        assert_eq!(parse_datetime("2005-06-28T07:30:00-05:00"), Some(want));
        assert_eq!(
            parse_datetime("2005-06-28T12:30:00.250Z"),
            Some(datetime!(2005-06-28 12:30:00.25 UTC))
        );
        for bad in [
            "2005-06-28",
            "2005-13-01T00:00:00Z",
            "2005-06-28T12:30:00+2",
            "x",
        ] {
            assert!(parse_datetime(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn datetime_written_as_utc() {
        let dt = datetime!(2005-06-28 14:30:00 +02:00);
        assert_eq!(format_datetime(&dt), "2005-06-28T12:30:00Z");
        let dt = datetime!(2005-06-28 12:30:00.125 UTC);
        assert_eq!(format_datetime(&dt), "2005-06-28T12:30:00.125Z");
        assert_eq!(parse_datetime(&format_datetime(&dt)), Some(dt));
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u32(" 12 "), Some(12));
        assert_eq!(parse_u32("+3"), Some(3));
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_u32("99999999999"), None);
    }
}
