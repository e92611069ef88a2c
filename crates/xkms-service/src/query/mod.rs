//! Key queries: a QueryKeyBinding reduced to what can be compared with stored bindings
//! ([`KeyQuery`], digest §4.3), the store lookup that finds the matching bindings, and
//! the rules Locate and Validate share (TimeInstant range, ResponseLimit, the certificate
//! of a binding at an instant). [`certificate`] matches a certificate against a query.

pub mod certificate;

use crate::error::ServiceError;
use crate::identity::{key_fingerprint, normalize_identifier, stored_use_key_with};
use crate::store::{
    BindingSelector, CertificateRecord, KeyBindingRecord, KeyBindingStore, StoredUseKeyWith,
};
use time::OffsetDateTime;
use xkms_ca::{DistinguishedName, RsaPublicKey, Serial};
use xkms_proto::{Application, KeyUsage, KeyValue, QueryKeyBinding};

pub use certificate::{fits_query, usage_fits};

/// Server-side cap on the key bindings one Locate or Validate result carries, whatever
/// the ResponseLimit: bounds response size and the work per request.
pub const MAX_RESULTS: usize = 100;
/// How many candidate bindings one store lookup may return before in-memory filtering.
/// When a lookup hits this bound the answer is a subset and says `TooManyResponses`.
pub const MAX_CANDIDATES: usize = 1000;

/// How far ahead of the clock a TimeInstant may lie (clock skew between client and us).
pub const FUTURE_TOLERANCE: time::Duration = time::Duration::minutes(5);

/// The one rule for a query's TimeInstant, in Locate and Validate alike: the service
/// answers for instants from its CA's creation up to a little past now; outside that,
/// `Sender/TimeInstantOutOfRange`.
pub(crate) fn check_time_instant(
    requested: Option<OffsetDateTime>,
    now: OffsetDateTime,
    ca_not_before: OffsetDateTime,
) -> Result<(), ServiceError> {
    match requested {
        Some(at) if at > now + FUTURE_TOLERANCE => Err(ServiceError::TimeInstantOutOfRange(
            "TimeInstant lies in the future",
        )),
        Some(at) if at < ca_not_before => Err(ServiceError::TimeInstantOutOfRange(
            "TimeInstant lies before this service's CA existed",
        )),
        _ => Ok(()),
    }
}

/// Matching bindings and whether the list is a subset.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub matches: Vec<(KeyBindingRecord, Vec<CertificateRecord>)>,
    pub truncated: bool,
}

/// Bindings matching `query`, at most `limit`, with their certificates (newest
/// first). `truncated` when more matched (or may have matched) than returned.
pub(crate) async fn find_matching(
    store: &dyn KeyBindingStore,
    query: &KeyQuery,
    limit: usize,
) -> Result<Found, ServiceError> {
    let mut found = Found::default();
    let Some(selector) = query.selector() else {
        return Ok(found);
    };
    // One read: the candidates come with their certificates.
    let candidates = store
        .find_bindings_with_certificates(&selector, MAX_CANDIDATES)
        .await?;
    found.truncated = candidates.len() >= MAX_CANDIDATES;
    for (binding, certificates) in candidates {
        if !query.matches_binding(&binding) || !query.matches_certificates(&certificates) {
            continue;
        }
        if found.matches.len() >= limit {
            found.truncated = true;
            break;
        }
        found.matches.push((binding, certificates));
    }
    Ok(found)
}

/// A QueryKeyBinding reduced to what can be compared with stored bindings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyQuery {
    /// `ds:KeyName`s: each must equal the binding's key name.
    pub key_names: Vec<String>,
    /// SHA-256 of the SPKI of each KeyValue / certificate key: all must equal the binding's.
    pub fingerprints: Vec<Vec<u8>>,
    /// Serials (our upper-case hex) the binding must have a certificate for.
    pub serials: Vec<Serial>,
    /// SubjectKeyIdentifiers the binding must have a certificate with.
    pub skis: Vec<Vec<u8>>,
    /// X509SubjectNames (RFC 4514): the binding must carry each as PKIX UseKeyWith.
    pub subject_names: Vec<String>,
    /// UseKeyWith alternatives (stored form): the binding must carry at least one.
    pub use_key_with: Vec<StoredUseKeyWith>,
    /// Usages the binding must permit.
    pub key_usage: Vec<KeyUsage>,
    /// Some element can never match a binding of this service.
    pub impossible: bool,
}

impl KeyQuery {
    /// Reduces `qkb`; `ca_subject` is our CA's subject (for X509IssuerSerial).
    pub fn from_query(qkb: &QueryKeyBinding, ca_subject: &str) -> Result<KeyQuery, ServiceError> {
        let mut q = KeyQuery {
            key_usage: qkb.core.key_usage.clone(),
            ..KeyQuery::default()
        };
        let key_info_empty = qkb.core.key_info.as_ref().is_none_or(|ki| {
            ki.key_names.is_empty()
                && ki.key_values.is_empty()
                && ki.retrieval_methods.is_empty()
                && ki.x509_data.is_empty()
                && ki.unsupported_children == 0
        });
        if key_info_empty && qkb.core.use_key_with.is_empty() && qkb.core.key_usage.is_empty() {
            return Err(ServiceError::InvalidRequest(
                "QueryKeyBinding names no key, certificate, name or usage",
            ));
        }
        if let Some(ki) = &qkb.core.key_info {
            if !ki.retrieval_methods.is_empty() {
                return Err(ServiceError::OptionalElementNotSupported(
                    "RetrievalMethod in a query is not dereferenced",
                ));
            }
            q.impossible |= ki.unsupported_children > 0;
            for name in &ki.key_names {
                push_unique(&mut q.key_names, name.trim().to_owned());
            }
            for value in &ki.key_values {
                match value {
                    KeyValue::Rsa(rsa) => push_unique(
                        &mut q.fingerprints,
                        key_fingerprint(&RsaPublicKey {
                            modulus: rsa.modulus.clone(),
                            exponent: rsa.exponent.clone(),
                        }),
                    ),
                    KeyValue::Unsupported => q.impossible = true,
                }
            }
            let certificates: Vec<Vec<u8>> = ki
                .x509_data
                .iter()
                .flat_map(|d| d.certificates.iter().cloned())
                .collect();
            if let Some(end_entity) = end_entity_of(&certificates)? {
                match end_entity.rsa_public_key {
                    Some(key) => push_unique(&mut q.fingerprints, key_fingerprint(&key)),
                    None => q.impossible = true,
                }
            }
            let our_issuer = normalize_dn(ca_subject);
            for data in &ki.x509_data {
                for name in &data.subject_names {
                    match normalize_identifier(&Application::Pkix, name) {
                        Some(dn) => push_unique(&mut q.subject_names, dn),
                        None => q.impossible = true,
                    }
                }
                for is in &data.issuer_serials {
                    let serial = (normalize_dn(&is.issuer_name) == our_issuer)
                        .then(|| serial_from_decimal(&is.serial_number))
                        .flatten();
                    match serial {
                        Some(serial) => push_unique(&mut q.serials, serial),
                        None => q.impossible = true,
                    }
                }
                for ski in &data.skis {
                    push_unique(&mut q.skis, ski.clone());
                }
            }
        }
        if !qkb.core.use_key_with.is_empty() {
            for ukw in &qkb.core.use_key_with {
                if let Some(stored) = stored_use_key_with(ukw) {
                    push_unique(&mut q.use_key_with, stored);
                }
            }
            // Every alternative was unusable (e.g. PKIX names that do not parse).
            q.impossible |= q.use_key_with.is_empty();
        }
        if !q.impossible && q.selector().is_none() {
            return Err(ServiceError::Refused(
                "a query must name a key, a certificate or an identity",
            ));
        }
        Ok(q)
    }

    /// The most selective store lookup, `None` when nothing can match.
    pub fn selector(&self) -> Option<BindingSelector> {
        if self.impossible {
            return None;
        }
        if let Some(fp) = self.fingerprints.first() {
            return Some(BindingSelector::KeyFingerprint(fp.clone()));
        }
        if let Some(serial) = self.serials.first() {
            return Some(BindingSelector::CertificateSerial(*serial));
        }
        if let Some(ski) = self.skis.first() {
            return Some(BindingSelector::CertificateSki(ski.clone()));
        }
        if let Some(name) = self.key_names.first() {
            return Some(BindingSelector::KeyName(name.clone()));
        }
        if let Some(dn) = self.subject_names.first() {
            return Some(BindingSelector::UseKeyWith(vec![StoredUseKeyWith {
                application: Application::Pkix,
                identifier: dn.clone(),
            }]));
        }
        (!self.use_key_with.is_empty())
            .then(|| BindingSelector::UseKeyWith(self.use_key_with.clone()))
    }

    /// Every constraint that needs only the binding row.
    pub fn matches_binding(&self, binding: &KeyBindingRecord) -> bool {
        if self.impossible {
            return false;
        }
        let names_ok = self
            .key_names
            .iter()
            .all(|n| binding.key_name.as_deref() == Some(n.as_str()));
        let keys_ok = self
            .fingerprints
            .iter()
            .all(|fp| *fp == binding.key_fingerprint);
        let subjects_ok = self.subject_names.iter().all(|dn| {
            binding
                .use_key_with
                .iter()
                .any(|u| u.application == Application::Pkix && u.identifier == *dn)
        });
        let ukw_ok = self.use_key_with.is_empty()
            || self
                .use_key_with
                .iter()
                .any(|wanted| binding.use_key_with.contains(wanted));
        names_ok && keys_ok && subjects_ok && ukw_ok && usage_permitted(binding, &self.key_usage)
    }

    /// The constraints on the binding's certificates.
    pub fn matches_certificates(&self, certificates: &[CertificateRecord]) -> bool {
        self.serials
            .iter()
            .all(|s| certificates.iter().any(|c| c.serial == *s))
            && self
                .skis
                .iter()
                .all(|ski| certificates.iter().any(|c| c.ski == *ski))
    }
}

/// min(ResponseLimit, [`MAX_RESULTS`]).
pub(crate) fn effective_limit(response_limit: Option<u32>) -> usize {
    response_limit
        .and_then(|l| usize::try_from(l).ok())
        .map_or(MAX_RESULTS, |l| l.min(MAX_RESULTS))
}

/// A binding permits every usage when it stores none (digest §3.6), else exactly those.
pub(crate) fn usage_permitted(binding: &KeyBindingRecord, wanted: &[KeyUsage]) -> bool {
    binding.key_usage.is_empty() || wanted.iter().all(|u| binding.key_usage.contains(u))
}

/// The certificate describing a binding at `at`: the newest whose validity covers it,
/// else the newest (`certificates` is newest first).
pub(crate) fn certificate_at(
    certificates: &[CertificateRecord],
    at: Option<OffsetDateTime>,
) -> Option<&CertificateRecord> {
    at.and_then(|t| {
        certificates
            .iter()
            .find(|c| c.not_before <= t && t <= c.not_after)
    })
    .or_else(|| certificates.first())
}

/// The end-entity certificate among those a query carries: the first that is not a CA,
/// else the first. The others are path-building material (Validate) or ignored (Locate).
pub(crate) fn end_entity_of(
    certificates: &[Vec<u8>],
) -> Result<Option<xkms_ca::CertificateInfo>, ServiceError> {
    Ok(end_entity_with_index(certificates)?.map(|(_, info)| info))
}

/// [`end_entity_of`] and its position among `certificates`.
pub(crate) fn end_entity_with_index(
    certificates: &[Vec<u8>],
) -> Result<Option<(usize, xkms_ca::CertificateInfo)>, ServiceError> {
    let mut parsed = Vec::with_capacity(certificates.len());
    for der in certificates {
        parsed.push(
            xkms_ca::parse_certificate(der)
                .map_err(|_| ServiceError::InvalidRequest("an X509Certificate does not parse"))?,
        );
    }
    let index = parsed.iter().position(|c| !c.is_ca).unwrap_or(0);
    Ok((!parsed.is_empty()).then(|| (index, parsed.swap_remove(index))))
}

/// A DN in RFC 4514 form when it parses; else the trimmed text (so two spellings of a
/// name our parser cannot read still compare equal when they are identical).
pub(crate) fn normalize_dn(name: &str) -> String {
    DistinguishedName::parse(name)
        .map(|dn| dn.to_rfc4514())
        .unwrap_or_else(|_| name.trim().to_owned())
}

/// An X509SerialNumber (decimal) as a serial, if it is one of our 128-bit serials.
fn serial_from_decimal(decimal: &str) -> Option<Serial> {
    let n: u128 = decimal.trim().parse().ok()?;
    Serial::from_hex(&format!("{n:X}")).ok()
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}

#[cfg(test)]
mod tests;
