#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every input the fuzz campaigns found (`tests/data/fuzz/*.xml`, docs/FUZZING.md), replayed
//! through what the codec fuzz target checks, plus one test per finding that fails on the
//! codec as it was before its fix.

use std::path::PathBuf;

use time::macros::datetime;
use xkms_proto::soap;
use xkms_proto::*;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap()
}

/// What `fuzz/src/lib.rs` `codec` asserts: decode; if that succeeds, the encoding decodes,
/// and one round trip reaches a fixed point (same bytes, same model).
fn round_trip(text: &str) -> Result<Message, DecodeError> {
    let (_, first) = match soap::parse_document(text, &Limits::default()) {
        Ok(parsed) => parsed,
        Err(soap::DocumentError::Message { error, .. }) => return Err(error),
        Err(e) => panic!("envelope error {e}"),
    };
    let written = write_message(&first);
    let second = parse_message(&written, &Limits::default())
        .unwrap_or_else(|e| panic!("the writer's output does not decode ({e}): {written}"));
    let rewritten = write_message(&second);
    assert_eq!(rewritten, written);
    assert_eq!(
        parse_message(&rewritten, &Limits::default()).unwrap(),
        second
    );
    Ok(first)
}

fn is_invalid_value(e: &DecodeError, element: &str) -> bool {
    matches!(e.kind(), DecodeErrorKind::InvalidValue { element: el, .. } if el == element)
        && !e.is_unsupported_message()
        && !e.is_document_level()
}

fn request_of(m: &Message) -> &RequestAbstract {
    let Message::Request(r) = m else {
        panic!("{m:?}")
    };
    r.header()
}

fn use_key_with(m: &Message) -> &UseKeyWith {
    let Message::Request(Request::Locate(l)) = m else {
        panic!("{m:?}")
    };
    &l.query_key_binding.core.use_key_with[0]
}

#[test]
fn every_regression_input_replays() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let text = std::fs::read_to_string(&path).unwrap();
            // Decoded or refused, never a panic, and a decoded one round-trips.
            let _ = round_trip(&text);
            seen += 1;
        }
    }
    assert!(
        seen >= 4,
        "regression inputs missing from {}",
        dir().display()
    );
}

/// Finding 1: a dateTime whose UTC form lies past 9999 (`9999-12-31T23:00:00-14:00`)
/// panicked in `to_offset`. Now a decode error (Sender/Failure at the service).
#[test]
fn a_datetime_past_9999_in_utc_is_a_decode_error() {
    let e = round_trip(&read("datetime-utc-after-9999.xml")).unwrap_err();
    assert!(is_invalid_value(&e, "TimeInstant"), "{e:?}");
    assert_eq!(
        e.header().and_then(|h| h.id.as_deref()),
        Some("I0123456789abcdef")
    );
}

/// Finding 2: `0000-01-01T00:00:00+14:00` is in year -1 in UTC; it was decoded and written
/// back as `-001-12-31T10:00:00Z`, which is not an xs:dateTime. Now refused on input…
#[test]
fn a_datetime_before_year_0_in_utc_is_a_decode_error() {
    let e = round_trip(&read("datetime-utc-before-0000.xml")).unwrap_err();
    assert!(is_invalid_value(&e, "TimeInstant"), "{e:?}");
}

/// …and a model value outside 0000–9999 (only code can make one) is written as a valid
/// xs:dateTime that decoding refuses cleanly.
#[test]
fn dates_outside_the_range_are_written_as_valid_datetimes() {
    for (dt, lexical) in [
        (datetime!(-0001-12-31 10:00 UTC), "-0001-12-31T10:00:00Z"),
        (datetime!(-9999-01-01 00:00 UTC), "-9999-01-01T00:00:00Z"),
        // Its UTC form (year 10000) does not exist in `time`: written in its own offset.
        (
            datetime!(9999-12-31 23:00 -14:00),
            "9999-12-31T23:00:00-14:00",
        ),
    ] {
        let m = Message::Request(Request::Locate(LocateRequest {
            request: RequestAbstract {
                message: MessageAbstract {
                    id: "I1".into(),
                    service: "s".into(),
                    ..MessageAbstract::default()
                },
                ..RequestAbstract::default()
            },
            query_key_binding: QueryKeyBinding {
                time_instant: Some(dt),
                ..QueryKeyBinding::default()
            },
        }));
        let xml = write_message(&m);
        assert!(xml.contains(&format!("Time=\"{lexical}\"")), "{xml}");
        let e = parse_message(&xml, &Limits::default()).unwrap_err();
        assert!(is_invalid_value(&e, "TimeInstant"), "{e:?}");
    }
}

/// Finding 3: the writer copied characters XML 1.0 forbids (C0 controls, U+FFFE/U+FFFF) into
/// its output, which no parser (ours included) accepts. Now U+FFFD.
#[test]
fn the_writer_never_emits_characters_xml_forbids() {
    let m = Message::Result(ResultMessage::Result(ResultAbstract {
        message: MessageAbstract {
            id: "I1".into(),
            service: "urn:x\u{1}y".into(),
            ..MessageAbstract::default()
        },
        request_id: Some("R\u{0}".into()),
        result_major: ResultMajor::Other("urn:\u{FFFF}".into()),
        ..ResultAbstract::default()
    }));
    let xml = write_message(&m);
    assert!(!xml.contains(['\u{0}', '\u{1}', '\u{FFFF}']), "{xml:?}");
    let Message::Result(ResultMessage::Result(back)) =
        parse_message(&xml, &Limits::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(back.message.service, "urn:x\u{FFFD}y");
    assert_eq!(back.request_id.as_deref(), Some("R\u{FFFD}"));
    assert_eq!(back.result_major, ResultMajor::Other("urn:\u{FFFD}".into()));
}

/// Finding 5: `str::trim` stripped U+00A0 and other Unicode spaces that XML treats as
/// content: an Application ` urn:ietf:rfc:2633 ` (NBSP, EM SPACE) was read as S/MIME and a
/// RespondWith ` …#KeyName` as KeyName — not what was sent.
#[test]
fn only_xml_white_space_is_trimmed() {
    let nbsp = read("uri-nbsp.xml");
    let m = round_trip(&nbsp).unwrap();
    assert_eq!(
        use_key_with(&m).application,
        Application::Other("\u{A0}urn:ietf:rfc:2633\u{2003}".into())
    );
    assert_eq!(
        request_of(&m).respond_with,
        [RespondWith::Other(
            "\u{A0}http://www.w3.org/2002/03/xkms#KeyName".into()
        )]
    );
    // XML white space around the values is still collapsed away.
    let spaced = nbsp
        .replace(
            "&#xA0;urn:ietf:rfc:2633&#x2003;",
            " \turn:ietf:rfc:2633&#10;",
        )
        .replace("&#xA0;http:", "\n  http:");
    let m = round_trip(&spaced).unwrap();
    assert_eq!(use_key_with(&m).application, Application::Smime);
    assert_eq!(request_of(&m).respond_with, [RespondWith::KeyName]);
}

#[test]
fn a_datetime_with_a_non_breaking_space_is_refused() {
    let e = round_trip(&read("datetime-nbsp.xml")).unwrap_err();
    assert!(is_invalid_value(&e, "TimeInstant"), "{e:?}");
}

/// Every trim in the decoder goes through `XML_WS`: a new `.trim()` would bring finding 5
/// back.
#[test]
fn the_decoder_has_no_unicode_trim() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in [
        "codec/decode.rs",
        "codec/decode_dsig.rs",
        "codec/values.rs",
        "codec/xml.rs",
        "soap.rs",
    ] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        for bad in [
            ".trim()",
            ".trim_start()",
            ".trim_end()",
            "str::trim",
            "is_whitespace()",
        ] {
            assert!(
                !text.contains(bad),
                "{file} uses `{bad}`: trim with `XML_WS`"
            );
        }
    }
}
