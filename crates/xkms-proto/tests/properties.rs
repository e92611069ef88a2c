#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the codec (proptest): generated messages survive
//! `decode(encode(m)) == m`, strings with arbitrary Unicode (XML-illegal characters, U+00A0
//! and other non-XML white space, markup characters) and dates at the edges of the range.
//! The fuzz targets (docs/FUZZING.md) explore hostile documents; these explore the model.

use proptest::prelude::*;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};
use xkms_proto::*;

const ID: &str = "I0123456789abcdef";
const LIMITS: fn() -> Limits = Limits::default;

/// XML 1.0 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Characters that break naive codecs, mixed with anything at all.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        1 => prop::sample::select(vec![
            '\u{A0}', '\u{2003}', '\u{3000}', '\u{85}', '\u{FEFF}', // Unicode, not XML, spaces
            ' ', '\t', '\n', '\r', // XML white space
            '&', '<', '>', '"', '\'', ']', // markup
            '\u{0}', '\u{1}', '\u{1F}', '\u{7F}', '\u{FFFE}', '\u{FFFF}', // XML-illegal or odd
            '\u{10FFFF}', '\u{1F600}', 'é',
        ]),
    ]
}

fn any_string() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..24).prop_map(|v| v.into_iter().collect())
}

/// A string the codec must carry unchanged: every character legal in XML.
fn xml_string() -> impl Strategy<Value = String> {
    any_string().prop_map(|s| s.chars().filter(|c| is_xml_char(*c)).collect())
}

/// As [`xml_string`], for values the schema collapses (xs:anyURI, xs:token-like attributes):
/// no XML white space at the ends — but Unicode spaces such as U+00A0 there are content.
fn collapsed_string() -> impl Strategy<Value = String> {
    xml_string().prop_map(|s| s.trim_matches([' ', '\t', '\r', '\n']).to_owned())
}

/// Dates anywhere in 0000–9999 (UTC, as the model holds them), with the edges and their
/// neighbours drawn often.
fn datetime() -> impl Strategy<Value = OffsetDateTime> {
    let edge = prop::sample::select(vec![
        (0, 1, 1, 0, 0, 0, 0),
        (0, 1, 1, 0, 0, 0, 1),
        (0, 12, 31, 23, 59, 59, 999_999_999),
        (1970, 1, 1, 0, 0, 0, 0),
        (2000, 2, 29, 12, 0, 0, 0),
        (9999, 12, 31, 23, 59, 59, 999_999_999),
        (9999, 12, 31, 23, 59, 59, 0),
        (9999, 1, 1, 0, 0, 0, 0),
    ]);
    let anywhere = (
        0i32..=9999,
        1u8..=12,
        1u8..=31,
        0u8..24,
        0u8..60,
        0u8..60,
        0u32..1_000_000_000,
    );
    prop_oneof![1 => edge, 3 => anywhere].prop_map(|(y, mo, d, h, mi, s, n)| {
        let month = Month::try_from(mo).unwrap();
        let day = d.min(time::util::days_in_month(month, y));
        Date::from_calendar_date(y, month, day)
            .unwrap()
            .with_time(Time::from_hms_nano(h, mi, s, n).unwrap())
            .assume_utc()
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..40)
}

/// A CryptoBinary as the decoder returns it: no leading zero octets.
fn crypto_binary() -> impl Strategy<Value = Vec<u8>> {
    (1u8..=255, prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(first, mut rest)| {
        rest.insert(0, first);
        rest
    })
}

fn key_info() -> impl Strategy<Value = KeyInfo> {
    (
        prop::collection::vec(xml_string(), 0..3),
        prop::collection::vec((crypto_binary(), crypto_binary()), 0..2),
        prop::collection::vec(collapsed_string(), 0..2),
    )
        .prop_map(|(key_names, keys, subjects)| KeyInfo {
            id: None,
            key_names,
            key_values: keys
                .into_iter()
                .map(|(modulus, exponent)| KeyValue::Rsa(RsaKeyValue { modulus, exponent }))
                .collect(),
            retrieval_methods: Vec::new(),
            x509_data: if subjects.is_empty() {
                Vec::new()
            } else {
                vec![X509Data {
                    subject_names: subjects,
                    ..X509Data::default()
                }]
            },
            unsupported_children: 0,
        })
}

fn use_key_with() -> impl Strategy<Value = UseKeyWith> {
    let application = prop_oneof![
        prop::sample::select(Application::KNOWN.to_vec()),
        collapsed_string().prop_map(|s| Application::from_uri_lenient(&s)),
    ];
    (application, collapsed_string()).prop_map(|(application, identifier)| UseKeyWith {
        application,
        identifier,
    })
}

fn key_binding_core() -> impl Strategy<Value = KeyBindingAbstract> {
    (
        prop::option::of(key_info()),
        prop::sample::subsequence(KeyUsage::ALL.to_vec(), 0..=3),
        prop::collection::vec(use_key_with(), 0..3),
    )
        .prop_map(|(key_info, key_usage, use_key_with)| KeyBindingAbstract {
            id: Some("kb1".into()),
            key_info,
            key_usage,
            use_key_with,
        })
}

fn validity_interval() -> impl Strategy<Value = ValidityInterval> {
    (prop::option::of(datetime()), prop::option::of(datetime())).prop_map(
        |(not_before, not_on_or_after)| ValidityInterval {
            not_before,
            not_on_or_after,
        },
    )
}

fn status() -> impl Strategy<Value = Status> {
    let reasons = || prop::sample::subsequence(Reason::KNOWN.to_vec(), 0..=4);
    (
        prop::sample::select(StatusValue::ALL.to_vec()),
        reasons(),
        reasons(),
        reasons(),
    )
        .prop_map(|(status_value, valid, indeterminate, invalid)| Status {
            status_value,
            valid_reasons: valid,
            indeterminate_reasons: indeterminate,
            invalid_reasons: invalid,
        })
}

fn message_abstract() -> impl Strategy<Value = MessageAbstract> {
    (
        xml_string(),
        prop::option::of(bytes()),
        prop::option::of(prop::collection::vec(bytes(), 0..3)),
    )
        .prop_map(|(service, nonce, opaque_client_data)| MessageAbstract {
            id: ID.into(),
            service,
            nonce,
            signature: None,
            message_extensions: 0,
            opaque_client_data,
        })
}

fn locate_request() -> impl Strategy<Value = Message> {
    (
        message_abstract(),
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(RespondWith::KNOWN.to_vec()),
                collapsed_string().prop_map(|s| RespondWith::from_uri(&s)),
            ],
            0..4,
        ),
        key_binding_core(),
        prop::option::of(datetime()),
    )
        .prop_map(|(message, respond_with, core, time_instant)| {
            Message::Request(Request::Locate(LocateRequest {
                request: RequestAbstract {
                    message,
                    respond_with,
                    ..RequestAbstract::default()
                },
                query_key_binding: QueryKeyBinding { core, time_instant },
            }))
        })
}

fn validate_result() -> impl Strategy<Value = Message> {
    (
        message_abstract(),
        prop::sample::select(ResultMajor::KNOWN.to_vec()),
        prop::option::of(prop::sample::select(ResultMinor::KNOWN.to_vec())),
        prop::collection::vec(
            (
                key_binding_core(),
                prop::option::of(validity_interval()),
                status(),
            ),
            0..3,
        ),
    )
        .prop_map(|(message, result_major, result_minor, bindings)| {
            Message::Result(ResultMessage::Validate(ValidateResult {
                result: ResultAbstract {
                    message,
                    request_signature_value: None,
                    result_major,
                    result_minor,
                    request_id: Some("Irequest".into()),
                },
                key_bindings: bindings
                    .into_iter()
                    .map(|(core, validity_interval, status)| KeyBinding {
                        core,
                        validity_interval,
                        status,
                    })
                    .collect(),
            }))
        })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![locate_request(), validate_result()]
}

fn key_name_request(name: &str) -> Message {
    Message::Request(Request::Locate(LocateRequest {
        request: RequestAbstract {
            message: MessageAbstract {
                id: ID.into(),
                service: "http://xkms.test/".into(),
                ..MessageAbstract::default()
            },
            ..RequestAbstract::default()
        },
        query_key_binding: QueryKeyBinding {
            core: KeyBindingAbstract {
                key_info: Some(KeyInfo {
                    key_names: vec![name.to_owned()],
                    ..KeyInfo::default()
                }),
                ..KeyBindingAbstract::default()
            },
            time_instant: None,
        },
    }))
}

fn time_instant_of(m: &Message) -> Option<OffsetDateTime> {
    match m {
        Message::Request(Request::Locate(l)) => l.query_key_binding.time_instant,
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// decode(encode(m)) == m, and encoding is stable.
    #[test]
    fn messages_round_trip(m in message()) {
        let xml = write_message(&m);
        let back = parse_message(&xml, &LIMITS()).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(write_message(&back), xml);
    }

    /// Any string at all is written as well-formed XML: characters XML forbids become
    /// U+FFFD, everything else (U+00A0 included) comes back as it was.
    #[test]
    fn any_string_is_written_as_well_formed_xml(name in any_string()) {
        let xml = write_message(&key_name_request(&name));
        let back = parse_message(&xml, &LIMITS()).map_err(|e| TestCaseError::fail(format!("{e}: {xml:?}")))?;
        let want: String = name
            .chars()
            .map(|c| if is_xml_char(c) { c } else { char::REPLACEMENT_CHARACTER })
            .collect();
        prop_assert_eq!(back, key_name_request(&want));
    }

    /// A dateTime in any offset within ±14:00 decodes to its UTC instant when that lies in
    /// 0000–9999, and is a decode error otherwise — never a panic, never a year `-001`.
    #[test]
    fn datetimes_in_any_offset(
        dt in datetime(),
        offset_minutes in -(14 * 60)..=(14 * 60i32),
    ) {
        let offset = UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap();
        // The same wall-clock time read in another offset: near the edges its UTC form
        // leaves the range.
        let local = dt.replace_offset(offset);
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        let lexical = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}{sign}{:02}:{:02}",
            dt.year(), u8::from(dt.month()), dt.day(), dt.hour(), dt.minute(), dt.second(),
            dt.nanosecond(), h.unsigned_abs(), m.unsigned_abs(),
        );
        let xml = format!(
            "<LocateRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"{ID}\" Service=\"s\">\
             <QueryKeyBinding><TimeInstant Time=\"{lexical}\"/></QueryKeyBinding></LocateRequest>"
        );
        let decoded = parse_message(&xml, &LIMITS());
        match local.checked_to_offset(UtcOffset::UTC).filter(|u| (0..=9999).contains(&u.year())) {
            Some(utc) => {
                let m = decoded.map_err(|e| TestCaseError::fail(format!("{e}: {lexical}")))?;
                prop_assert_eq!(time_instant_of(&m), Some(utc));
                let again = parse_message(&write_message(&m), &LIMITS()).unwrap();
                prop_assert_eq!(time_instant_of(&again), Some(utc));
            }
            None => {
                let e = decoded.err().ok_or_else(|| TestCaseError::fail(format!("accepted {lexical}")))?;
                let is_invalid = matches!(e.kind(), DecodeErrorKind::InvalidValue { .. });
                prop_assert!(is_invalid, "{e}");
            }
        }
    }
}
