//! Whose signature a result must carry: a pinned certificate, or one issued to a named
//! subject by a trusted CA, checked with the service's path validator.

use crate::ClientError;

/// Who may sign the results a client accepts.
///
/// The service's CA certifies every registered user, so "issued by the CA" alone would
/// let any user sign results: the signer is pinned, or named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ResultTrust {
    /// Results need not be signed.
    #[default]
    Unchecked,
    /// Every result must be signed with one of these certificates (DER): the service's
    /// signing certificate (`xkmsd admin signing-certificate`).
    Pinned(Vec<Vec<u8>>),
    /// Every result must be signed with a certificate, valid now, issued (signature
    /// verified) by one of `issuers` (DER) and whose subject is `subject` (RFC 4514,
    /// e.g. `CN=XKMS Service`; attribute order and spacing do not matter).
    IssuedTo {
        issuers: Vec<Vec<u8>>,
        subject: String,
    },
}

impl ResultTrust {
    /// Whether a result signed with `chain` (leaf first, as the signature's KeyInfo
    /// carries it) is acceptable.
    pub fn accepts(&self, chain: &[Vec<u8>]) -> bool {
        let Some(leaf) = chain.first() else {
            return false;
        };
        match self {
            ResultTrust::Unchecked => true,
            ResultTrust::Pinned(certs) => certs.contains(leaf),
            ResultTrust::IssuedTo { issuers, subject } => issued_to(chain, issuers, subject),
        }
    }
}

/// Checks a result document's signature against `trust`.
pub fn verify_result_signature(
    document: &str,
    result_id: &str,
    trust: &ResultTrust,
) -> Result<(), ClientError> {
    if *trust == ResultTrust::Unchecked {
        return Ok(());
    }
    let verified = xkms_xmlsec::verify_message_signature(document, result_id)
        .map_err(|e| ClientError::Untrusted(format!("result signature: {e}")))?
        .ok_or_else(|| ClientError::Untrusted("the result is not signed".into()))?;
    if !trust.accepts(&verified.signer_chain) {
        return Err(ClientError::Untrusted(
            "the result signer is not the service's signing certificate (--verify-with takes \
             that certificate, `xkmsd admin signing-certificate`; or the CA with --signer-name)"
                .into(),
        ));
    }
    Ok(())
}

/// Whether the leaf of `chain` has the subject `subject` and a certification path to one
/// of `issuers` (through the chain's other certificates, at most
/// `xkms_ca::path::MAX_REQUEST_CERTIFICATES` of them) whose every signature verifies and
/// every certificate is valid now — the service's path validator, with its work budget.
fn issued_to(chain: &[Vec<u8>], issuers: &[Vec<u8>], subject: &str) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use xkms_ca::path::{Cert, MAX_REQUEST_CERTIFICATES, PathBudget, PathBuilder};
    let Some(leaf_der) = chain.first() else {
        return false;
    };
    let Ok((_, leaf)) = X509Certificate::from_der(leaf_der) else {
        return false;
    };
    let Some(actual) = leaf
        .subject()
        .iter_attributes()
        .map(|atv| {
            let oid = x509_parser::objects::oid2abbrev(
                atv.attr_type(),
                x509_parser::objects::oid_registry(),
            )
            .map(str::to_owned)
            .unwrap_or_else(|_| atv.attr_type().to_id_string());
            atv.as_str().ok().map(|value| rdn(&oid, value))
        })
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    if sorted(actual) != sorted(subject.split([',', ';']).filter_map(parse_rdn).collect()) {
        return false;
    }
    let Some(target) = Cert::parse(leaf_der) else {
        return false;
    };
    let anchors: Vec<Cert> = issuers.iter().filter_map(|d| Cert::parse(d)).collect();
    let intermediates: Vec<Cert> = chain[1..]
        .iter()
        .take(MAX_REQUEST_CERTIFICATES)
        .filter_map(|d| Cert::parse(d))
        .collect();
    let candidates: Vec<&Cert> = intermediates.iter().collect();
    let builder = PathBuilder {
        anchors: &anchors,
        candidates: &candidates,
    };
    let now = time::OffsetDateTime::now_utc();
    builder
        .build(&target, &PathBudget::default())
        .is_ok_and(|path| !path.unchecked && path.certs.iter().all(|c| c.covers(now)))
}

/// `TYPE=value` with the type upper-cased and both trimmed, for comparing names.
fn rdn(attribute: &str, value: &str) -> String {
    format!("{}={}", attribute.trim().to_ascii_uppercase(), value.trim())
}

fn parse_rdn(part: &str) -> Option<String> {
    let (attribute, value) = part.split_once('=')?;
    Some(rdn(attribute, value))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
