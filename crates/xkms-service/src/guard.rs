//! Brute-force limits on authentication.
//!
//! Every failed authentication counts against *subjects*: each identity the request asked
//! to authenticate as (`id:…`), a binding whose revocation code was guessed (`binding:…`),
//! and the client address (`ip:…`). A subject with `after_failures` failures in a row (the
//! count restarts after a quiet `window`, and for identities and bindings after a success)
//! is locked for `window`: while locked, even the right secret is refused
//! (`Sender/NoAuthentication`). Counts live in the store, so every node sees them, and are
//! written together with the refusal's audit event: one write per refused request (per
//! compound). Subjects are counted whether or not an authorization exists for them, so a
//! lock says nothing about which identities have codes; `authenticate` does the same
//! signature work either way (no timing oracle).
//!
//! Operations that authenticate a request, or check a revocation code, do it through a
//! [`Guard`]: the store, the clock, the master key (authorization secrets are sealed under
//! it) and the lockout policy, nothing else.

use std::net::IpAddr;

use crate::authenticate::{AuthenticationVerified, SignedRequest, authenticate};
use crate::clock::Clock;
use crate::config::LockoutPolicy;
use crate::context::{MAX_SUBJECTS_PER_REQUEST, RequestContext};
use crate::error::ServiceError;
use crate::escrow::MasterKey;
use crate::store::{AuditEvent, FailureRecord, FailureSubject, Purpose, Store};
use xkms_proto::Authentication;

pub(crate) fn identity_subject(identity: &str) -> String {
    format!("id:{identity}")
}

pub(crate) fn binding_subject(binding_id: &str) -> String {
    format!("binding:{binding_id}")
}

pub(crate) fn address_subject(peer: IpAddr) -> String {
    format!("ip:{peer}")
}

/// What the authentication checks and the brute-force limits use.
#[derive(Clone, Copy)]
pub(crate) struct Guard<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub master_key: &'a MasterKey,
    pub lockout: &'a LockoutPolicy,
}

impl Guard<'_> {
    /// `authenticate` behind the brute-force limits: refused at once while a subject (an
    /// identity asked for, or the client address) is locked; a failure is counted; a
    /// success forgets the identities' failures.
    pub(crate) async fn authenticate(
        &self,
        ctx: &RequestContext<'_>,
        signed: SignedRequest<'_>,
        authentication: &Authentication,
        identities: &[String],
        purpose: Purpose,
    ) -> Result<AuthenticationVerified, ServiceError> {
        let subjects: Vec<String> = identities
            .iter()
            .take(MAX_SUBJECTS_PER_REQUEST)
            .map(|i| identity_subject(i))
            .collect();
        let earlier = self.refuse_locked(ctx, &subjects).await?;
        let now = self.clock.now();
        let outcome = authenticate(
            self.store,
            self.master_key,
            signed,
            authentication,
            identities,
            purpose,
            now,
        )
        .await;
        match &outcome {
            Err(ServiceError::NoAuthentication(_)) => ctx.attempts.failed(&subjects),
            Ok(_) if !earlier.is_empty() => self.forget_failures(&earlier).await,
            _ => {}
        }
        outcome
    }

    /// A revocation code check behind the same limits, counted against the binding.
    pub(crate) async fn check_revocation_code(
        &self,
        ctx: &RequestContext<'_>,
        binding_id: &str,
        matches: impl FnOnce() -> bool,
    ) -> Result<(), ServiceError> {
        let subjects = [binding_subject(binding_id)];
        let earlier = self.refuse_locked(ctx, &subjects).await?;
        if !matches() {
            ctx.attempts.failed(&subjects);
            return Err(ServiceError::NoAuthentication("wrong revocation code"));
        }
        if !earlier.is_empty() {
            self.forget_failures(&earlier).await;
        }
        Ok(())
    }

    /// `NoAuthentication` if any of `subjects` or the client address is locked; else the
    /// subjects that have failures on record (to forget after a success).
    async fn refuse_locked(
        &self,
        ctx: &RequestContext<'_>,
        subjects: &[String],
    ) -> Result<Vec<String>, ServiceError> {
        let mut asked: Vec<String> = subjects.to_vec();
        if let Some(peer) = ctx.peer
            && self.lockout.per_address > 0
        {
            asked.push(address_subject(peer));
        }
        let now = self.clock.now();
        let known = ctx.attempts.1.lock().map(|m| m.clone()).unwrap_or_default();
        let unread: Vec<String> = asked
            .iter()
            .filter(|s| !known.contains_key(*s))
            .cloned()
            .collect();
        let mut records: Vec<FailureRecord> = asked
            .iter()
            .filter_map(|s| known.get(s).cloned().flatten())
            .collect();
        if !unread.is_empty() {
            let read = self.store.failure_records(&unread).await?;
            if let Ok(mut memo) = ctx.attempts.1.lock() {
                for subject in &unread {
                    memo.insert(
                        subject.clone(),
                        read.iter().find(|r| &r.subject == subject).cloned(),
                    );
                }
            }
            records.extend(read);
        }
        if records
            .iter()
            .any(|r| r.locked_until.is_some_and(|until| until > now))
        {
            return Err(ServiceError::NoAuthentication(
                "locked after repeated failed authentications",
            ));
        }
        Ok(records
            .into_iter()
            .filter(|r| subjects.contains(&r.subject) && r.failures > 0)
            .map(|r| r.subject)
            .collect())
    }

    async fn forget_failures(&self, subjects: &[String]) {
        if let Err(e) = self.store.clear_failures(subjects).await {
            tracing::warn!(error = %e, "could not clear authentication failures");
        }
    }

    /// Writes a request's refusal events and the failures it counted, in one
    /// transaction, then audits the locks this caused. A failure to write is logged and
    /// does not change the answers.
    pub(crate) async fn record_refusals(&self, ctx: &RequestContext<'_>, events: &[AuditEvent]) {
        let policy = self.lockout;
        let mut subjects: Vec<FailureSubject> = ctx
            .attempts
            .take()
            .into_iter()
            .map(|subject| FailureSubject {
                subject,
                threshold: policy.after_failures,
            })
            .collect();
        if !subjects.is_empty()
            && policy.per_address > 0
            && let Some(peer) = ctx.peer
        {
            subjects.push(FailureSubject {
                subject: address_subject(peer),
                threshold: policy.per_address,
            });
        }
        if subjects.is_empty() && events.is_empty() {
            return;
        }
        let now = self.clock.now();
        let locked = match self
            .store
            .record_failures(&subjects, events, now, policy.window)
            .await
        {
            Ok(locked) => locked,
            Err(e) => {
                tracing::error!(error = %e, "could not audit refusals");
                return;
            }
        };
        if locked.is_empty() {
            return;
        }
        tracing::warn!(subjects = ?locked, "locked after repeated failed authentications");
        let until = now + policy.window;
        let events: Vec<AuditEvent> = locked
            .iter()
            .map(|subject| AuditEvent {
                at: now,
                kind: crate::store::AuditKind::AuthenticationLocked,
                request_id: None,
                subject: subject.clone(),
                detail: format!("locked until {until} after repeated failed authentications"),
            })
            .collect();
        if let Err(e) = self.store.append_audit(&events).await {
            tracing::error!(error = %e, "could not audit a lockout");
        }
    }

    /// Operator: the subjects locked now.
    pub(crate) async fn locked_subjects(&self) -> Result<Vec<FailureRecord>, ServiceError> {
        Ok(self.store.locked_subjects(self.clock.now()).await?)
    }

    /// Operator: lifts a lock (`id:…`, `binding:…`, `ip:…`), audited. Whether there was one.
    pub(crate) async fn unlock(&self, subject: &str) -> Result<bool, ServiceError> {
        let audit = AuditEvent {
            at: self.clock.now(),
            kind: crate::store::AuditKind::AuthenticationUnlocked,
            request_id: None,
            subject: subject.to_owned(),
            detail: "lock lifted by the operator".into(),
        };
        Ok(self.store.unlock(subject, &audit).await?)
    }
}
