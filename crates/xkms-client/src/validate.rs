//! Validate (X-KISS, digest §4.2): ask the service for the status of a key binding.

use crate::locate::query_key_binding;
use crate::register::result_kind;
use crate::{ClientError, XkmsClient};
use time::OffsetDateTime;
use xkms_proto::{
    KeyUsage, QueryKeyBinding, Request, RespondWith, ResultMessage, RsaKeyValue, UseKeyWith,
    ValidateRequest, ValidateResult,
};

/// What to validate: a certificate (first = end entity, then chain material) or a
/// registered binding named by KeyName / KeyValue / UseKeyWith, for the given uses.
#[derive(Debug, Clone, Default)]
pub struct ValidateParams {
    pub key_names: Vec<String>,
    /// Every entry must hold for the binding to be Valid.
    pub use_key_with: Vec<UseKeyWith>,
    pub key_usage: Vec<KeyUsage>,
    pub certificates: Vec<Vec<u8>>,
    pub key_value: Option<RsaKeyValue>,
    pub respond_with: Vec<RespondWith>,
    pub response_limit: Option<u32>,
    /// Evaluate at this instant instead of now.
    pub time_instant: Option<OffsetDateTime>,
}

impl ValidateParams {
    /// The QueryKeyBinding these parameters describe.
    pub fn query_key_binding(&self) -> QueryKeyBinding {
        query_key_binding(
            &self.key_names,
            &self.use_key_with,
            &self.key_usage,
            &self.certificates,
            self.key_value.as_ref(),
            self.time_instant,
        )
    }
}

impl XkmsClient {
    /// Sends a ValidateRequest and returns the ValidateResult (whatever its ResultMajor).
    pub async fn validate(&self, params: &ValidateParams) -> Result<ValidateResult, ClientError> {
        let request = self.validate_request(params);
        match self.send(&Request::Validate(request)).await? {
            ResultMessage::Validate(result) => Ok(result),
            other => Err(ClientError::BadResponse(format!(
                "expected ValidateResult, got {}",
                result_kind(&other)
            ))),
        }
    }

    /// The ValidateRequest for `params` (a fresh Id).
    pub fn validate_request(&self, params: &ValidateParams) -> ValidateRequest {
        ValidateRequest {
            request: self.query_request_abstract(&params.respond_with, params.response_limit),
            query_key_binding: params.query_key_binding(),
        }
    }
}
