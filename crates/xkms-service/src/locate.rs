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

use crate::clock::Clock;
use crate::crl::CrlSource;
use crate::error::ServiceError;
use crate::query::{
    KeyQuery, certificate_at, check_time_instant, effective_limit, end_entity_with_index,
    find_matching,
};
use crate::respond::{
    BindingMaterial, ExtraMaterial, certificate_url, describe_with, stored_binding,
};
use crate::results::result_header;
use crate::store::{CertificateRecord, KeyBindingRecord, Store};
use xkms_ca::Ca;
use xkms_proto::{
    KeyBindingAbstract, LocateRequest, LocateResult, ResultMajor, ResultMinor, UnverifiedKeyBinding,
};

/// What Locate reads; it changes nothing.
pub(crate) struct Locator<'a> {
    pub store: &'a dyn Store,
    pub ca: &'a Ca,
    pub clock: &'a dyn Clock,
    /// For result headers and certificate URLs.
    pub service_uri: &'a str,
    pub crl: CrlSource<'a>,
}

/// Handles a LocateRequest.
pub(crate) async fn locate(
    cx: &Locator<'_>,
    req: &LocateRequest,
) -> Result<LocateResult, ServiceError> {
    let qkb = &req.query_key_binding;
    let now = cx.clock.now();
    check_time_instant(qkb.time_instant, now, cx.ca.not_before())?;
    let query = KeyQuery::from_query(qkb, &cx.ca.subject())?;
    let limit = effective_limit(req.request.response_limit);
    let found = find_matching(cx.store, &query, limit).await?;
    if found.matches.is_empty()
        && !found.truncated
        && limit > 0
        && let Some((ukb, incomplete)) = presented_certificate_binding(req)?
    {
        return Ok(LocateResult {
            result: result_header(
                cx.service_uri,
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
            result: result_header(cx.service_uri, &req.request, major, Some(minor)),
            unverified_key_bindings: Vec::new(),
        });
    }
    let crl = cx.crl.if_requested(&req.request.respond_with).await;
    let mut incomplete = false;
    let mut bindings = Vec::with_capacity(found.matches.len());
    for (binding, certificates) in &found.matches {
        let (ukb, partial) = unverified_key_binding(
            cx,
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
        result: result_header(cx.service_uri, &req.request, ResultMajor::Success, minor),
        unverified_key_bindings: bindings,
    })
}

/// Describes one stored binding. Returns the binding and whether RespondWith could
/// only be partly honoured.
fn unverified_key_binding(
    cx: &Locator<'_>,
    respond_with: &[xkms_proto::RespondWith],
    binding: &KeyBindingRecord,
    certificate: Option<&CertificateRecord>,
    crl: Option<&[u8]>,
) -> (UnverifiedKeyBinding, bool) {
    let chain = vec![cx.ca.certificate_der().to_vec()];
    let url = certificate.map(|c| certificate_url(cx.service_uri, &c.serial.to_hex()));
    let described = stored_binding(
        respond_with,
        binding,
        certificate,
        &chain,
        &ExtraMaterial {
            crl,
            certificate_url: url.as_deref(),
        },
        false,
    );
    let ukb = UnverifiedKeyBinding {
        core: described.core,
        validity_interval: described.validity_interval,
    };
    (ukb, described.incomplete)
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
    if !crate::query::usage_fits(&info, &qkb.core.key_usage) {
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
            key_usage: crate::query::certificate::usages_of_certificate(&info),
            use_key_with: crate::query::certificate::names_of_certificate(&info),
        },
        validity_interval: Some(crate::respond::validity_interval(
            info.not_before,
            info.not_after,
        )),
    };
    Ok(Some((ukb, described.incomplete)))
}
