//! Certification paths: from a certificate to a trust anchor, through candidate
//! intermediates, with a bound on the work one request can cause.
//!
//! # Threats and how they are closed
//!
//! * **Path-building blow-up.** Certificates that share a name (and a key) make every
//!   candidate look like an issuer of every other; naive depth-first search tries them
//!   all at every level (16 such certificates, 8 deep: ~16^6 RSA verifications). Each
//!   [`PathBudget`] allows a fixed number of signature verifications
//!   ([`SIGNATURE_CHECKS_PER_REQUEST`]) and remembers every (certificate, issuer) check it
//!   made, so no pair is verified twice; when it runs out, path building stops with
//!   [`PathFailure::BudgetExhausted`] — an answer of "cannot tell", never "valid". The
//!   rustls-webpki signature-check budget addresses the same class of bug.
//! * **Signatures we cannot judge.** SHA-1 (which we do not accept as proof), RSA keys
//!   outside 2048–8192 bits (the verifier refuses them, which says nothing about the
//!   signature) and unknown algorithms are [`Link::Unchecked`]: a path through one is
//!   reported as such, never as valid and never as a bad signature.
//! * **Loops and length.** A certificate appears once per path; paths are at most
//!   [`MAX_PATH_LEN`] long.
//!
//! One validator serves every caller: Validate, the trust in request signers and the
//! client's check of signed results.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::CertificateInfo;

/// Longest path built: end entity, intermediates and anchor.
pub const MAX_PATH_LEN: usize = 8;
/// Signature verifications one request may cause while building paths.
pub const SIGNATURE_CHECKS_PER_REQUEST: u32 = 256;
/// Candidate issuers one request may consider while building paths (remembered checks
/// included): bounds the search itself, which grows with the number of look-alike paths
/// even when every signature check is remembered.
pub const PATH_STEPS_PER_REQUEST: u32 = 10_000;
/// Certificates a request may bring for path building (more are refused by the caller).
pub const MAX_REQUEST_CERTIFICATES: usize = 16;

/// A parsed certificate with its DER and SHA-256 fingerprint.
#[derive(Debug, Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    pub info: CertificateInfo,
    fingerprint: [u8; 32],
}

impl Cert {
    /// `None` when `der` is not a certificate we can read.
    pub fn parse(der: &[u8]) -> Option<Cert> {
        let info = crate::parse_certificate(der).ok()?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(digest.as_ref());
        Some(Cert {
            der: der.to_vec(),
            info,
            fingerprint,
        })
    }

    /// A CA certificate allowed to sign certificates.
    pub fn can_issue(&self) -> bool {
        self.info.is_ca && self.info.key_usage.is_none_or(|ku| ku.key_cert_sign)
    }

    /// Whether the validity period covers `at` (notAfter inclusive).
    pub fn covers(&self, at: OffsetDateTime) -> bool {
        self.info.not_before <= at && at <= self.info.not_after
    }

    fn is(&self, other: &Cert) -> bool {
        self.fingerprint == other.fingerprint
    }
}

/// What checking one certificate's signature with a candidate issuer's key showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Verified,
    /// The algorithm and key are ones we check, and the signature is wrong.
    Bad,
    /// We cannot check it: the link's verdict is Indeterminate.
    Unchecked,
}

/// Why no path was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathFailure {
    /// No candidate issuer leads to an anchor.
    UnknownIssuer,
    /// A candidate named the issuer but its signature did not verify.
    BadSignature,
    /// The request's signature-check budget ran out before an answer.
    BudgetExhausted,
}

/// A path from the target to an anchor, target first.
#[derive(Debug)]
pub struct Path<'a> {
    pub certs: Vec<&'a Cert>,
    /// Some link's signature could not be checked (see [`Link::Unchecked`]).
    pub unchecked: bool,
}

/// (certificate, issuer) SHA-256 fingerprints.
type LinkKey = ([u8; 32], [u8; 32]);

/// The work one request may spend on signature checks, and what it learned.
#[derive(Debug)]
pub struct PathBudget {
    remaining: AtomicU32,
    steps: AtomicU32,
    /// (certificate, issuer) fingerprints → result, so no pair is checked twice.
    checked: Mutex<HashMap<LinkKey, Link>>,
}

impl Default for PathBudget {
    fn default() -> Self {
        PathBudget::new(SIGNATURE_CHECKS_PER_REQUEST, PATH_STEPS_PER_REQUEST)
    }
}

impl PathBudget {
    pub fn new(signature_checks: u32, steps: u32) -> PathBudget {
        PathBudget {
            remaining: AtomicU32::new(signature_checks),
            steps: AtomicU32::new(steps),
            checked: Mutex::new(HashMap::new()),
        }
    }

    /// Signature checks left.
    pub fn remaining(&self) -> u32 {
        self.remaining.load(Ordering::Acquire)
    }

    /// The link `child` → `issuer`, from memory or (spending one check) computed.
    fn link(&self, child: &Cert, issuer: &Cert) -> Result<Link, PathFailure> {
        take_one(&self.steps)?;
        let key = (child.fingerprint, issuer.fingerprint);
        if let Some(link) = self.checked.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(link);
        }
        take_one(&self.remaining)?;
        let link = link(&child.der, &issuer.der);
        if let Ok(mut memory) = self.checked.lock() {
            memory.insert(key, link);
        }
        Ok(link)
    }
}

fn take_one(counter: &AtomicU32) -> Result<(), PathFailure> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .map(|_| ())
        .map_err(|_| PathFailure::BudgetExhausted)
}

/// Anchors and candidate intermediates for path building.
#[derive(Debug, Clone, Copy)]
pub struct PathBuilder<'a> {
    pub anchors: &'a [Cert],
    /// Candidate intermediates, in the order they are tried.
    pub candidates: &'a [&'a Cert],
}

impl<'a> PathBuilder<'a> {
    /// A path from `target` to an anchor whose every signature verifies or, failing that,
    /// one where some signature could not be checked (`Path::unchecked`). Spends from
    /// `budget`.
    pub fn build(&self, target: &'a Cert, budget: &PathBudget) -> Result<Path<'a>, PathFailure> {
        if self.anchors.iter().any(|a| a.is(target)) {
            return Ok(Path {
                certs: vec![target],
                unchecked: false,
            });
        }
        let mut certs = vec![target];
        match self.extend(&mut certs, false, budget) {
            Ok(()) => Ok(Path {
                certs,
                unchecked: false,
            }),
            Err(PathFailure::BudgetExhausted) => Err(PathFailure::BudgetExhausted),
            Err(failure) => {
                certs.truncate(1);
                match self.extend(&mut certs, true, budget) {
                    Ok(()) => Ok(Path {
                        certs,
                        unchecked: true,
                    }),
                    Err(PathFailure::BudgetExhausted) => Err(PathFailure::BudgetExhausted),
                    Err(_) => Err(failure),
                }
            }
        }
    }

    /// Extends `path` to an anchor; links that cannot be checked are followed only when
    /// `allow_unchecked`.
    fn extend(
        &self,
        path: &mut Vec<&'a Cert>,
        allow_unchecked: bool,
        budget: &PathBudget,
    ) -> Result<(), PathFailure> {
        let Some(current) = path.last().copied() else {
            return Err(PathFailure::UnknownIssuer);
        };
        let mut failure = PathFailure::UnknownIssuer;
        let names_issuer = |c: &Cert| c.info.subject == current.info.issuer && c.can_issue();
        let usable =
            |link: Link| link == Link::Verified || (allow_unchecked && link == Link::Unchecked);
        for anchor in self.anchors.iter().filter(|a| names_issuer(a)) {
            let link = budget.link(current, anchor)?;
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
        for &candidate in self.candidates.iter().filter(|c| names_issuer(c)) {
            if path.iter().any(|p| p.is(candidate)) {
                continue;
            }
            let link = budget.link(current, candidate)?;
            if !usable(link) {
                if link == Link::Bad {
                    failure = failure.max(PathFailure::BadSignature);
                }
                continue;
            }
            path.push(candidate);
            match self.extend(path, allow_unchecked, budget) {
                Ok(()) => return Ok(()),
                Err(PathFailure::BudgetExhausted) => return Err(PathFailure::BudgetExhausted),
                Err(deeper) => failure = failure.max(deeper),
            }
            path.pop();
        }
        Err(failure)
    }
}

/// Whether `issuer`'s key verifies the signature on `child`, or whether we cannot tell.
pub fn link(child: &[u8], issuer: &[u8]) -> Link {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    /// A CA certificate named `name`, self-signed or signed by `issuer`.
    fn ca(
        name: &str,
        key: &KeyPair,
        issuer: Option<(&CertificateParams, &KeyPair)>,
    ) -> (CertificateParams, Cert) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let der = match issuer {
            None => params.self_signed(key).unwrap(),
            Some((issuer_params, issuer_key)) => params
                .signed_by(key, &Issuer::from_params(issuer_params, issuer_key))
                .unwrap(),
        };
        let cert = Cert::parse(der.der()).unwrap();
        (params, cert)
    }

    fn key() -> KeyPair {
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
    }

    #[test]
    fn a_chain_through_an_intermediate() {
        let (root_key, int_key, leaf_key) = (key(), key(), key());
        let (root_params, root) = ca("Root", &root_key, None);
        let (int_params, int) = ca("Intermediate", &int_key, Some((&root_params, &root_key)));
        let (_, leaf) = ca("Leaf", &leaf_key, Some((&int_params, &int_key)));
        let anchors = [root];
        let candidates = [&int];
        let builder = PathBuilder {
            anchors: &anchors,
            candidates: &candidates,
        };
        let budget = PathBudget::default();
        let path = builder.build(&leaf, &budget).unwrap();
        assert_eq!(path.certs.len(), 3);
        assert!(!path.unchecked);
        assert_eq!(budget.remaining(), SIGNATURE_CHECKS_PER_REQUEST - 2);
        // The same checks again cost nothing: remembered.
        builder.build(&leaf, &budget).unwrap();
        assert_eq!(budget.remaining(), SIGNATURE_CHECKS_PER_REQUEST - 2);
    }

    /// Sixteen CA certificates that share a name and a key and each name themselves as
    /// issuer: every one verifies every other, and no path reaches the anchor. Naive
    /// search explores ~16^6 paths; memory and the budget bound the work.
    #[test]
    fn look_alike_candidates_cannot_blow_up_the_search() {
        let (root_key, twin_key, leaf_key) = (key(), key(), key());
        let (_, root) = ca("Root", &root_key, None);
        let mut twin_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        twin_params
            .distinguished_name
            .push(DnType::CommonName, "Twin");
        twin_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let twins: Vec<Cert> = (0..16u64)
            .map(|i| {
                let mut params = twin_params.clone();
                params.serial_number = Some((i + 1).into());
                let issuer = Issuer::from_params(&twin_params, &twin_key);
                Cert::parse(params.signed_by(&twin_key, &issuer).unwrap().der()).unwrap()
            })
            .collect();
        let (_, leaf) = ca("Leaf", &leaf_key, Some((&twin_params, &twin_key)));
        let anchors = [root];
        let candidates: Vec<&Cert> = twins.iter().collect();
        let builder = PathBuilder {
            anchors: &anchors,
            candidates: &candidates,
        };
        let started = std::time::Instant::now();
        let budget = PathBudget::default();
        let failure = builder.build(&leaf, &budget).unwrap_err();
        assert_eq!(failure, PathFailure::BudgetExhausted);
        // Every distinct pair at most once: 16 from the leaf, 16 x 15 among the twins.
        let checks = SIGNATURE_CHECKS_PER_REQUEST - budget.remaining();
        assert!(checks <= 16 + 16 * 15, "{checks} signature checks");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // The request's budget is spent: the next path building stops at once.
        assert_eq!(
            builder.build(&leaf, &budget).unwrap_err(),
            PathFailure::BudgetExhausted
        );
    }
}
