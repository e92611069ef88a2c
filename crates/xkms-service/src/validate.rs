//! Validate (X-KISS, digest §4.2): the service asserts the status of the binding between
//! a key and the names and uses in the query, from an X.509 path to a trust anchor.
//!
//! The subject is the certificate the QueryKeyBinding carries (the first non-CA one;
//! the others help build the path), or else the stored bindings its KeyName / KeyValue /
//! UseKeyWith / X509 elements name, each with its certificate at the evaluation instant.
//! Anchors are the built-in CA and `[trust] anchors`; intermediates come from
//! `[trust] intermediates` and the request.
//!
//! Each of the four REC reasons gets a verdict, reported in schema order (Valid, then
//! Indeterminate, then Invalid reasons; within each IssuerTrust, RevocationStatus,
//! ValidityInterval, Signature):
//! - **IssuerTrust**: Valid when a path reaches an anchor; *Invalid* when none does
//!   (unknown issuer: this service's trust policy is authoritative, so "not trusted" is
//!   a decision, not an uncertainty); Indeterminate when an issuer was found but its
//!   signature did not verify (whether the real signer is trusted cannot be known).
//! - **Signature**: Valid when every signature on the path verifies; Invalid when one
//!   does not; Indeterminate when there is no issuer to check it with.
//! - **ValidityInterval**: every certificate on the path must cover the instant.
//! - **RevocationStatus**: our certificates from the store (`revoked_at` ≤ instant →
//!   Invalid); external ones from a configured CRL verified against the issuer (listed
//!   with a revocation date ≤ instant → Invalid; not listed and the CRL is current or
//!   newer than the instant → Valid); no CRL, or no path → Indeterminate.
//!
//! The StatusValue is Invalid if any reason is Invalid, else Indeterminate if any is,
//! else Valid. A certificate that is sound but does not fit the query — a requested
//! KeyUsage its keyUsage bits forbid, a UseKeyWith name or KeyName it does not carry, a
//! KeyValue that is not its key — is **Invalid with no additional reason**: the four REC
//! reasons qualify the binding information (issuer, revocation, validity, signature) and
//! none describes a mismatch with the query; the reasons still tell the relying party
//! the certificate itself is sound. Several UseKeyWith in a Validate query must ALL fit.
//!
//! TimeInstant: evaluated at that instant. Our bindings keep revocation and certificate
//! history; CRLs carry revocation dates, so external revocation is answered for past
//! instants too (a CRL issued after the instant, or still current, is authoritative).
//! Instants more than [`crate::query::FUTURE_TOLERANCE`] ahead of the clock (revocation cannot be
//! predicted) or before the built-in CA existed (no data) give
//! `Sender/TimeInstantOutOfRange`.

use crate::clock::Clock;
use crate::crl::CrlSource;
use crate::error::ServiceError;
use crate::ids::IdSource;
use crate::query::certificate::{names_of_certificate, usages_of_certificate};
use crate::query::{
    KeyQuery, certificate_at, check_time_instant, effective_limit, find_matching, fits_query,
};
use crate::respond::{BindingMaterial, ExtraMaterial, certificate_url, describe_with};
use crate::results::result_header;
use crate::store::{BindingSelector, KeyBindingRecord, Store};
use crate::trust::{
    Cert, Evaluation, MAX_REQUEST_CERTIFICATES, RevocationSource, TrustContext, Verdict, Verdicts,
};
use crate::validate_cache::{Ticket, ValidateCache, VerifiedChain, key_of};
use std::sync::Arc;
use time::OffsetDateTime;
use xkms_ca::{Ca, CertificateInfo, Serial};
use xkms_proto::{
    KeyBinding, KeyBindingAbstract, ResultMajor, ResultMinor, Status, ValidateRequest,
    ValidateResult,
};

/// What Validate reads; it changes nothing.
pub(crate) struct Validator<'a> {
    pub store: &'a dyn Store,
    pub ca: &'a Ca,
    pub clock: &'a dyn Clock,
    pub ids: IdSource,
    /// The configured trust (built-in CA, anchors, intermediates, CRLs), parsed once.
    pub trust: &'a TrustContext,
    /// For result headers and certificate URLs.
    pub service_uri: &'a str,
    pub crl: CrlSource<'a>,
    /// This node's verified chains of our certificates (see `validate_cache`).
    pub cache: &'a ValidateCache,
}

/// Handles a ValidateRequest.
pub(crate) async fn validate(
    cx: &Validator<'_>,
    req: &ValidateRequest,
) -> Result<ValidateResult, ServiceError> {
    let qkb = &req.query_key_binding;
    let now = cx.clock.now();
    check_time_instant(qkb.time_instant, now, cx.ca.not_before())?;
    let at = qkb.time_instant.unwrap_or(now);
    let presented: Vec<Vec<u8>> = qkb
        .core
        .key_info
        .iter()
        .flat_map(|ki| ki.x509_data.iter())
        .flat_map(|d| d.certificates.iter().cloned())
        .collect();
    if presented.len() > MAX_REQUEST_CERTIFICATES {
        return Err(ServiceError::Refused("too many certificates in the query"));
    }
    // Cached chains answer "now" only, never a TimeInstant.
    let ticket = if qkb.time_instant.is_none() && !presented.is_empty() {
        Some(cx.cache.ticket(cx.store, now).await?)
    } else {
        None
    };
    let (subjects, extra, truncated) = if presented.is_empty() {
        let (subjects, truncated) = stored_subjects(cx, req, at).await?;
        (subjects, Vec::new(), truncated)
    } else {
        let (subject, extra) = presented_subject(cx, presented, ticket).await?;
        (vec![subject], extra, false)
    };
    if subjects.is_empty() {
        let (major, minor) = if truncated {
            (ResultMajor::Receiver, ResultMinor::TooManyResponses)
        } else {
            (ResultMajor::Success, ResultMinor::NoMatch)
        };
        return Ok(ValidateResult {
            result: result_header(cx.service_uri, &req.request, major, Some(minor)),
            key_bindings: Vec::new(),
        });
    }
    let trust = cx.trust.with_extra(&extra);
    let own_crl = cx.crl.if_requested(&req.request.respond_with).await;
    let mut incomplete = false;
    let mut key_bindings = Vec::with_capacity(subjects.len());
    for subject in &subjects {
        let (binding, partial) = evaluate_subject(
            cx,
            req,
            &trust,
            subject,
            (at, now),
            own_crl.as_deref(),
            ticket,
        )
        .await?;
        incomplete |= partial;
        key_bindings.push(binding);
    }
    let minor = if truncated {
        Some(ResultMinor::TooManyResponses)
    } else {
        incomplete.then_some(ResultMinor::Incomplete)
    };
    Ok(ValidateResult {
        result: result_header(cx.service_uri, &req.request, ResultMajor::Success, minor),
        key_bindings,
    })
}

/// The stored bindings a query without certificates names, with their certificate at
/// `at`. KeyUsage does not select here: a binding whose usage does not fit is
/// answered Invalid rather than left out.
async fn stored_subjects(
    cx: &Validator<'_>,
    req: &ValidateRequest,
    at: OffsetDateTime,
) -> Result<(Vec<Subject>, bool), ServiceError> {
    let qkb = &req.query_key_binding;
    let mut query = KeyQuery::from_query(qkb, &cx.ca.subject())?;
    query.key_usage.clear();
    if !query.impossible && query.selector().is_none() {
        return Err(ServiceError::Refused(
            "a query must name a key, a certificate or an identity",
        ));
    }
    let found = find_matching(
        cx.store,
        &query,
        effective_limit(req.request.response_limit),
    )
    .await?;
    let subjects = found
        .matches
        .into_iter()
        .map(|(binding, certificates)| Subject {
            certificate: certificate_at(&certificates, Some(at)).map(|c| c.der.clone()),
            binding: Some(binding),
            cached: None,
            cache_key: None,
        })
        .collect();
    Ok((subjects, found.truncated))
}

/// The end-entity certificate of the query (and its stored binding when we issued
/// it), plus the other certificates for path building.
async fn presented_subject(
    cx: &Validator<'_>,
    mut presented: Vec<Vec<u8>>,
    ticket: Option<Ticket>,
) -> Result<(Subject, Vec<Vec<u8>>), ServiceError> {
    // Only a certificate that came first and was the target when cached is looked up:
    // a hit is then again the first certificate that is not a CA.
    let first_key = ticket.and(presented.first()).map(|der| key_of(der));
    if let (Some(ticket), Some(key)) = (ticket, first_key)
        && let Some(hit) = cx.cache.get(&key, ticket)
    {
        let target = presented.remove(0);
        return Ok((
            Subject {
                certificate: Some(target),
                binding: hit.binding.clone(),
                cached: Some(hit),
                cache_key: None,
            },
            presented,
        ));
    }
    let mut index = 0;
    let mut target_info = None;
    for (i, der) in presented.iter().enumerate() {
        let info = xkms_ca::parse_certificate(der)
            .map_err(|_| ServiceError::InvalidRequest("an X509Certificate does not parse"))?;
        if !info.is_ca {
            index = i;
            target_info = Some(info);
            break;
        }
    }
    let target = presented.swap_remove(index);
    // Our binding is looked up by serial when our CA's name issued it; the path
    // check below verifies the signature (a forgery naming our CA is Invalid there),
    // so no second signature check here.
    let ours = target_info.filter(|info| info.issuer == cx.ca.subject());
    let binding = match ours.and_then(|i| i.serial) {
        Some(serial) => cx
            .store
            .find_bindings(&BindingSelector::CertificateSerial(serial), 1)
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    Ok((
        Subject {
            certificate: Some(target),
            binding,
            cached: None,
            cache_key: first_key.filter(|_| index == 0),
        },
        presented,
    ))
}

/// One KeyBinding for `subject`, and whether RespondWith was only partly honoured.
async fn evaluate_subject(
    cx: &Validator<'_>,
    req: &ValidateRequest,
    trust: &TrustContext,
    subject: &Subject,
    (at, now): (OffsetDateTime, OffsetDateTime),
    own_crl: Option<&[u8]>,
    ticket: Option<Ticket>,
) -> Result<(KeyBinding, bool), ServiceError> {
    let qkb = &req.query_key_binding;
    let binding = subject.binding.as_ref();
    let parsed;
    let (cert, evaluation, revocation) = if let Some(hit) = &subject.cached {
        // Verified before, and nothing was revoked since (see `validate_cache`).
        let evaluation = Evaluation {
            path: Some(hit.path.clone()),
            verdicts: Verdicts {
                issuer_trust: hit.issuer_trust,
                revocation_status: hit.revocation,
                validity_interval: hit.validity(at),
                signature: hit.signature,
            },
            revocation: RevocationSource::OwnCa {
                serial: hit.cert.info.serial,
            },
        };
        (&hit.cert, evaluation, hit.revocation)
    } else {
        parsed = subject.certificate.as_deref().and_then(Cert::parse);
        let Some(cert) = parsed.as_ref() else {
            // A stored binding without a readable certificate: nothing to assert.
            let status = Verdicts::all(Verdict::Indeterminate).status(true);
            let kb = key_binding(cx, req, binding, None, status, None);
            return Ok((kb, true));
        };
        let evaluation = trust.evaluate(cert, at, now);
        let revocation = match &evaluation.revocation {
            RevocationSource::Decided(v) => *v,
            RevocationSource::OwnCa { serial } => own_revocation(cx, *serial, at).await?,
        };
        if let (Some(ticket), Some(key)) = (ticket, subject.cache_key)
            && let Some(chain) = cacheable(cert, binding, &evaluation, revocation)
        {
            cx.cache.insert(key, chain, ticket);
        }
        (cert, evaluation, revocation)
    };
    let verdicts = Verdicts {
        revocation_status: revocation,
        ..evaluation.verdicts
    };
    let fits = fits_query(&cert.info, binding, qkb);
    let status = verdicts.status(fits);
    let chain: Vec<Vec<u8>> = match &evaluation.path {
        Some(path) => path.iter().skip(1).cloned().collect(),
        None => Vec::new(),
    };
    // X509CRL: ours for our certificates, else a configured CRL of the issuer.
    let ours = binding.is_some() || matches!(evaluation.revocation, RevocationSource::OwnCa { .. });
    let crl = if ours {
        own_crl
    } else {
        trust.crl_of_issuer(cert)
    };
    let (kb, incomplete) = key_binding_described(cx, req, binding, cert, &chain, status, crl);
    Ok((kb, incomplete))
}

/// What may be cached of a fresh evaluation: only a path (certificate, our CA) whose
/// revocation the store decided, and only answers that a later revocation can change
/// solely through the revocation counter — Invalid for good, or Valid for a binding
/// the store holds unrevoked. (A certificate our CA signed but the store does not know
/// yet, Indeterminate, may be committed a moment later: not cached.)
fn cacheable(
    cert: &Cert,
    binding: Option<&KeyBindingRecord>,
    evaluation: &Evaluation,
    revocation: Verdict,
) -> Option<VerifiedChain> {
    if !matches!(evaluation.revocation, RevocationSource::OwnCa { .. }) || cert.info.is_ca {
        return None;
    }
    let settled = match revocation {
        Verdict::Invalid => true,
        Verdict::Valid => binding.is_some_and(|b| {
            b.revoked_at.is_none() && b.status == crate::store::BindingStatus::Valid
        }),
        Verdict::Indeterminate => false,
    };
    let path = evaluation.path.as_ref().filter(|p| p.len() == 2)?;
    if !settled {
        return None;
    }
    let mut windows = Vec::with_capacity(path.len());
    for der in path {
        let info = Cert::parse(der)?.info;
        windows.push((info.not_before, info.not_after));
    }
    Some(VerifiedChain {
        cert: cert.clone(),
        binding: binding.cloned(),
        path: path.clone(),
        issuer_trust: evaluation.verdicts.issuer_trust,
        signature: evaluation.verdicts.signature,
        revocation,
        windows,
    })
}

fn key_binding_described(
    cx: &Validator<'_>,
    req: &ValidateRequest,
    binding: Option<&KeyBindingRecord>,
    cert: &Cert,
    chain: &[Vec<u8>],
    status: Status,
    crl: Option<&[u8]>,
) -> (KeyBinding, bool) {
    let key = cert.info.rsa_public_key.clone().unwrap_or_default();
    let url = binding
        .and(cert.info.serial)
        .map(|s| certificate_url(cx.service_uri, &s.to_hex()));
    let described = describe_with(
        &req.request.respond_with,
        &BindingMaterial {
            key_name: binding.and_then(|b| b.key_name.as_deref()),
            modulus: &key.modulus,
            exponent: &key.exponent,
            certificate: Some(&cert.der),
            chain,
        },
        &ExtraMaterial {
            crl,
            certificate_url: url.as_deref(),
        },
        false,
    );
    let kb = key_binding(
        cx,
        req,
        binding,
        Some(&cert.info),
        status,
        described.key_info,
    );
    (kb, described.incomplete)
}

fn key_binding(
    cx: &Validator<'_>,
    req: &ValidateRequest,
    binding: Option<&KeyBindingRecord>,
    info: Option<&CertificateInfo>,
    status: Status,
    key_info: Option<xkms_proto::KeyInfo>,
) -> KeyBinding {
    let qkb = &req.query_key_binding;
    let key_usage = if !qkb.core.key_usage.is_empty() {
        qkb.core.key_usage.clone()
    } else if let Some(b) = binding {
        b.key_usage.clone()
    } else {
        info.map(usages_of_certificate).unwrap_or_default()
    };
    let use_key_with = if !qkb.core.use_key_with.is_empty() {
        qkb.core.use_key_with.clone()
    } else if let Some(b) = binding {
        b.use_key_with_elements()
    } else {
        info.map(names_of_certificate).unwrap_or_default()
    };
    KeyBinding {
        core: KeyBindingAbstract {
            id: Some(
                binding
                    .map(|b| b.id.clone())
                    .unwrap_or_else(|| cx.ids.message_id()),
            ),
            key_info,
            key_usage,
            use_key_with,
        },
        validity_interval: info
            .map(|i| crate::respond::validity_interval(i.not_before, i.not_after)),
        status,
    }
}

/// Revocation of a certificate our CA issued, from the store, at `at`.
async fn own_revocation(
    cx: &Validator<'_>,
    serial: Option<Serial>,
    at: OffsetDateTime,
) -> Result<Verdict, ServiceError> {
    let Some(serial) = serial else {
        return Ok(Verdict::Indeterminate);
    };
    let selector = BindingSelector::CertificateSerial(serial);
    let Some(binding) = cx
        .store
        .find_bindings(&selector, 1)
        .await?
        .into_iter()
        .next()
    else {
        // Signed by our CA but unknown to our store: we cannot vouch for it.
        return Ok(Verdict::Indeterminate);
    };
    if binding.revoked_at.is_some_and(|r| r <= at)
        || (binding.revoked_at.is_none() && binding.status == crate::store::BindingStatus::Revoked)
    {
        return Ok(Verdict::Invalid);
    }
    let certificates = cx.store.certificates_of(&binding.id).await?;
    let Some(record) = certificates.iter().find(|c| c.serial == serial) else {
        return Ok(Verdict::Indeterminate);
    };
    Ok(if record.revoked_at.is_some_and(|r| r <= at) {
        Verdict::Invalid
    } else {
        Verdict::Valid
    })
}

/// What one KeyBinding of the result is about.
struct Subject {
    certificate: Option<Vec<u8>>,
    binding: Option<KeyBindingRecord>,
    /// The verified chain of this certificate from this node's cache.
    cached: Option<Arc<VerifiedChain>>,
    /// Where to cache what is found (the target is the request's first certificate and
    /// the cache may be used).
    cache_key: Option<[u8; 32]>,
}
