//! What the transport hands in with each request: the received document (signatures are
//! verified over it), the client's address, and what the request's authentications
//! failed on (counted by the brute-force limits, `crate::guard`).

use crate::store::FailureRecord;
use std::collections::HashMap;
use std::sync::Mutex;

/// Identities one request may be counted against (a request naming more is counted
/// against the first ones: a request cannot make the service write many rows).
pub(crate) const MAX_SUBJECTS_PER_REQUEST: usize = 8;

/// The per-request context the transport hands in.
#[derive(Debug)]
pub struct RequestContext<'a> {
    /// The whole received document, parsed and indexed once: signatures are verified
    /// over it.
    pub document: &'a xkms_xmlsec::ReceivedDocument<'a>,
    /// The client's address, when the transport knows it (two-phase nonces and the
    /// brute-force limits use it).
    pub peer: Option<std::net::IpAddr>,
    /// What this request's authentications failed on (`crate::guard`).
    pub(crate) attempts: AuthAttempts,
}

impl<'a> RequestContext<'a> {
    pub fn new(
        document: &'a xkms_xmlsec::ReceivedDocument<'a>,
        peer: Option<std::net::IpAddr>,
    ) -> RequestContext<'a> {
        RequestContext {
            document,
            peer,
            attempts: Default::default(),
        }
    }
}

/// The subjects whose authentication failed in one request (its compound members
/// included), recorded with the refusal; and the failure records already read for the
/// request, so a compound's members naming one identity cost one lookup, not one each.
#[derive(Debug, Default)]
pub struct AuthAttempts(
    pub(crate) Mutex<Vec<String>>,
    pub(crate) Mutex<HashMap<String, Option<FailureRecord>>>,
);

impl AuthAttempts {
    pub(crate) fn failed(&self, subjects: &[String]) {
        if let Ok(mut failed) = self.0.lock() {
            for s in subjects {
                if failed.len() < MAX_SUBJECTS_PER_REQUEST && !failed.contains(s) {
                    failed.push(s.clone());
                }
            }
        }
    }

    /// Takes over what `other` collected.
    pub(crate) fn absorb(&self, other: &AuthAttempts) {
        self.failed(&other.take());
    }

    pub(crate) fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default()
    }
}
