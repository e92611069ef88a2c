//! The end-entity certificate profile: what a Register/Reissue asks for and
//! how it becomes rcgen parameters.

use std::net::IpAddr;

use rcgen::{
    CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::error::CaError;
use crate::name::DistinguishedName;
use crate::public_key::RsaPublicKey;
use crate::serial::Serial;

/// Clock skew allowance: certificates start this much before `now`.
pub(crate) const CLOCK_SKEW: Duration = Duration::minutes(1);

/// XKMS KeyUsage (digest §3.6), mapped to X.509 keyUsage bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XkmsKeyUsage {
    /// digitalSignature + nonRepudiation.
    Signature,
    /// keyEncipherment + dataEncipherment.
    Encryption,
    /// keyAgreement.
    Exchange,
}

/// What a certificate is for, beyond what its names say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CertificateProfile {
    /// A key binding's certificate: extendedKeyUsage follows its names.
    #[default]
    KeyBinding,
    /// A TLS server certificate (the service's own HTTPS endpoint, issued by the
    /// operator): extendedKeyUsage serverAuth only, for its DNS names and IP addresses.
    TlsServer,
}

/// What to certify. Plain data; `validity` is the service policy (the
/// longest lifetime it grants), the `not_*` fields are what the client asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRequest {
    pub subject: DistinguishedName,
    pub public_key: RsaPublicKey,
    pub email_addresses: Vec<String>,
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// Empty: no usage restriction asserted → digitalSignature + keyEncipherment.
    pub key_usage: Vec<XkmsKeyUsage>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    /// Maximum lifetime from `now`; default 365 days.
    pub validity: Duration,
    pub profile: CertificateProfile,
}

impl Default for IssueRequest {
    fn default() -> Self {
        IssueRequest {
            subject: DistinguishedName::default(),
            public_key: RsaPublicKey::default(),
            email_addresses: Vec::new(),
            dns_names: Vec::new(),
            uris: Vec::new(),
            ip_addresses: Vec::new(),
            key_usage: Vec::new(),
            not_before: None,
            not_after: None,
            validity: Duration::days(365),
            profile: CertificateProfile::KeyBinding,
        }
    }
}

/// A certificate the CA signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub der: Vec<u8>,
    pub serial: Serial,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Subject, RFC 4514.
    pub subject: String,
}

impl IssuedCertificate {
    /// The certificate as PEM.
    pub fn pem(&self) -> String {
        crate::pem::encode(crate::pem::Label::Certificate, &self.der)
    }
}

/// The validity window actually granted:
/// `not_before = max(now - skew, requested, CA notBefore)`,
/// `not_after = min(requested, now + policy, CA notAfter)`.
pub(crate) fn validity_window(
    req: &IssueRequest,
    now: OffsetDateTime,
    ca_not_before: OffsetDateTime,
    ca_not_after: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime), CaError> {
    let policy_end = now
        .checked_add(req.validity)
        .ok_or(CaError::InvalidValidity)?;
    let mut not_before = now - CLOCK_SKEW;
    if let Some(nb) = req.not_before {
        not_before = not_before.max(nb);
    }
    not_before = not_before.max(ca_not_before);
    let not_after = req
        .not_after
        .unwrap_or(policy_end)
        .min(policy_end)
        .min(ca_not_after);
    // X.509 times have one-second resolution; report what the DER holds.
    let not_before = truncate_to_second(not_before);
    let not_after = truncate_to_second(not_after);
    if not_after <= not_before {
        return Err(CaError::InvalidValidity);
    }
    Ok((not_before, not_after))
}

pub(crate) fn truncate_to_second(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
}

/// rcgen parameters for an end-entity certificate.
pub(crate) fn end_entity_params(
    req: &IssueRequest,
    serial: &Serial,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = req.subject.to_rcgen()?;
    params.serial_number = Some(SerialNumber::from_slice(serial.magnitude()));
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa; // basicConstraints CA:FALSE + subjectKeyIdentifier
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = subject_alt_names(req)?;
    if req.subject.is_empty() && params.subject_alt_names.is_empty() {
        return Err(CaError::InvalidName {
            reason: "empty subject and no subjectAltName",
        });
    }
    params.key_usages = key_usages(&req.key_usage);
    params.extended_key_usages = extended_key_usages(req);
    Ok(params)
}

/// id-kp-ipsecIKE (RFC 4945).
const IPSEC_IKE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 17];

/// The purposes a certificate's names fit — always an explicit list, never "any purpose"
/// by omission: emailProtection for e-mail names, serverAuth only for DNS names (the
/// service puts only authorized ones there), ipsecIKE for IP addresses, and clientAuth,
/// which fits every holder identifying itself.
fn extended_key_usages(req: &IssueRequest) -> Vec<ExtendedKeyUsagePurpose> {
    if req.profile == CertificateProfile::TlsServer {
        return vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    let mut out = Vec::new();
    if !req.email_addresses.is_empty() {
        out.push(ExtendedKeyUsagePurpose::EmailProtection);
    }
    if !req.dns_names.is_empty() {
        out.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    out.push(ExtendedKeyUsagePurpose::ClientAuth);
    if !req.ip_addresses.is_empty() {
        out.push(ExtendedKeyUsagePurpose::Other(IPSEC_IKE.to_vec()));
    }
    out
}

fn key_usages(usages: &[XkmsKeyUsage]) -> Vec<KeyUsagePurpose> {
    if usages.is_empty() {
        return vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
    }
    let mut out = Vec::new();
    for usage in usages {
        let bits: &[KeyUsagePurpose] = match usage {
            XkmsKeyUsage::Signature => &[
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ],
            XkmsKeyUsage::Encryption => &[
                KeyUsagePurpose::KeyEncipherment,
                KeyUsagePurpose::DataEncipherment,
            ],
            XkmsKeyUsage::Exchange => &[KeyUsagePurpose::KeyAgreement],
        };
        for bit in bits {
            if !out.contains(bit) {
                out.push(*bit);
            }
        }
    }
    out
}

fn subject_alt_names(req: &IssueRequest) -> Result<Vec<SanType>, CaError> {
    let mut sans = Vec::new();
    for email in &req.email_addresses {
        check_ia5("e-mail", email)?;
        let at = email.find('@').ok_or(CaError::InvalidSubjectAltName {
            kind: "e-mail",
            reason: "missing '@'",
        })?;
        if at == 0 || at + 1 == email.len() || email.contains(char::is_whitespace) {
            return Err(CaError::InvalidSubjectAltName {
                kind: "e-mail",
                reason: "not an addr-spec",
            });
        }
        sans.push(SanType::Rfc822Name(ia5("e-mail", email)?));
    }
    for dns in &req.dns_names {
        check_ia5("DNS name", dns)?;
        let valid = dns.len() <= 253
            && dns.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
            });
        if !valid {
            return Err(CaError::InvalidSubjectAltName {
                kind: "DNS name",
                reason: "not a host name",
            });
        }
        sans.push(SanType::DnsName(ia5("DNS name", dns)?));
    }
    for uri in &req.uris {
        check_ia5("URI", uri)?;
        if !uri.contains(':') || uri.contains(char::is_whitespace) {
            return Err(CaError::InvalidSubjectAltName {
                kind: "URI",
                reason: "not an absolute URI",
            });
        }
        sans.push(SanType::URI(ia5("URI", uri)?));
    }
    sans.extend(req.ip_addresses.iter().copied().map(SanType::IpAddress));
    Ok(sans)
}

fn check_ia5(kind: &'static str, s: &str) -> Result<(), CaError> {
    if s.is_empty() || s.len() > 1024 {
        return Err(CaError::InvalidSubjectAltName {
            kind,
            reason: "empty or too long",
        });
    }
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(CaError::InvalidSubjectAltName {
            kind,
            reason: "must be printable ASCII",
        });
    }
    Ok(())
}

fn ia5(kind: &'static str, s: &str) -> Result<rcgen::string::Ia5String, CaError> {
    s.try_into().map_err(|_| CaError::InvalidSubjectAltName {
        kind,
        reason: "not an IA5String",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn key_usage_mapping() {
        use KeyUsagePurpose::*;
        assert_eq!(key_usages(&[]), vec![DigitalSignature, KeyEncipherment]);
        assert_eq!(
            key_usages(&[XkmsKeyUsage::Signature]),
            vec![DigitalSignature, ContentCommitment]
        );
        assert_eq!(
            key_usages(&[
                XkmsKeyUsage::Encryption,
                XkmsKeyUsage::Exchange,
                XkmsKeyUsage::Encryption
            ]),
            vec![KeyEncipherment, DataEncipherment, KeyAgreement]
        );
    }

    #[test]
    fn extended_key_usage_follows_the_names() {
        use ExtendedKeyUsagePurpose::*;
        assert_eq!(
            extended_key_usages(&IssueRequest::default()),
            vec![ClientAuth]
        );
        let all = IssueRequest {
            email_addresses: vec!["joe@example.com".into()],
            dns_names: vec!["www.example.com".into()],
            ip_addresses: vec!["10.1.2.3".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(
            extended_key_usages(&all),
            vec![
                EmailProtection,
                ServerAuth,
                ClientAuth,
                Other(IPSEC_IKE.to_vec())
            ]
        );
        let server = IssueRequest {
            profile: CertificateProfile::TlsServer,
            ..all
        };
        assert_eq!(extended_key_usages(&server), vec![ServerAuth]);
    }

    #[test]
    fn validity_is_clipped() {
        let now = datetime!(2030-01-01 12:00:00.5 UTC);
        let ca_nb = datetime!(2029-01-01 0:00 UTC);
        let ca_na = datetime!(2030-06-01 0:00 UTC);
        let req = IssueRequest::default();
        let (nb, na) = validity_window(&req, now, ca_nb, ca_na).unwrap();
        assert_eq!(nb, datetime!(2030-01-01 11:59:00 UTC));
        assert_eq!(na, ca_na);

        let req = IssueRequest {
            not_before: Some(datetime!(2030-02-01 0:00 UTC)),
            not_after: Some(datetime!(2030-03-01 0:00 UTC)),
            ..Default::default()
        };
        let (nb, na) = validity_window(&req, now, ca_nb, ca_na).unwrap();
        assert_eq!(
            (nb, na),
            (
                datetime!(2030-02-01 0:00 UTC),
                datetime!(2030-03-01 0:00 UTC)
            )
        );

        let req = IssueRequest {
            validity: Duration::days(10),
            not_after: Some(datetime!(2031-01-01 0:00 UTC)),
            ..Default::default()
        };
        let (_, na) = validity_window(&req, now, ca_nb, ca_na).unwrap();
        assert_eq!(na, datetime!(2030-01-11 12:00:00 UTC));

        let past = IssueRequest {
            not_after: Some(datetime!(2029-06-01 0:00 UTC)),
            ..Default::default()
        };
        assert!(matches!(
            validity_window(&past, now, ca_nb, ca_na),
            Err(CaError::InvalidValidity)
        ));
    }

    #[test]
    fn bad_alt_names_are_refused() {
        for req in [
            IssueRequest {
                email_addresses: vec!["no-at-sign".into()],
                ..Default::default()
            },
            IssueRequest {
                email_addresses: vec!["jö@example.com".into()],
                ..Default::default()
            },
            IssueRequest {
                dns_names: vec!["bad host".into()],
                ..Default::default()
            },
            IssueRequest {
                uris: vec!["relative/path".into()],
                ..Default::default()
            },
        ] {
            assert!(matches!(
                subject_alt_names(&req),
                Err(CaError::InvalidSubjectAltName { .. })
            ));
        }
    }
}
