//! Backend-neutral encodings of record fields into column values.
//!
//! Both the SQLite and the (future) PostgreSQL backend store times, counters and URI
//! lists through these functions, so a database written by one build is read back
//! identically by another.

use time::OffsetDateTime;
use xkms_service::store::{BindingStatus, GrantedName, KeyUsage, NameKind, Purpose, StoreError};

/// Microseconds since the Unix epoch, UTC. Sub-microsecond precision is truncated
/// (towards negative infinity, so ordering is preserved for pre-1970 times too).
pub(crate) fn timestamp_to_column(t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000))
        .map_err(|_| StoreError::Backend("timestamp out of storable range".into()))
}

pub(crate) fn timestamp_from_column(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| corrupt("timestamp"))
}

pub(crate) fn optional_timestamp_to_column(
    t: Option<OffsetDateTime>,
) -> Result<Option<i64>, StoreError> {
    t.map(timestamp_to_column).transpose()
}

pub(crate) fn optional_timestamp_from_column(
    micros: Option<i64>,
) -> Result<Option<OffsetDateTime>, StoreError> {
    micros.map(timestamp_from_column).transpose()
}

/// KeyUsage URIs as one space-separated TEXT column. URIs never contain whitespace; one
/// that does would not round-trip, so it is refused instead of silently split.
/// Key usages as their URIs, space-separated.
pub(crate) fn key_usage_to_column(usages: &[KeyUsage]) -> Result<String, StoreError> {
    Ok(usages
        .iter()
        .map(KeyUsage::as_uri)
        .collect::<Vec<_>>()
        .join(" "))
}

pub(crate) fn key_usage_from_column(text: &str) -> Result<Vec<KeyUsage>, StoreError> {
    text.split_whitespace()
        .map(|uri| KeyUsage::from_uri(uri).ok_or_else(|| corrupt("key usage")))
        .collect()
}

/// Granted names as `kind:value` lines. A value with a control character would not
/// round-trip, so it is refused instead.
pub(crate) fn granted_names_to_column(names: &[GrantedName]) -> Result<String, StoreError> {
    let mut out = String::new();
    for name in names {
        if name.value.is_empty() || name.value.chars().any(char::is_control) {
            return Err(StoreError::Backend(
                "granted name is empty or contains a control character".into(),
            ));
        }
        out.push_str(name.kind.as_str());
        out.push(':');
        out.push_str(&name.value);
        out.push('\n');
    }
    Ok(out)
}

pub(crate) fn granted_names_from_column(text: &str) -> Result<Vec<GrantedName>, StoreError> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (kind, value) = line
                .split_once(':')
                .ok_or_else(|| corrupt("granted name"))?;
            Ok(GrantedName {
                kind: NameKind::parse(kind).ok_or_else(|| corrupt("granted name kind"))?,
                value: value.to_owned(),
            })
        })
        .collect()
}

pub(crate) fn count_from_column(value: i64, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt(what))
}

pub(crate) fn purpose_from_column(text: &str) -> Result<Purpose, StoreError> {
    Purpose::parse(text).ok_or_else(|| corrupt("purpose"))
}

pub(crate) fn status_from_column(text: &str) -> Result<BindingStatus, StoreError> {
    BindingStatus::parse(text).ok_or_else(|| corrupt("binding status"))
}

pub(crate) fn reason_from_column(value: Option<i64>) -> Result<Option<u8>, StoreError> {
    value
        .map(|v| u8::try_from(v).map_err(|_| corrupt("revocation reason")))
        .transpose()
}

/// Clamps a caller's `limit` to what SQL `LIMIT` accepts.
pub(crate) fn limit_to_column(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A stored value that no version of this crate writes.
pub(crate) fn corrupt(what: &'static str) -> StoreError {
    StoreError::Backend(format!("corrupt row: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_round_trip_at_microsecond_precision() {
        for t in [
            datetime!(1970-01-01 00:00 UTC),
            datetime!(2025-06-30 12:34:56.123456 UTC),
            datetime!(1969-12-31 23:59:59.999999 UTC),
            datetime!(9999-12-31 23:59:59 UTC),
            datetime!(0001-01-01 00:00 UTC),
        ] {
            let stored = timestamp_to_column(t).unwrap();
            assert_eq!(timestamp_from_column(stored).unwrap(), t);
        }
    }

    #[test]
    fn sub_microsecond_part_is_truncated_and_offset_normalised() {
        let t = datetime!(2025-06-30 14:00:00.123456789 +02:00);
        let back = timestamp_from_column(timestamp_to_column(t).unwrap()).unwrap();
        assert_eq!(back, datetime!(2025-06-30 12:00:00.123456 UTC));
        assert_eq!(back.offset(), time::UtcOffset::UTC);
        let before_epoch = datetime!(1969-12-31 23:59:59.9999999 UTC);
        assert_eq!(timestamp_to_column(before_epoch).unwrap(), -1);
    }

    #[test]
    fn key_usage_round_trips_and_refuses_unknown_uris() {
        let usages = vec![KeyUsage::Signature, KeyUsage::Encryption];
        let text = key_usage_to_column(&usages).unwrap();
        assert_eq!(
            text,
            "http://www.w3.org/2002/03/xkms#Signature http://www.w3.org/2002/03/xkms#Encryption"
        );
        assert_eq!(key_usage_from_column(&text).unwrap(), usages);
        assert!(key_usage_from_column("").unwrap().is_empty());
        assert!(key_usage_from_column("urn:not-a-usage").is_err());
    }

    #[test]
    fn granted_names_round_trip_and_refuse_control_characters() {
        let names = vec![
            GrantedName {
                kind: NameKind::Dn,
                value: "CN=Joe Doe,O=Joe Corp,C=US".into(),
            },
            GrantedName {
                kind: NameKind::Uri,
                value: "https://example.com/a:b".into(),
            },
        ];
        let text = granted_names_to_column(&names).unwrap();
        assert_eq!(granted_names_from_column(&text).unwrap(), names);
        assert!(granted_names_from_column("").unwrap().is_empty());
        assert!(granted_names_from_column("bogus:x\n").is_err());
        let bad = GrantedName {
            kind: NameKind::KeyName,
            value: "a\nb".into(),
        };
        assert!(granted_names_to_column(&[bad]).is_err());
    }

    #[test]
    fn out_of_range_counters_are_corrupt() {
        assert!(count_from_column(-1, "uses").is_err());
        assert_eq!(count_from_column(7, "uses").unwrap(), 7);
        assert!(reason_from_column(Some(300)).is_err());
        assert_eq!(reason_from_column(None).unwrap(), None);
    }
}
