//! Certification paths: from a certificate to a trust anchor (the built-in CA or one
//! the operator configured), with signatures, validity and revocation (our store or
//! configured CRLs) judged along the way. Used by Validate and to trust request signers.

use crate::config::TrustConfig;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;
use xkms_ca::path::{PathBudget, PathBuilder, PathFailure};
use xkms_proto::{Reason, Status, StatusValue};

pub use xkms_ca::path::{Cert, MAX_PATH_LEN, MAX_REQUEST_CERTIFICATES};

/// A decision on one of the four reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    Indeterminate,
}

/// The four REC reasons for one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    pub issuer_trust: Verdict,
    pub revocation_status: Verdict,
    pub validity_interval: Verdict,
    pub signature: Verdict,
}

impl Verdicts {
    pub fn all(v: Verdict) -> Verdicts {
        Verdicts {
            issuer_trust: v,
            revocation_status: v,
            validity_interval: v,
            signature: v,
        }
    }

    /// The Status: reasons in schema order; Invalid beats Indeterminate beats Valid; a
    /// binding that does not fit the query is Invalid whatever the reasons.
    pub fn status(&self, fits_query: bool) -> Status {
        let mut status = Status::new(StatusValue::Valid);
        for (reason, verdict) in [
            (Reason::IssuerTrust, self.issuer_trust),
            (Reason::RevocationStatus, self.revocation_status),
            (Reason::ValidityInterval, self.validity_interval),
            (Reason::Signature, self.signature),
        ] {
            match verdict {
                Verdict::Valid => status.valid_reasons.push(reason),
                Verdict::Indeterminate => status.indeterminate_reasons.push(reason),
                Verdict::Invalid => status.invalid_reasons.push(reason),
            }
        }
        status.status_value = if !status.invalid_reasons.is_empty() || !fits_query {
            StatusValue::Invalid
        } else if !status.indeterminate_reasons.is_empty() {
            StatusValue::Indeterminate
        } else {
            StatusValue::Valid
        };
        status
    }
}

/// Where the revocation verdict comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationSource {
    Decided(Verdict),
    /// Issued by the built-in CA: ask the store (serial as our upper-case hex).
    OwnCa {
        serial: Option<xkms_ca::Serial>,
    },
}

/// The outcome of path validation for one certificate.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Target first, anchor last (DER), when a trusted path was found.
    pub path: Option<Vec<Vec<u8>>>,
    /// `revocation_status` is a placeholder when `revocation` is `OwnCa`.
    pub verdicts: Verdicts,
    pub revocation: RevocationSource,
}

/// Anchors, candidate intermediates and CRLs for one request, and the request's
/// path-building budget (see `xkms_ca::path`).
#[derive(Debug)]
pub struct TrustContext {
    /// What is configured (parsed once, shared by every request).
    base: std::sync::Arc<TrustBase>,
    /// Certificates a request adds for path building (at most
    /// [`MAX_REQUEST_CERTIFICATES`]).
    extra: Vec<Cert>,
    budget: PathBudget,
}

/// The configured part of a trust context.
#[derive(Debug)]
struct TrustBase {
    own_ca: Vec<u8>,
    anchors: Vec<Cert>,
    pool: Vec<Cert>,
    crls: Vec<Vec<u8>>,
}

impl TrustContext {
    /// Built-in CA + configured anchors; configured intermediates + the request's extra
    /// certificates as path-building material. Unreadable configured items are skipped.
    pub fn new(own_ca: &[u8], trust: &TrustConfig, extra: &[Vec<u8>]) -> TrustContext {
        let parse_all = |ders: &mut dyn Iterator<Item = &Vec<u8>>| -> Vec<Cert> {
            ders.filter_map(|d| {
                let cert = Cert::parse(d);
                if cert.is_none() {
                    tracing::warn!("skipping an unreadable trust certificate");
                }
                cert
            })
            .collect()
        };
        let own = std::iter::once(own_ca.to_vec());
        let anchor_ders: Vec<Vec<u8>> = own.chain(trust.anchors.iter().cloned()).collect();
        let base = TrustBase {
            own_ca: own_ca.to_vec(),
            anchors: parse_all(&mut anchor_ders.iter()),
            pool: parse_all(&mut trust.intermediates.iter()),
            crls: trust.crls.clone(),
        };
        TrustContext {
            base: std::sync::Arc::new(base),
            extra: Vec::new(),
            budget: PathBudget::default(),
        }
        .with_extra(extra)
    }

    /// The same configured trust plus `extra` certificates for path building (the first
    /// [`MAX_REQUEST_CERTIFICATES`]), with a fresh budget: one per request. Cheap: the
    /// configured certificates are parsed once and shared.
    pub fn with_extra(&self, extra: &[Vec<u8>]) -> TrustContext {
        TrustContext {
            base: self.base.clone(),
            extra: extra
                .iter()
                .take(MAX_REQUEST_CERTIFICATES)
                .filter_map(|d| Cert::parse(d))
                .collect(),
            budget: PathBudget::default(),
        }
    }

    /// Path building and the checks that need no store. `now` decides CRL freshness.
    pub fn evaluate(&self, target: &Cert, at: OffsetDateTime, now: OffsetDateTime) -> Evaluation {
        let candidates: Vec<&Cert> = self.base.pool.iter().chain(&self.extra).collect();
        let builder = PathBuilder {
            anchors: &self.base.anchors,
            candidates: &candidates,
        };
        let (path, unchecked) = match builder.build(target, &self.budget) {
            Ok(path) => (path.certs, path.unchecked),
            Err(failure) => {
                let (issuer_trust, signature) = match failure {
                    PathFailure::UnknownIssuer => (Verdict::Invalid, Verdict::Indeterminate),
                    PathFailure::BadSignature => (Verdict::Indeterminate, Verdict::Invalid),
                    // Out of budget: the service cannot tell.
                    PathFailure::BudgetExhausted => {
                        (Verdict::Indeterminate, Verdict::Indeterminate)
                    }
                };
                return Evaluation {
                    path: None,
                    verdicts: Verdicts {
                        issuer_trust,
                        revocation_status: Verdict::Indeterminate,
                        validity_interval: valid_if(target.covers(at)),
                        signature,
                    },
                    revocation: RevocationSource::Decided(Verdict::Indeterminate),
                };
            }
        };
        let validity = valid_if(path.iter().all(|c| c.covers(at)));
        let revocation = match path.as_slice() {
            [_] => RevocationSource::Decided(Verdict::Valid),
            [leaf, anchor] if anchor.der == self.base.own_ca => RevocationSource::OwnCa {
                serial: leaf.info.serial,
            },
            _ => RevocationSource::Decided(self.external_revocation(&path, at, now)),
        };
        // A path through a signature we could not check neither proves nor refutes
        // that the anchor vouches for the target.
        let linked = if unchecked {
            Verdict::Indeterminate
        } else {
            Verdict::Valid
        };
        Evaluation {
            path: Some(path.iter().map(|c| c.der.clone()).collect()),
            verdicts: Verdicts {
                issuer_trust: linked,
                revocation_status: match revocation {
                    RevocationSource::Decided(v) => v,
                    RevocationSource::OwnCa { .. } => Verdict::Indeterminate,
                },
                validity_interval: validity,
                signature: linked,
            },
            revocation,
        }
    }

    /// A configured CRL naming `cert`'s issuer as its issuer (for RespondWith X509CRL).
    pub(crate) fn crl_of_issuer(&self, cert: &Cert) -> Option<&[u8]> {
        let (_, parsed) = X509Certificate::from_der(&cert.der).ok()?;
        self.base
            .crls
            .iter()
            .find(|der| {
                CertificateRevocationList::from_der(der)
                    .is_ok_and(|(_, crl)| crl.issuer().as_raw() == parsed.issuer().as_raw())
            })
            .map(Vec::as_slice)
    }

    /// Revocation of every non-anchor certificate on an external path, from CRLs.
    fn external_revocation(
        &self,
        path: &[&Cert],
        at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Verdict {
        let mut overall = Verdict::Valid;
        for pair in path.windows(2) {
            let [cert, issuer] = pair else { continue };
            match crl_verdict(&self.base.crls, cert, issuer, at, now) {
                Verdict::Invalid => return Verdict::Invalid,
                Verdict::Indeterminate => overall = Verdict::Indeterminate,
                Verdict::Valid => {}
            }
        }
        overall
    }
}

fn valid_if(ok: bool) -> Verdict {
    if ok { Verdict::Valid } else { Verdict::Invalid }
}

/// The revocation status of `cert` at `at` from the CRLs `issuer` signed.
fn crl_verdict(
    crls: &[Vec<u8>],
    cert: &Cert,
    issuer: &Cert,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Verdict {
    let (Ok((_, parsed)), Ok((_, issuer_parsed))) = (
        X509Certificate::from_der(&cert.der),
        X509Certificate::from_der(&issuer.der),
    ) else {
        return Verdict::Indeterminate;
    };
    if issuer.info.key_usage.is_some_and(|ku| !ku.crl_sign) {
        return Verdict::Indeterminate;
    }
    let mut verdict = Verdict::Indeterminate;
    for der in crls {
        let Ok((_, crl)) = CertificateRevocationList::from_der(der) else {
            continue;
        };
        if crl.issuer().as_raw() != parsed.issuer().as_raw()
            || crl.verify_signature(issuer_parsed.public_key()).is_err()
        {
            continue;
        }
        let serial = parsed.raw_serial();
        let listed = crl
            .iter_revoked_certificates()
            .find(|entry| strip_zeros(entry.raw_serial()) == strip_zeros(serial));
        let this_update = crl.last_update().to_datetime();
        let current = crl.next_update().is_some_and(|n| now <= n.to_datetime());
        let v = match listed {
            Some(entry) if entry.revocation_date.to_datetime() <= at => Verdict::Invalid,
            Some(_) => Verdict::Valid,
            None if at <= this_update || current => Verdict::Valid,
            None => Verdict::Indeterminate,
        };
        match v {
            Verdict::Invalid => return Verdict::Invalid,
            Verdict::Valid => verdict = Verdict::Valid,
            Verdict::Indeterminate => {}
        }
    }
    verdict
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
pub(crate) mod tests;
