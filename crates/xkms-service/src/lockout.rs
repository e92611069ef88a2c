//! The operator's view of the brute-force limits (`crate::guard`): the subjects locked
//! now, and lifting a lock.

use crate::error::ServiceError;
use crate::service::XkmsService;
use crate::store::AuditEvent;

impl XkmsService {
    /// Operator: the subjects locked now.
    pub async fn locked_subjects(&self) -> Result<Vec<crate::store::FailureRecord>, ServiceError> {
        Ok(self.store.locked_subjects(self.clock.now()).await?)
    }

    /// Operator: lifts a lock (`id:…`, `binding:…`, `ip:…`), audited. Whether there was one.
    pub async fn unlock(&self, subject: &str) -> Result<bool, ServiceError> {
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
