//! Findings of the fuzz campaign at the service level (docs/FUZZING.md). Each test would
//! fail (panic) on the service as it was before its fix.

use crate::harness::*;
use rcgen::{CertificateParams, KeyPair};
use time::macros::datetime;
use xkms_client::locate::LocateParams;
use xkms_proto::{Request, ResultMessage, ValidityInterval};

/// A self-signed certificate whose notAfter is 99991231235959Z (RFC 5280: no expiry).
fn certificate_without_expiry() -> Vec<u8> {
    let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
    let mut params = CertificateParams::new(vec!["forever.example".to_owned()]).unwrap();
    params.not_before = datetime!(2020-01-01 0:00 UTC);
    params.not_after = datetime!(9999-12-31 23:59:59 UTC);
    params.self_signed(&key).unwrap().der().to_vec()
}

fn intervals(result: &ResultMessage) -> Vec<Option<ValidityInterval>> {
    match result {
        ResultMessage::Locate(r) => r
            .unverified_key_bindings
            .iter()
            .map(|b| b.validity_interval.clone())
            .collect(),
        ResultMessage::Validate(r) => r
            .key_bindings
            .iter()
            .map(|b| b.validity_interval.clone())
            .collect(),
        other => panic!("unexpected result {other:?}"),
    }
}

/// Finding 4: `NotOnOrAfter = notAfter + 1 s` overflowed `time`'s range and panicked the
/// responder for any Locate or Validate naming such a certificate (unauthenticated).
#[tokio::test]
async fn a_certificate_that_never_expires_is_described_without_not_on_or_after() {
    let h = Harness::new().await;
    let params = LocateParams {
        certificates: vec![certificate_without_expiry()],
        ..Default::default()
    };
    let mut locate = h.client.locate_request(&params);
    locate.request.message.service = SERVICE.into();
    let mut validate = h.client.validate_request(&params);
    validate.request.message.service = SERVICE.into();
    for request in [Request::Locate(locate), Request::Validate(validate)] {
        let result = h.process(&document(&request)).await;
        let intervals = intervals(&result);
        assert!(
            !intervals.is_empty(),
            "no key binding described: {result:?}"
        );
        for interval in intervals {
            assert_eq!(
                interval,
                Some(ValidityInterval {
                    not_before: Some(datetime!(2020-01-01 0:00 UTC)),
                    not_on_or_after: None,
                })
            );
        }
    }
}
