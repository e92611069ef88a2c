//! Reading certificates (ours or a client's) with x509-parser.

use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::ToDer;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::x509::X509Name;

use crate::error::CaError;
use crate::name::{DnAttribute, escape_value};
use crate::public_key::RsaPublicKey;
use crate::serial::Serial;

/// What the service needs to know about a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject, RFC 4514 (as `openssl x509 -nameopt RFC2253` prints it).
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Serial number in upper-case hex without leading zero bytes, as
    /// `openssl x509 -serial` prints it.
    pub serial_hex: String,
    /// The serial as a [`Serial`] when it fits (positive, at most 16 bytes).
    pub serial: Option<Serial>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// The subject public key when it is RSA.
    pub rsa_public_key: Option<RsaPublicKey>,
    /// The DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// subjectAltName rfc822Name entries.
    pub email_addresses: Vec<String>,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// subjectAltName uniformResourceIdentifier entries.
    pub uris: Vec<String>,
    /// subjectAltName iPAddress entries.
    pub ip_addresses: Vec<IpAddr>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// subjectKeyIdentifier, if present.
    pub subject_key_identifier: Option<Vec<u8>>,
    /// keyUsage bits as (digitalSignature, nonRepudiation, keyEncipherment,
    /// dataEncipherment, keyAgreement, keyCertSign, cRLSign); `None` without the extension.
    pub key_usage: Option<KeyUsageBits>,
}

/// The keyUsage extension's bits that matter to XKMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyUsageBits {
    pub digital_signature: bool,
    pub non_repudiation: bool,
    pub key_encipherment: bool,
    pub data_encipherment: bool,
    pub key_agreement: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
}

/// Parses a DER X.509 certificate. Does not verify anything; see
/// [`crate::Ca::verify_issued`] for certificates claimed to be ours.
pub fn parse_certificate(der: &[u8]) -> Result<CertificateInfo, CaError> {
    let cert = parse_x509(der)?;
    let malformed = |_| CaError::InvalidCertificate {
        reason: "malformed extension",
    };

    let raw_serial = crate::der::strip_leading_zeros(cert.tbs_certificate.raw_serial());
    let serial_hex = if raw_serial.is_empty() {
        "00".to_owned()
    } else {
        raw_serial.iter().map(|b| format!("{b:02X}")).collect()
    };
    let serial = (raw_serial.len() <= 16 && !raw_serial.is_empty())
        .then(|| Serial::from_hex(&serial_hex).ok())
        .flatten();

    let mut info = CertificateInfo {
        subject: x509_name_to_rfc4514(cert.subject())?,
        issuer: x509_name_to_rfc4514(cert.issuer())?,
        serial_hex,
        serial,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        rsa_public_key: RsaPublicKey::from_parsed_spki(cert.public_key()).ok(),
        spki_der: cert.public_key().raw.to_vec(),
        email_addresses: Vec::new(),
        dns_names: Vec::new(),
        uris: Vec::new(),
        ip_addresses: Vec::new(),
        is_ca: cert
            .basic_constraints()
            .map_err(malformed)?
            .is_some_and(|bc| bc.value.ca),
        subject_key_identifier: None,
        key_usage: None,
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(ki) => {
                info.subject_key_identifier = Some(ki.0.to_vec());
            }
            ParsedExtension::KeyUsage(ku) => {
                info.key_usage = Some(KeyUsageBits {
                    digital_signature: ku.digital_signature(),
                    non_repudiation: ku.non_repudiation(),
                    key_encipherment: ku.key_encipherment(),
                    data_encipherment: ku.data_encipherment(),
                    key_agreement: ku.key_agreement(),
                    key_cert_sign: ku.key_cert_sign(),
                    crl_sign: ku.crl_sign(),
                });
            }
            _ => {}
        }
    }

    if let Some(san) = cert.subject_alternative_name().map_err(malformed)? {
        for name in &san.value.general_names {
            match name {
                GeneralName::RFC822Name(e) => info.email_addresses.push((*e).to_owned()),
                GeneralName::DNSName(d) => info.dns_names.push((*d).to_owned()),
                GeneralName::URI(u) => info.uris.push((*u).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        info.ip_addresses.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        info.ip_addresses.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(info)
}

pub(crate) fn parse_x509(der: &[u8]) -> Result<X509Certificate<'_>, CaError> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|_| CaError::InvalidCertificate {
            reason: "not a DER X.509 certificate",
        })?;
    if !rest.is_empty() {
        return Err(CaError::InvalidCertificate {
            reason: "trailing data after certificate",
        });
    }
    Ok(cert)
}

/// RFC 4514 rendering of any X.509 name: known attributes by OpenSSL's short
/// name, others by dotted OID with a `#hex` DER value; multi-valued RDNs
/// joined with `+`.
pub(crate) fn x509_name_to_rfc4514(name: &X509Name<'_>) -> Result<String, CaError> {
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut atvs = Vec::new();
        for atv in rdn.iter() {
            let arcs: Vec<u64> = atv.attr_type().iter().map(|it| it.collect()).ok_or(
                CaError::InvalidCertificate {
                    reason: "unsupported attribute type OID",
                },
            )?;
            let known = DnAttribute::from_oid(&arcs);
            let key = match known {
                Some(a) => a.short_name().to_owned(),
                None => atv.attr_type().to_id_string(),
            };
            let value = match (known, atv.as_str()) {
                (Some(_), Ok(s)) => escape_value(s),
                _ => {
                    let der =
                        atv.attr_value()
                            .to_der_vec()
                            .map_err(|_| CaError::InvalidCertificate {
                                reason: "unencodable attribute value",
                            })?;
                    let hex: String = der.iter().map(|b| format!("{b:02X}")).collect();
                    format!("#{hex}")
                }
            };
            atvs.push(format!("{key}={value}"));
        }
        rdns.push(atvs.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}
