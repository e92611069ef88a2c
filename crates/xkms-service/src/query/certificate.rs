//! Whether a certificate fits a query: its keyUsage bits, the names it carries (subject,
//! e-mail addresses, DNS names) against KeyUsage, UseKeyWith and KeyName (Validate), and
//! the binding a certificate itself describes (Locate of an unknown certificate).

use super::{normalize_dn, usage_permitted};
use crate::identity::{
    key_fingerprint, normalize_email, normalize_identifier, stored_use_key_with,
};
use crate::store::KeyBindingRecord;
use xkms_ca::{CertificateInfo, DistinguishedName, DnAttribute, RsaPublicKey};
use xkms_proto::{Application, KeyUsage, KeyValue, QueryKeyBinding, UseKeyWith};

/// Whether the certificate (and our stored binding, when there is one) fits every
/// KeyUsage, UseKeyWith, KeyName, KeyValue and X509 name element of the query.
pub fn fits_query(
    info: &CertificateInfo,
    binding: Option<&KeyBindingRecord>,
    qkb: &QueryKeyBinding,
) -> bool {
    let usage_ok = usage_fits(info, &qkb.core.key_usage)
        && binding.is_none_or(|b| usage_permitted(b, &qkb.core.key_usage));
    let names_ok = qkb
        .core
        .use_key_with
        .iter()
        .all(|u| use_key_with_fits(info, binding, u));
    let Some(ki) = &qkb.core.key_info else {
        return usage_ok && names_ok;
    };
    let key_names_ok = ki.key_names.iter().all(|n| key_name_fits(info, binding, n));
    let cert_fp = info.rsa_public_key.as_ref().map(key_fingerprint);
    let key_values_ok = ki.key_values.iter().all(|v| match v {
        KeyValue::Rsa(rsa) => {
            let fp = key_fingerprint(&RsaPublicKey {
                modulus: rsa.modulus.clone(),
                exponent: rsa.exponent.clone(),
            });
            cert_fp.as_ref() == Some(&fp)
        }
        KeyValue::Unsupported => false,
    });
    let subject = normalize_dn(&info.subject);
    let x509_ok =
        ki.x509_data.iter().all(|d| {
            d.subject_names.iter().all(|n| normalize_dn(n) == subject)
                && d.skis
                    .iter()
                    .all(|s| info.subject_key_identifier.as_ref() == Some(s))
                && d.issuer_serials.iter().all(|is| {
                    normalize_dn(&is.issuer_name) == normalize_dn(&info.issuer)
                        && is.serial_number.trim().parse::<u128>().is_ok_and(|n| {
                            format!("{n:X}") == info.serial_hex.trim_start_matches('0')
                        })
                })
        });
    usage_ok && names_ok && key_names_ok && key_values_ok && x509_ok
}

/// Requested usages against the keyUsage bits (no extension = unrestricted):
/// Signature → digitalSignature|nonRepudiation, Encryption → keyEncipherment|
/// dataEncipherment, Exchange → keyAgreement.
pub fn usage_fits(info: &CertificateInfo, wanted: &[KeyUsage]) -> bool {
    let Some(ku) = info.key_usage else {
        return true;
    };
    wanted.iter().all(|u| match u {
        KeyUsage::Signature => ku.digital_signature || ku.non_repudiation,
        KeyUsage::Encryption => ku.key_encipherment || ku.data_encipherment,
        KeyUsage::Exchange => ku.key_agreement,
    })
}

fn use_key_with_fits(
    info: &CertificateInfo,
    binding: Option<&KeyBindingRecord>,
    ukw: &UseKeyWith,
) -> bool {
    if let (Some(b), Some(stored)) = (binding, stored_use_key_with(ukw))
        && b.use_key_with.contains(&stored)
    {
        return true;
    }
    let Some(id) = normalize_identifier(&ukw.application, &ukw.identifier) else {
        return false;
    };
    match &ukw.application {
        Application::Smime | Application::Pgp => email_addresses_of(info).contains(&id),
        Application::TlsHttps | Application::TlsSmtp => {
            info.dns_names.iter().any(|d| dns_matches(d, &id))
        }
        Application::Pkix => normalize_dn(&info.subject) == id,
        Application::Tls => info.uris.contains(&id),
        Application::Ipsec => id
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| info.ip_addresses.contains(&ip)),
        // Nothing in a certificate names an XKMS role or an unknown application.
        Application::Xkms | Application::XkmsProfile | Application::Other(_) => false,
    }
}

fn key_name_fits(info: &CertificateInfo, binding: Option<&KeyBindingRecord>, name: &str) -> bool {
    let name = name.trim();
    if binding.is_some_and(|b| b.key_name.as_deref() == Some(name)) {
        return true;
    }
    let lower = name.to_lowercase();
    email_addresses_of(info).contains(&lower)
        || info.dns_names.iter().any(|d| d.eq_ignore_ascii_case(name))
        || common_name_of(info).is_some_and(|cn| cn == name)
        || normalize_dn(&info.subject) == normalize_dn(name)
}

/// SAN rfc822Names and the subject's emailAddress, lower-case.
fn email_addresses_of(info: &CertificateInfo) -> Vec<String> {
    let mut out: Vec<String> = info
        .email_addresses
        .iter()
        .map(|e| normalize_email(e))
        .collect();
    if let Ok(dn) = DistinguishedName::parse(&info.subject)
        && let Some(e) = dn.get(DnAttribute::EmailAddress)
    {
        out.push(normalize_email(e));
    }
    out
}

fn common_name_of(info: &CertificateInfo) -> Option<String> {
    DistinguishedName::parse(&info.subject)
        .ok()?
        .get(DnAttribute::CommonName)
        .map(str::to_owned)
}

/// dNSName matching, case-insensitive; `*.example.com` covers exactly one label.
fn dns_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix);
    }
    pattern == name
}

/// XKMS usages a certificate's keyUsage bits grant (none without the extension).
pub(crate) fn usages_of_certificate(info: &CertificateInfo) -> Vec<KeyUsage> {
    let Some(ku) = info.key_usage else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if ku.digital_signature || ku.non_repudiation {
        out.push(KeyUsage::Signature);
    }
    if ku.key_encipherment || ku.data_encipherment {
        out.push(KeyUsage::Encryption);
    }
    if ku.key_agreement {
        out.push(KeyUsage::Exchange);
    }
    out
}

/// The names a certificate carries, as UseKeyWith: PKIX subject, S/MIME addresses,
/// HTTPS DNS names.
pub(crate) fn names_of_certificate(info: &CertificateInfo) -> Vec<UseKeyWith> {
    let mut out = vec![UseKeyWith {
        application: Application::Pkix,
        identifier: info.subject.clone(),
    }];
    out.extend(info.email_addresses.iter().map(|e| UseKeyWith {
        application: Application::Smime,
        identifier: e.clone(),
    }));
    out.extend(info.dns_names.iter().map(|d| UseKeyWith {
        application: Application::TlsHttps,
        identifier: d.clone(),
    }));
    out
}
