//! Certification paths: from a certificate to a trust anchor (the built-in CA or one
//! the operator configured), with signatures, validity and revocation (our store or
//! configured CRLs) judged along the way. Used by Validate and to trust request signers.

use crate::validate::TrustConfig;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;
use xkms_ca::CertificateInfo;
use xkms_proto::{Reason, Status, StatusValue};

/// Longest path built: end entity, intermediates and anchor.
pub const MAX_PATH_LEN: usize = 8;

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

/// A parsed certificate with its DER.
#[derive(Debug, Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    pub info: CertificateInfo,
}

impl Cert {
    pub fn parse(der: &[u8]) -> Option<Cert> {
        Some(Cert {
            der: der.to_vec(),
            info: xkms_ca::parse_certificate(der).ok()?,
        })
    }

    /// A CA certificate allowed to sign certificates.
    fn can_issue(&self) -> bool {
        self.info.is_ca && self.info.key_usage.is_none_or(|ku| ku.key_cert_sign)
    }

    fn covers(&self, at: OffsetDateTime) -> bool {
        self.info.not_before <= at && at <= self.info.not_after
    }
}

/// Where the revocation verdict comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationSource {
    Decided(Verdict),
    /// Issued by the built-in CA: ask the store (serial as our upper-case hex).
    OwnCa {
        serial_hex: Option<String>,
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

/// Anchors, candidate intermediates and CRLs for one request.
#[derive(Debug, Clone)]
pub struct TrustContext {
    /// What is configured (parsed once, shared by every request).
    base: std::sync::Arc<TrustBase>,
    /// Certificates a request adds for path building.
    extra: Vec<Cert>,
}

/// The configured part of a trust context.
#[derive(Debug)]
struct TrustBase {
    own_ca: Vec<u8>,
    anchors: Vec<Cert>,
    pool: Vec<Cert>,
    crls: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PathFailure {
    UnknownIssuer,
    BadSignature,
}

/// What checking one certificate's signature with a candidate issuer's key showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Verified,
    /// The algorithm and key are ones we check, and the signature is wrong.
    Bad,
    /// We cannot check it (algorithm or key size outside what the verifier supports, or
    /// SHA-1, which we do not accept as proof): the link's verdict is Indeterminate.
    Unchecked,
}

/// A path from the target to an anchor, target first.
struct Path<'a> {
    certs: Vec<&'a Cert>,
    /// Some link's signature could not be checked (see [`Link::Unchecked`]).
    unchecked: bool,
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
        }
        .with_extra(extra)
    }

    /// The same configured trust plus `extra` certificates for path building: cheap,
    /// the configured certificates are parsed once and shared.
    pub fn with_extra(&self, extra: &[Vec<u8>]) -> TrustContext {
        TrustContext {
            base: self.base.clone(),
            extra: extra.iter().filter_map(|d| Cert::parse(d)).collect(),
        }
    }

    /// Path building and the checks that need no store. `now` decides CRL freshness.
    pub fn evaluate(&self, target: &Cert, at: OffsetDateTime, now: OffsetDateTime) -> Evaluation {
        let Path {
            certs: path,
            unchecked,
        } = match self.build_path(target) {
            Ok(path) => path,
            Err(failure) => {
                let (issuer_trust, signature) = match failure {
                    PathFailure::UnknownIssuer => (Verdict::Invalid, Verdict::Indeterminate),
                    PathFailure::BadSignature => (Verdict::Indeterminate, Verdict::Invalid),
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
                serial_hex: leaf.info.serial.map(|s| s.to_hex()),
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

    /// A path from `target` to an anchor whose every signature verifies or, failing
    /// that, one where some signature could not be checked (`Path::unchecked`).
    fn build_path<'a>(&'a self, target: &'a Cert) -> Result<Path<'a>, PathFailure> {
        if self.base.anchors.iter().any(|a| a.der == target.der) {
            return Ok(Path {
                certs: vec![target],
                unchecked: false,
            });
        }
        let mut path = Path {
            certs: vec![target],
            unchecked: false,
        };
        match self.extend(&mut path.certs, false) {
            Ok(()) => Ok(path),
            Err(failure) => {
                path.certs.truncate(1);
                self.extend(&mut path.certs, true).map_err(|_| failure)?;
                path.unchecked = true;
                Ok(path)
            }
        }
    }

    /// Extends `path` to an anchor; links that cannot be checked are followed only when
    /// `allow_unchecked`.
    fn extend<'a>(
        &'a self,
        path: &mut Vec<&'a Cert>,
        allow_unchecked: bool,
    ) -> Result<(), PathFailure> {
        let Some(current) = path.last().copied() else {
            return Err(PathFailure::UnknownIssuer);
        };
        let mut failure = PathFailure::UnknownIssuer;
        let names_issuer = |c: &Cert| c.info.subject == current.info.issuer && c.can_issue();
        let usable =
            |link: Link| link == Link::Verified || (allow_unchecked && link == Link::Unchecked);
        for anchor in self.base.anchors.iter().filter(|a| names_issuer(a)) {
            let link = link(&current.der, &anchor.der);
            if usable(link) {
                path.push(anchor);
                return Ok(());
            }
            if link == Link::Bad {
                failure = PathFailure::BadSignature;
            }
        }
        if path.len() + 1 >= MAX_PATH_LEN {
            return Err(failure);
        }
        for candidate in self
            .base
            .pool
            .iter()
            .chain(&self.extra)
            .filter(|c| names_issuer(c))
        {
            if path.iter().any(|p| p.der == candidate.der) {
                continue;
            }
            let link = link(&current.der, &candidate.der);
            if !usable(link) {
                if link == Link::Bad {
                    failure = failure.max(PathFailure::BadSignature);
                }
                continue;
            }
            path.push(candidate);
            match self.extend(path, allow_unchecked) {
                Ok(()) => return Ok(()),
                Err(deeper) => failure = failure.max(deeper),
            }
            path.pop();
        }
        Err(failure)
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

/// Whether `issuer`'s key verifies the signature on `child`, or whether we cannot tell.
fn link(child: &[u8], issuer: &[u8]) -> Link {
    let (Ok((_, child)), Ok((_, issuer))) = (
        X509Certificate::from_der(child),
        X509Certificate::from_der(issuer),
    ) else {
        return Link::Bad;
    };
    if !checkable(&child, &issuer) {
        return Link::Unchecked;
    }
    match child.verify_signature(Some(issuer.public_key())) {
        Ok(()) => Link::Verified,
        Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm) => Link::Unchecked,
        Err(_) => Link::Bad,
    }
}

/// Whether the signature on `child` is one our verifier can judge: not SHA-1 (which we do
/// not accept as proof) and, for RSA, a key of 2048–8192 bits (outside that range the
/// verifier refuses to check, which says nothing about the signature).
fn checkable(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    use x509_parser::oid_registry::{OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA};
    use x509_parser::public_key::PublicKey;
    let algorithm = &child.signature_algorithm.algorithm;
    if *algorithm == OID_PKCS1_SHA1WITHRSA || *algorithm == OID_SHA1_WITH_RSA {
        return false;
    }
    match issuer.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => (2048..=8192).contains(&rsa.key_size()),
        Ok(_) => true,
        Err(_) => false,
    }
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
