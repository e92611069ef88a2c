//! RespondWith: what goes into a returned key binding's `ds:KeyInfo` (digest §3.3).
//!
//! The service returns what it can. Anything asked for that it cannot provide makes the
//! result `Success/Incomplete` — never a silent omission.

use crate::store::{CertificateRecord, KeyBindingRecord};
use time::{Duration, OffsetDateTime};
use xkms_proto::{
    KeyBindingAbstract, KeyInfo, KeyValue, Reason, RespondWith, RetrievalMethod, RsaKeyValue,
    Status, StatusValue, ValidityInterval, X509Data,
};

/// The `ValidityInterval` of a certificate. X.509's notAfter is the last second the
/// certificate is valid (RFC 5280 §4.1.2.5, inclusive); XKMS's `NotOnOrAfter` is the first
/// instant it is not, one second later.
///
/// A notAfter of `99991231235959Z` (RFC 5280 §4.1.2.5: no well-defined expiration date) has
/// no instant one second later that a dateTime can carry: `NotOnOrAfter` is then omitted,
/// which XKMS reads as "no end".
pub fn validity_interval(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> ValidityInterval {
    ValidityInterval {
        not_before: Some(not_before),
        not_on_or_after: not_after
            .checked_add(Duration::SECOND)
            // Also when a build of `time` with large dates could hold year 10000.
            .filter(|t| t.year() <= 9999),
    }
}

/// The certificate notAfter for a requested `NotOnOrAfter` (the inverse of
/// [`validity_interval`]).
pub fn not_after_for(not_on_or_after: OffsetDateTime) -> OffsetDateTime {
    not_on_or_after.saturating_sub(Duration::SECOND)
}

/// The material a key binding can be described with.
#[derive(Debug, Clone, Copy)]
pub struct BindingMaterial<'a> {
    pub key_name: Option<&'a str>,
    pub modulus: &'a [u8],
    pub exponent: &'a [u8],
    /// The binding's current certificate (DER), if it has one.
    pub certificate: Option<&'a [u8]>,
    /// Issuer chain above `certificate`, nearest first (DER).
    pub chain: &'a [Vec<u8>],
}

/// A KeyInfo built per RespondWith, and whether something asked for was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub key_info: Option<KeyInfo>,
    pub incomplete: bool,
}

/// What a key binding can be described with besides [`BindingMaterial`]: the service's
/// current CRL and where the certificate can be fetched.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtraMaterial<'a> {
    /// The issuing CA's current CRL (DER); `None` when no CRL source is available.
    pub crl: Option<&'a [u8]>,
    /// URL of the end-entity certificate (`<service base>/certificates/<SERIAL>`).
    pub certificate_url: Option<&'a str>,
}

/// A stored key binding as a result describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBinding {
    /// Id, KeyInfo (per RespondWith), KeyUsage and UseKeyWith of the record.
    pub core: KeyBindingAbstract,
    /// The validity of the certificate describing the binding, when it has one.
    pub validity_interval: Option<ValidityInterval>,
    /// Whether something RespondWith asked for was left out.
    pub incomplete: bool,
}

/// The one record → message conversion of a key binding (Locate, Revoke, Recover and
/// the asynchronous results): the record's Id, key name, key, usages and names, and
/// `certificate` (the one describing the binding, issued under `chain`) for KeyInfo
/// and the ValidityInterval.
pub fn stored_binding(
    respond_with: &[RespondWith],
    binding: &KeyBindingRecord,
    certificate: Option<&CertificateRecord>,
    chain: &[Vec<u8>],
    extra: &ExtraMaterial<'_>,
    private_key_handled: bool,
) -> StoredBinding {
    let described = describe_with(
        respond_with,
        &BindingMaterial {
            key_name: binding.key_name.as_deref(),
            modulus: &binding.modulus,
            exponent: &binding.exponent,
            certificate: certificate.map(|c| c.der.as_slice()),
            chain,
        },
        extra,
        private_key_handled,
    );
    StoredBinding {
        core: KeyBindingAbstract {
            id: Some(binding.id.clone()),
            key_info: described.key_info,
            key_usage: binding.key_usage.clone(),
            use_key_with: binding.use_key_with_elements(),
        },
        validity_interval: certificate.map(|c| validity_interval(c.not_before, c.not_after)),
        incomplete: described.incomplete,
    }
}

/// The Status of a binding the service vouches for: every reason Valid.
pub fn valid_status() -> Status {
    Status {
        status_value: StatusValue::Valid,
        valid_reasons: vec![
            Reason::IssuerTrust,
            Reason::RevocationStatus,
            Reason::ValidityInterval,
            Reason::Signature,
        ],
        indeterminate_reasons: Vec::new(),
        invalid_reasons: Vec::new(),
    }
}

/// `Type` of a `ds:RetrievalMethod` that yields a DER certificate.
pub const RAW_X509_CERTIFICATE: &str = "http://www.w3.org/2000/09/xmldsig#rawX509Certificate";

/// Builds the KeyInfo for `respond_with`. `PrivateKey` is not KeyInfo material: the
/// operation that can return one handles it and tells us via `private_key_handled`.
/// `X509CRL` and `RetrievalMethod` need [`describe_with`]; here they make the result
/// incomplete.
pub fn describe(
    respond_with: &[RespondWith],
    material: &BindingMaterial<'_>,
    private_key_handled: bool,
) -> Described {
    describe_with(
        respond_with,
        material,
        &ExtraMaterial::default(),
        private_key_handled,
    )
}

/// Like [`describe`], with a CRL and a certificate URL available. An empty modulus means
/// the key is not RSA: `KeyValue` then cannot be given and makes the result incomplete.
pub fn describe_with(
    respond_with: &[RespondWith],
    material: &BindingMaterial<'_>,
    extra: &ExtraMaterial<'_>,
    private_key_handled: bool,
) -> Described {
    let mut key_info = KeyInfo::default();
    let mut incomplete = false;
    let mut want_cert = false;
    let mut want_chain = false;
    let mut want_crl = false;
    for item in respond_with {
        match item {
            RespondWith::KeyName => match material.key_name {
                Some(name) if !key_info.key_names.iter().any(|n| n == name) => {
                    key_info.key_names.push(name.to_owned())
                }
                Some(_) => {}
                None => incomplete = true,
            },
            RespondWith::KeyValue => {
                if material.modulus.is_empty() {
                    incomplete = true;
                } else if key_info.key_values.is_empty() {
                    key_info.key_values.push(KeyValue::Rsa(RsaKeyValue {
                        modulus: material.modulus.to_vec(),
                        exponent: material.exponent.to_vec(),
                    }));
                }
            }
            RespondWith::X509Cert => want_cert = true,
            RespondWith::X509Chain => want_chain = true,
            RespondWith::X509Crl => want_crl = true,
            RespondWith::RetrievalMethod => match (extra.certificate_url, material.certificate) {
                (Some(url), Some(_)) => {
                    if !key_info.retrieval_methods.iter().any(|r| r.uri == url) {
                        key_info.retrieval_methods.push(RetrievalMethod {
                            uri: url.to_owned(),
                            type_: Some(RAW_X509_CERTIFICATE.to_owned()),
                        });
                    }
                }
                _ => incomplete = true,
            },
            RespondWith::PrivateKey => incomplete |= !private_key_handled,
            RespondWith::Pgp | RespondWith::PgpWeb | RespondWith::Spki | RespondWith::Other(_) => {
                incomplete = true
            }
        }
    }
    let mut data = X509Data::default();
    if want_cert || want_chain {
        match material.certificate {
            Some(cert) => {
                data.certificates.push(cert.to_vec());
                if want_chain {
                    data.certificates.extend(material.chain.iter().cloned());
                }
            }
            None => incomplete = true,
        }
    }
    if want_crl {
        match extra.crl {
            Some(crl) => data.crls.push(crl.to_vec()),
            None => incomplete = true,
        }
    }
    if !data.certificates.is_empty() || !data.crls.is_empty() {
        key_info.x509_data.push(data);
    }
    let empty = key_info.key_names.is_empty()
        && key_info.key_values.is_empty()
        && key_info.retrieval_methods.is_empty()
        && key_info.x509_data.is_empty();
    Described {
        key_info: (!empty).then_some(key_info),
        incomplete,
    }
}

/// The URL under which the service publishes a certificate it issued: the Service URI
/// without its trailing `/xkms`, then `/certificates/<serial>` (upper-case hex).
pub fn certificate_url(service_uri: &str, serial_hex: &str) -> String {
    format!("{}/certificates/{serial_hex}", service_base(service_uri))
}

/// Where the service's other resources live: the Service URI without its trailing
/// `/xkms` (`http://h:8080/xkms` → `http://h:8080`).
pub fn service_base(service_uri: &str) -> &str {
    let base = service_uri.trim_end_matches('/');
    base.strip_suffix("/xkms").unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material<'a>(cert: Option<&'a [u8]>, chain: &'a [Vec<u8>]) -> BindingMaterial<'a> {
        BindingMaterial {
            key_name: Some("joe@example.com"),
            modulus: &[0xc0, 0x01],
            exponent: &[1, 0, 1],
            certificate: cert,
            chain,
        }
    }

    #[test]
    fn not_on_or_after_is_one_second_after_the_inclusive_not_after() {
        let nb = time::macros::datetime!(2026-01-01 00:00 UTC);
        let na = time::macros::datetime!(2026-12-31 23:59:59 UTC);
        let vi = validity_interval(nb, na);
        assert_eq!(vi.not_before, Some(nb));
        assert_eq!(
            vi.not_on_or_after,
            Some(time::macros::datetime!(2027-01-01 00:00 UTC))
        );
        assert_eq!(not_after_for(vi.not_on_or_after.unwrap()), na);
    }

    #[test]
    fn a_certificate_without_expiry_has_no_not_on_or_after() {
        // RFC 5280 §4.1.2.5: 99991231235959Z; one second later is past what a dateTime
        // (and `time`) can hold. Before the fix: an overflow panic.
        let nb = time::macros::datetime!(2026-01-01 00:00 UTC);
        let na = time::macros::datetime!(9999-12-31 23:59:59 UTC);
        let vi = validity_interval(nb, na);
        assert_eq!(vi.not_before, Some(nb));
        assert_eq!(vi.not_on_or_after, None);
        // The inverse saturates instead of panicking at the other end.
        let min = time::macros::datetime!(-9999-01-01 00:00 UTC);
        assert_eq!(not_after_for(min), min);
    }

    #[test]
    fn seed_respond_with_is_complete() {
        let chain = vec![vec![9u8]];
        let d = describe(
            &[
                RespondWith::KeyValue,
                RespondWith::KeyName,
                RespondWith::X509Cert,
            ],
            &material(Some(&[1, 2, 3]), &chain),
            false,
        );
        assert!(!d.incomplete);
        let ki = d.key_info.unwrap();
        assert_eq!(ki.key_names, vec!["joe@example.com".to_string()]);
        assert_eq!(ki.key_values.len(), 1);
        assert_eq!(ki.x509_data[0].certificates, vec![vec![1u8, 2, 3]]);
    }

    #[test]
    fn chain_appends_issuers() {
        let chain = vec![vec![9u8]];
        let d = describe(
            &[RespondWith::X509Chain],
            &material(Some(&[1]), &chain),
            false,
        );
        assert_eq!(
            d.key_info.unwrap().x509_data[0].certificates,
            vec![vec![1u8], vec![9u8]]
        );
    }

    #[test]
    fn unavailable_items_make_incomplete() {
        for rw in [
            RespondWith::Pgp,
            RespondWith::X509Crl,
            RespondWith::PrivateKey,
        ] {
            let d = describe(
                &[RespondWith::KeyName, rw.clone()],
                &material(None, &[]),
                false,
            );
            assert!(d.incomplete, "{rw:?}");
            assert!(d.key_info.is_some());
        }
        let d = describe(&[RespondWith::X509Cert], &material(None, &[]), false);
        assert!(d.incomplete);
        assert!(d.key_info.is_none());
    }

    #[test]
    fn crl_and_retrieval_method_when_available() {
        let chain = vec![vec![9u8]];
        let url = certificate_url("http://127.0.0.1:8080/xkms", "0A1B");
        assert_eq!(url, "http://127.0.0.1:8080/certificates/0A1B");
        let d = describe_with(
            &[
                RespondWith::X509Crl,
                RespondWith::RetrievalMethod,
                RespondWith::X509Cert,
            ],
            &material(Some(&[1]), &chain),
            &ExtraMaterial {
                crl: Some(&[7, 7]),
                certificate_url: Some(&url),
            },
            false,
        );
        assert!(!d.incomplete);
        let ki = d.key_info.unwrap();
        assert_eq!(ki.retrieval_methods[0].uri, url);
        assert_eq!(
            ki.retrieval_methods[0].type_.as_deref(),
            Some(RAW_X509_CERTIFICATE)
        );
        assert_eq!(ki.x509_data[0].certificates, vec![vec![1u8]]);
        assert_eq!(ki.x509_data[0].crls, vec![vec![7u8, 7]]);

        // Without a CRL source or a URL: incomplete, never silently dropped.
        let d = describe(
            &[RespondWith::X509Crl, RespondWith::RetrievalMethod],
            &material(Some(&[1]), &chain),
            false,
        );
        assert!(d.incomplete);
        assert!(d.key_info.is_none());
    }

    #[test]
    fn non_rsa_key_value_is_incomplete() {
        let mut m = material(None, &[]);
        m.modulus = &[];
        let d = describe(&[RespondWith::KeyValue, RespondWith::KeyName], &m, false);
        assert!(d.incomplete);
        assert!(d.key_info.unwrap().key_values.is_empty());
    }
}
