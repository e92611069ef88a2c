//! Locate (X-KISS, digest §4.1): find the key bindings this service registered that match
//! a QueryKeyBinding, and describe them per RespondWith. Locate asserts nothing about
//! trust: revoked and expired bindings are returned like any other.
//!
//! Matching (digest §4.3): every element present constrains the match (AND); several
//! UseKeyWith match if ANY of them does. Identifiers compare after the normalisation of
//! [`crate::identity`] (exact RFC 4514 DN for PKIX, case-insensitive addresses and DNS
//! names) — exact, not EJBCA's prefix match, so `bob@` does not list every Bob. The most
//! selective element picks the store lookup; the others are checked in memory.
//!
//! Refusals: an empty QueryKeyBinding is `Sender/Failure`; one with only KeyUsage (or
//! TimeInstant) would enumerate every key and is `Sender/Refused`; a `ds:RetrievalMethod`
//! in a query is not dereferenced (`Receiver/OptionalElementNotSupported`). Elements that
//! can never match one of our bindings (a DSA key, PGP data, a certificate from another
//! issuer named by X509IssuerSerial) give `Success/NoMatch`: the service is
//! authoritative for its own bindings.

use crate::error::ServiceError;
use crate::identity::{key_fingerprint, normalize_identifier, stored_use_key_with};
use crate::respond::{BindingMaterial, ExtraMaterial, certificate_url, describe_with};
use crate::service::{RequestContext, XkmsService};
use crate::store::{BindingSelector, CertificateRecord, KeyBindingRecord, StoredUseKeyWith};
use time::OffsetDateTime;
use xkms_ca::{DistinguishedName, RsaPublicKey, Serial};
use xkms_proto::{
    Application, KeyBindingAbstract, KeyUsage, KeyValue, LocateRequest, LocateResult,
    QueryKeyBinding, ResultMajor, ResultMinor, UnverifiedKeyBinding,
};

/// Server-side cap on the key bindings one Locate or Validate result carries, whatever
/// the ResponseLimit: bounds response size and the work per request.
pub const MAX_RESULTS: usize = 100;
/// How many candidate bindings one store lookup may return before in-memory filtering.
/// When a lookup hits this bound the answer is a subset and says `TooManyResponses`.
pub const MAX_CANDIDATES: usize = 1000;

impl XkmsService {
    /// Handles a LocateRequest.
    pub async fn locate(
        &self,
        _ctx: &RequestContext<'_>,
        req: &LocateRequest,
    ) -> Result<LocateResult, ServiceError> {
        let qkb = &req.query_key_binding;
        let now = self.clock.now();
        check_time_instant(qkb.time_instant, now, self.ca.not_before())?;
        let query = KeyQuery::from_query(qkb, &self.ca.subject())?;
        let limit = effective_limit(req.request.response_limit);
        let found = self.find_matching(&query, limit).await?;
        if found.matches.is_empty()
            && !found.truncated
            && limit > 0
            && let Some((ukb, incomplete)) = presented_certificate_binding(req)?
        {
            return Ok(LocateResult {
                result: self.result_for(
                    &req.request,
                    ResultMajor::Success,
                    incomplete.then_some(ResultMinor::Incomplete),
                ),
                unverified_key_bindings: vec![ukb],
            });
        }
        if found.matches.is_empty() {
            let minor = if found.truncated {
                ResultMinor::TooManyResponses
            } else {
                ResultMinor::NoMatch
            };
            let major = if found.truncated {
                // ResponseLimit 0 with matches, or candidates beyond what we examine.
                ResultMajor::Receiver
            } else {
                ResultMajor::Success
            };
            return Ok(LocateResult {
                result: self.result_for(&req.request, major, Some(minor)),
                unverified_key_bindings: Vec::new(),
            });
        }
        let crl = self.crl_if_requested(&req.request.respond_with).await;
        let mut incomplete = false;
        let mut bindings = Vec::with_capacity(found.matches.len());
        for (binding, certificates) in &found.matches {
            let (ukb, partial) = self.unverified_key_binding(
                &req.request.respond_with,
                binding,
                certificate_at(certificates, qkb.time_instant),
                crl.as_deref(),
            );
            incomplete |= partial;
            bindings.push(ukb);
        }
        // One ResultMinor only: "you did not get every match" matters more than "some
        // requested KeyInfo is missing".
        let minor = if found.truncated {
            Some(ResultMinor::TooManyResponses)
        } else {
            incomplete.then_some(ResultMinor::Incomplete)
        };
        Ok(LocateResult {
            result: self.result_for(&req.request, ResultMajor::Success, minor),
            unverified_key_bindings: bindings,
        })
    }

    /// Bindings matching `query`, at most `limit`, with their certificates (newest
    /// first). `truncated` when more matched (or may have matched) than returned.
    pub(crate) async fn find_matching(
        &self,
        query: &KeyQuery,
        limit: usize,
    ) -> Result<Found, ServiceError> {
        let mut found = Found::default();
        let Some(selector) = query.selector() else {
            return Ok(found);
        };
        let candidates = self.store.find_bindings(&selector, MAX_CANDIDATES).await?;
        found.truncated = candidates.len() >= MAX_CANDIDATES;
        for binding in candidates {
            if !query.matches_binding(&binding) {
                continue;
            }
            let certificates = self.store.certificates_of(&binding.id).await?;
            if !query.matches_certificates(&certificates) {
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

    /// Our CA's current CRL when RespondWith asks for X509CRL (`None` if it cannot be
    /// produced: the result then says Incomplete).
    pub(crate) async fn crl_if_requested(
        &self,
        respond_with: &[xkms_proto::RespondWith],
    ) -> Option<Vec<u8>> {
        if !respond_with.contains(&xkms_proto::RespondWith::X509Crl) {
            return None;
        }
        match self.crl().await {
            Ok(der) => Some(der),
            Err(e) => {
                tracing::warn!(error = %e, "no CRL for RespondWith X509CRL");
                None
            }
        }
    }

    /// Describes one stored binding. Returns the binding and whether RespondWith could
    /// only be partly honoured.
    fn unverified_key_binding(
        &self,
        respond_with: &[xkms_proto::RespondWith],
        binding: &KeyBindingRecord,
        certificate: Option<&CertificateRecord>,
        crl: Option<&[u8]>,
    ) -> (UnverifiedKeyBinding, bool) {
        let chain = vec![self.ca.certificate_der().to_vec()];
        let url =
            certificate.map(|c| certificate_url(&self.config.service_uri, &c.serial.to_hex()));
        let described = describe_with(
            respond_with,
            &BindingMaterial {
                key_name: binding.key_name.as_deref(),
                modulus: &binding.modulus,
                exponent: &binding.exponent,
                certificate: certificate.map(|c| c.der.as_slice()),
                chain: &chain,
            },
            &ExtraMaterial {
                crl,
                certificate_url: url.as_deref(),
            },
            false,
        );
        let ukb = UnverifiedKeyBinding {
            core: KeyBindingAbstract {
                id: Some(binding.id.clone()),
                key_info: described.key_info,
                key_usage: binding.key_usage.clone(),
                use_key_with: binding.use_key_with_elements(),
            },
            validity_interval: certificate
                .map(|c| crate::respond::validity_interval(c.not_before, c.not_after)),
        };
        (ukb, described.incomplete)
    }
}

/// Matching bindings and whether the list is a subset.
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

/// REC §4.1.2 ("document signature"): a query that names only a certificate the service
/// does not hold is answered with the key binding the certificate itself describes —
/// its key, names, usages and validity. Locate asserts nothing about it (Validate does).
/// `None` when the query names anything else, or usages the certificate does not grant.
fn presented_certificate_binding(
    req: &LocateRequest,
) -> Result<Option<(UnverifiedKeyBinding, bool)>, ServiceError> {
    let qkb = &req.query_key_binding;
    let Some(ki) = &qkb.core.key_info else {
        return Ok(None);
    };
    let only_certificates = ki.key_names.is_empty()
        && ki.key_values.is_empty()
        && ki.unsupported_children == 0
        && ki.x509_data.iter().all(|d| {
            d.issuer_serials.is_empty() && d.skis.is_empty() && d.subject_names.is_empty()
        })
        && qkb.core.use_key_with.is_empty();
    let certificates: Vec<Vec<u8>> = ki
        .x509_data
        .iter()
        .flat_map(|d| d.certificates.iter().cloned())
        .collect();
    if !only_certificates || certificates.is_empty() {
        return Ok(None);
    }
    let Some((index, info)) = end_entity_with_index(&certificates)? else {
        return Ok(None);
    };
    if !crate::validate::usage_fits(&info, &qkb.core.key_usage) {
        return Ok(None);
    }
    let chain: Vec<Vec<u8>> = certificates
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != index)
        .map(|(_, der)| der.clone())
        .collect();
    let (modulus, exponent) = info
        .rsa_public_key
        .as_ref()
        .map_or((&[][..], &[][..]), |k| (&k.modulus[..], &k.exponent[..]));
    let described = describe_with(
        &req.request.respond_with,
        &BindingMaterial {
            key_name: None,
            modulus,
            exponent,
            certificate: certificates.get(index).map(Vec::as_slice),
            chain: &chain,
        },
        &ExtraMaterial::default(),
        false,
    );
    let ukb = UnverifiedKeyBinding {
        core: KeyBindingAbstract {
            id: None,
            key_info: described.key_info,
            key_usage: crate::validate::usages_of_certificate(&info),
            use_key_with: crate::validate::names_of_certificate(&info),
        },
        validity_interval: Some(crate::respond::validity_interval(
            info.not_before,
            info.not_after,
        )),
    };
    Ok(Some((ukb, described.incomplete)))
}

#[derive(Debug, Default)]
pub(crate) struct Found {
    pub matches: Vec<(KeyBindingRecord, Vec<CertificateRecord>)>,
    pub truncated: bool,
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
fn end_entity_with_index(
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
mod tests {
    use super::*;
    use crate::store::BindingStatus;
    use time::macros::datetime;
    use xkms_proto::{KeyInfo, RsaKeyValue, UseKeyWith, X509Data, X509IssuerSerial};

    const CA: &str = "CN=XKMS Demo CA";

    fn binding(usage: &[KeyUsage]) -> KeyBindingRecord {
        KeyBindingRecord {
            id: "b1".into(),
            key_name: Some("bob@example.com".into()),
            modulus: vec![0xc1; 256],
            exponent: vec![1, 0, 1],
            key_fingerprint: key_fingerprint(&RsaPublicKey {
                modulus: vec![0xc1; 256],
                exponent: vec![1, 0, 1],
            }),
            key_usage: usage.to_vec(),
            use_key_with: vec![
                StoredUseKeyWith {
                    application: Application::Smime,
                    identifier: "bob@example.com".into(),
                },
                StoredUseKeyWith {
                    application: Application::Pkix,
                    identifier: "CN=Bob,O=Example,C=US".into(),
                },
                StoredUseKeyWith {
                    application: Application::TlsHttps,
                    identifier: "www.example.com".into(),
                },
            ],
            status: BindingStatus::Revoked,
            revocation_code_identifier: None,
            authorization_id: None,
            created_at: datetime!(2030-01-01 0:00 UTC),
            revoked_at: Some(datetime!(2030-02-01 0:00 UTC)),
        }
    }

    fn certificate(serial: &str, from: OffsetDateTime, to: OffsetDateTime) -> CertificateRecord {
        CertificateRecord {
            serial: Serial::from_hex(serial).unwrap(),
            binding_id: "b1".into(),
            der: vec![1],
            ski: vec![0xAA, 0xBB],
            not_before: from,
            not_after: to,
            issued_at: from,
            revoked_at: None,
            revocation_reason: None,
        }
    }

    fn ukw(app: Application, id: &str) -> UseKeyWith {
        UseKeyWith {
            application: app,
            identifier: id.into(),
        }
    }

    fn query(
        key_info: Option<KeyInfo>,
        ukws: Vec<UseKeyWith>,
        usage: Vec<KeyUsage>,
    ) -> QueryKeyBinding {
        QueryKeyBinding {
            core: KeyBindingAbstract {
                id: None,
                key_info,
                key_usage: usage,
                use_key_with: ukws,
            },
            time_instant: None,
        }
    }

    fn reduce(qkb: &QueryKeyBinding) -> KeyQuery {
        KeyQuery::from_query(qkb, CA).unwrap()
    }

    #[test]
    fn xkiss_t1_matches_by_smime_address_and_usage() {
        let q = reduce(&query(
            None,
            vec![ukw(Application::Smime, "Bob@Example.com")],
            vec![KeyUsage::Encryption],
        ));
        assert_eq!(
            q.selector(),
            Some(BindingSelector::UseKeyWith(vec![StoredUseKeyWith {
                application: Application::Smime,
                identifier: "bob@example.com".into(),
            }]))
        );
        assert!(q.matches_binding(&binding(&[KeyUsage::Encryption])));
        assert!(
            q.matches_binding(&binding(&[])),
            "no stored usage permits all"
        );
        assert!(!q.matches_binding(&binding(&[KeyUsage::Signature])));
    }

    #[test]
    fn use_key_with_is_any_and_other_elements_are_all() {
        let b = binding(&[KeyUsage::Signature, KeyUsage::Encryption]);
        // ANY of several UseKeyWith.
        let q = reduce(&query(
            None,
            vec![
                ukw(Application::Pgp, "nobody@example.com"),
                ukw(Application::TlsHttps, "WWW.Example.COM."),
            ],
            vec![],
        ));
        assert!(q.matches_binding(&b));
        // PKIX in another spelling matches after normalisation.
        let q = reduce(&query(
            None,
            vec![ukw(Application::Pkix, "C=US;O=Example;CN=Bob")],
            vec![],
        ));
        assert!(q.matches_binding(&b));
        // AND: a right name with a wrong usage set fails.
        let ki = KeyInfo {
            key_names: vec!["bob@example.com".into()],
            ..Default::default()
        };
        let q = reduce(&query(
            Some(ki.clone()),
            vec![],
            vec![KeyUsage::Signature, KeyUsage::Exchange],
        ));
        assert_eq!(
            q.selector(),
            Some(BindingSelector::KeyName("bob@example.com".into()))
        );
        assert!(!q.matches_binding(&b));
        // AND: KeyName + KeyValue of another key fails; the key wins the lookup.
        let mut ki2 = ki.clone();
        ki2.key_values.push(KeyValue::Rsa(RsaKeyValue {
            modulus: vec![0xc3; 256],
            exponent: vec![1, 0, 1],
        }));
        let q = reduce(&query(Some(ki2), vec![], vec![]));
        assert!(matches!(
            q.selector(),
            Some(BindingSelector::KeyFingerprint(_))
        ));
        assert!(!q.matches_binding(&b));
        // KeyValue of the right key matches.
        let ki3 = KeyInfo {
            key_values: vec![KeyValue::Rsa(RsaKeyValue {
                modulus: vec![0xc1; 256],
                exponent: vec![1, 0, 1],
            })],
            ..Default::default()
        };
        assert!(reduce(&query(Some(ki3), vec![], vec![])).matches_binding(&b));
    }

    #[test]
    fn x509_elements_map_to_lookups() {
        let serial = Serial::from_hex("0102").unwrap();
        let ki = KeyInfo {
            x509_data: vec![X509Data {
                issuer_serials: vec![X509IssuerSerial {
                    issuer_name: "cn=XKMS Demo CA".into(),
                    serial_number: "258".into(),
                }],
                subject_names: vec!["CN=Bob, O=Example, C=US".into()],
                skis: vec![vec![0xAA, 0xBB]],
                ..Default::default()
            }],
            ..Default::default()
        };
        let q = reduce(&query(Some(ki), vec![], vec![]));
        assert_eq!(
            q.selector(),
            Some(BindingSelector::CertificateSerial(serial))
        );
        let b = binding(&[]);
        assert!(q.matches_binding(&b));
        let now = datetime!(2030-01-01 0:00 UTC);
        let good = certificate(&serial.to_hex(), now, now + time::Duration::days(1));
        assert!(q.matches_certificates(std::slice::from_ref(&good)));
        let mut other = good.clone();
        other.ski = vec![1];
        assert!(!q.matches_certificates(&[other]));

        // Another issuer's serial can never be ours.
        let ki = KeyInfo {
            x509_data: vec![X509Data {
                issuer_serials: vec![X509IssuerSerial {
                    issuer_name: "CN=Someone Else".into(),
                    serial_number: "258".into(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let q = reduce(&query(Some(ki), vec![], vec![]));
        assert!(q.impossible);
        assert_eq!(q.selector(), None);
    }

    #[test]
    fn empty_and_unselective_queries_are_refused() {
        let err = KeyQuery::from_query(&query(None, vec![], vec![]), CA).unwrap_err();
        assert!(matches!(err, ServiceError::InvalidRequest(_)));
        let err =
            KeyQuery::from_query(&query(None, vec![], vec![KeyUsage::Signature]), CA).unwrap_err();
        assert!(matches!(err, ServiceError::Refused(_)));
        let ki = KeyInfo {
            retrieval_methods: vec![xkms_proto::RetrievalMethod::default()],
            ..Default::default()
        };
        let err = KeyQuery::from_query(&query(Some(ki), vec![], vec![]), CA).unwrap_err();
        assert!(matches!(err, ServiceError::OptionalElementNotSupported(_)));
        // A DSA key can never be one of ours: NoMatch, not an error.
        let ki = KeyInfo {
            key_values: vec![KeyValue::Unsupported],
            ..Default::default()
        };
        assert!(reduce(&query(Some(ki), vec![], vec![])).impossible);
    }

    #[test]
    fn limits_and_certificate_choice() {
        assert_eq!(effective_limit(None), MAX_RESULTS);
        assert_eq!(effective_limit(Some(2)), 2);
        assert_eq!(effective_limit(Some(0)), 0);
        assert_eq!(effective_limit(Some(100_000)), MAX_RESULTS);

        let jan = datetime!(2030-01-01 0:00 UTC);
        let jul = datetime!(2030-07-01 0:00 UTC);
        let newest = certificate("02", jul, jul + time::Duration::days(180));
        let older = certificate("01", jan, jul);
        let certs = vec![newest.clone(), older.clone()];
        assert_eq!(certificate_at(&certs, None), Some(&newest));
        assert_eq!(
            certificate_at(&certs, Some(jan + time::Duration::days(3))),
            Some(&older)
        );
        assert_eq!(
            certificate_at(&certs, Some(jan - time::Duration::days(3))),
            Some(&newest)
        );
        assert_eq!(certificate_at(&[], None), None);
    }

    #[test]
    fn decimal_serials_become_our_hex() {
        assert_eq!(
            serial_from_decimal("258").map(|s| s.to_hex()).as_deref(),
            Some("00000000000000000000000000000102")
        );
        assert_eq!(serial_from_decimal("-1"), None);
        assert_eq!(serial_from_decimal("0"), None);
        assert_eq!(serial_from_decimal("x"), None);
    }
}
