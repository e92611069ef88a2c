//! Compound requests (digest §6.4): several requests in one message, each answered on
//! its own; asynchronous compounds report progress counters in StatusResult.

use crate::recover::Progress;
use crate::register::result_kind;
use crate::{ClientError, XkmsClient};
use std::time::Duration;
use xkms_proto::{
    CompoundRequest, CompoundResult, InnerRequest, Request, RequestAbstract, ResponseMechanism,
    ResultMajor, ResultMessage,
};

impl XkmsClient {
    /// Sends the inner requests as one CompoundRequest. With `pending`, the service may
    /// process it asynchronously: the client then polls until it is done and fetches it.
    /// `sign` signs key-binding templates of inner requests (by their Ids).
    pub async fn compound(
        &self,
        requests: Vec<InnerRequest>,
        pending: bool,
        sign: impl Fn(String, &[String]) -> Result<String, ClientError>,
        mut progress: impl FnMut(Progress),
    ) -> Result<CompoundResult, ClientError> {
        let inner_ids: Vec<String> = requests.iter().map(inner_id).collect();
        let request = CompoundRequest {
            request: RequestAbstract {
                message: xkms_proto::MessageAbstract {
                    id: self.new_id(),
                    service: self.service_uri().to_owned(),
                    ..Default::default()
                },
                response_mechanism: if pending {
                    vec![ResponseMechanism::Pending]
                } else {
                    vec![]
                },
                ..Default::default()
            },
            requests,
        };
        let first = self
            .send_signed(&Request::Compound(request), |doc, _| sign(doc, &inner_ids))
            .await?;
        let ResultMessage::Compound(first) = first else {
            return Err(ClientError::BadResponse(format!(
                "expected CompoundResult, got {}",
                result_kind(&first)
            )));
        };
        if first.result.result_major != ResultMajor::Pending {
            return Ok(first);
        }
        let response_id = first.result.message.id.clone();
        let original_id = first.result.request_id.clone().unwrap_or_default();
        progress(Progress::Accepted {
            response_id: response_id.clone(),
        });
        self.wait_until_ready(
            &original_id,
            &response_id,
            Duration::from_millis(500),
            600,
            &mut progress,
        )
        .await?;
        progress(Progress::Ready);
        match self.fetch_pending(&original_id, &response_id).await? {
            ResultMessage::Compound(result) => Ok(result),
            other => Err(ClientError::BadResponse(format!(
                "expected CompoundResult, got {}",
                result_kind(&other)
            ))),
        }
    }
}

/// The Id of an inner request.
pub fn inner_id(request: &InnerRequest) -> String {
    request.header().message.id.clone()
}
