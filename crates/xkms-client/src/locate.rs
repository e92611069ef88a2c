//! Locate (X-KISS, digest §4.1): find keys by name, address, certificate or usage.

use crate::register::result_kind;
use crate::{ClientError, XkmsClient};
use time::OffsetDateTime;
use xkms_proto::{
    KeyBindingAbstract, KeyInfo, KeyUsage, KeyValue, LocateRequest, LocateResult, QueryKeyBinding,
    Request, RequestAbstract, RespondWith, ResultMessage, RsaKeyValue, UseKeyWith, X509Data,
};

/// What to look for (every field set constrains the query) and what to get back.
#[derive(Debug, Clone, Default)]
pub struct LocateParams {
    pub key_names: Vec<String>,
    /// Several entries match if any does.
    pub use_key_with: Vec<UseKeyWith>,
    pub key_usage: Vec<KeyUsage>,
    /// DER certificates: the end entity (and, for Validate, chain material).
    pub certificates: Vec<Vec<u8>>,
    pub key_value: Option<RsaKeyValue>,
    pub respond_with: Vec<RespondWith>,
    pub response_limit: Option<u32>,
    pub time_instant: Option<OffsetDateTime>,
}

impl LocateParams {
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
    /// Sends a LocateRequest and returns the LocateResult (whatever its ResultMajor).
    pub async fn locate(&self, params: &LocateParams) -> Result<LocateResult, ClientError> {
        let request = self.locate_request(params);
        match self.send(&Request::Locate(request)).await? {
            ResultMessage::Locate(result) => Ok(result),
            other => Err(ClientError::BadResponse(format!(
                "expected LocateResult, got {}",
                result_kind(&other)
            ))),
        }
    }

    /// The LocateRequest for `params` (a fresh Id).
    pub fn locate_request(&self, params: &LocateParams) -> LocateRequest {
        LocateRequest {
            request: self.query_request_abstract(&params.respond_with, params.response_limit),
            query_key_binding: params.query_key_binding(),
        }
    }

    /// The RequestAbstract of an X-KISS request.
    pub(crate) fn query_request_abstract(
        &self,
        respond_with: &[RespondWith],
        response_limit: Option<u32>,
    ) -> RequestAbstract {
        RequestAbstract {
            message: xkms_proto::MessageAbstract {
                id: self.new_id(),
                service: self.service_uri().to_owned(),
                ..Default::default()
            },
            respond_with: respond_with.to_vec(),
            response_limit,
            ..Default::default()
        }
    }
}

/// A QueryKeyBinding from its parts; no KeyInfo when there is nothing to put in it.
pub(crate) fn query_key_binding(
    key_names: &[String],
    use_key_with: &[UseKeyWith],
    key_usage: &[KeyUsage],
    certificates: &[Vec<u8>],
    key_value: Option<&RsaKeyValue>,
    time_instant: Option<OffsetDateTime>,
) -> QueryKeyBinding {
    let key_info = KeyInfo {
        key_names: key_names.to_vec(),
        key_values: key_value.cloned().map(KeyValue::Rsa).into_iter().collect(),
        x509_data: if certificates.is_empty() {
            Vec::new()
        } else {
            vec![X509Data {
                certificates: certificates.to_vec(),
                ..Default::default()
            }]
        },
        ..Default::default()
    };
    let empty = key_info.key_names.is_empty()
        && key_info.key_values.is_empty()
        && key_info.x509_data.is_empty();
    QueryKeyBinding {
        core: KeyBindingAbstract {
            id: None,
            key_info: (!empty).then_some(key_info),
            key_usage: key_usage.to_vec(),
            use_key_with: use_key_with.to_vec(),
        },
        time_instant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xkms_proto::Application;

    #[test]
    fn xkiss_t1_query() {
        let params = LocateParams {
            use_key_with: vec![UseKeyWith {
                application: Application::Smime,
                identifier: "bob@example.com".into(),
            }],
            key_usage: vec![KeyUsage::Encryption],
            respond_with: vec![RespondWith::KeyName, RespondWith::KeyValue],
            ..Default::default()
        };
        let q = params.query_key_binding();
        assert!(q.core.key_info.is_none());
        assert_eq!(q.core.key_usage, vec![KeyUsage::Encryption]);
        let with_cert = LocateParams {
            certificates: vec![vec![1, 2]],
            key_names: vec!["n".into()],
            ..Default::default()
        }
        .query_key_binding();
        let ki = with_cert.core.key_info.unwrap();
        assert_eq!(ki.key_names, vec!["n".to_string()]);
        assert_eq!(ki.x509_data[0].certificates, vec![vec![1u8, 2]]);
    }
}
