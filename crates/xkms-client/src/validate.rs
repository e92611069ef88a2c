//! Validate (X-KISS, digest §4.2): ask the service for the status of a key binding.

use crate::register::result_kind;
use crate::{ClientError, XkmsClient};
use xkms_proto::{Request, ResultMessage, ValidateRequest, ValidateResult};

/// What to validate: a certificate (first = end entity, then chain material) or a
/// registered binding named by KeyName / KeyValue / UseKeyWith, for the given uses —
/// the same query parameters as Locate (for Validate every UseKeyWith must hold).
pub type ValidateParams = crate::locate::LocateParams;

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
