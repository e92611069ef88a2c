//! Recover (X-KRSS, seed T103): asks for an escrowed private key with a recovery code,
//! offering asynchronous processing, then drives Pending → Status → PendingRequest.

use crate::krss::{BindingRef, authentication_template, returned_private_key, sign_request};
use crate::register::result_kind;
use crate::{ClientError, ClientKey, XkmsClient};
use std::time::Duration;
use xkms_proto::{
    PendingRequest, RecoverRequest, RecoverResult, Request, RequestAbstract, RespondWith,
    ResponseMechanism, ResultMajor, ResultMessage, StatusRequest, StatusValue,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

/// What to recover.
pub struct RecoverParams<'a> {
    pub binding: BindingRef,
    /// The recovery authorization code.
    pub secret: &'a SharedSecret,
    pub preparation: SecretPreparation,
    pub respond_with: Vec<RespondWith>,
    /// Polling: how often and how many times to ask for the status.
    pub poll_interval: Duration,
    pub max_polls: u32,
}

/// Progress of an asynchronous exchange, for a progress line.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The service answered Pending with this ResponseId.
    Accepted { response_id: String },
    /// A StatusRequest answered Pending (poll number).
    StillPending { poll: u32 },
    /// The result is ready.
    Ready,
}

/// The outcome of a recovery: the final result and, on success, the decrypted key.
#[derive(Debug)]
pub struct Recovered {
    pub result: RecoverResult,
    /// `Some` when the result was Pending first.
    pub response_id: Option<String>,
}

impl Recovered {
    /// Decrypts the recovered private key and checks it belongs to the returned binding.
    pub fn private_key(
        &self,
        secret: &SharedSecret,
        preparation: SecretPreparation,
    ) -> Result<ClientKey, ClientError> {
        returned_private_key(
            self.result.private_key.as_ref(),
            &self.result.key_bindings,
            secret,
            preparation,
        )
    }
}

impl XkmsClient {
    /// Sends a RecoverRequest offering `#Pending`; if the service defers it, polls with
    /// StatusRequest until it is ready and fetches it with PendingRequest.
    pub async fn recover(
        &self,
        params: &RecoverParams<'_>,
        mut progress: impl FnMut(Progress),
    ) -> Result<Recovered, ClientError> {
        let request = self.recover_request(&params.binding, &params.respond_with, true);
        let original_id = request.request.message.id.clone();
        let first = self
            .send_signed(&Request::Recover(request), |doc, request_id| {
                sign_request(
                    &doc,
                    request_id,
                    Some((params.secret, params.preparation)),
                    None,
                )
            })
            .await?;
        let ResultMessage::Recover(first) = first else {
            return Err(ClientError::BadResponse(format!(
                "expected RecoverResult, got {}",
                result_kind(&first)
            )));
        };
        if first.result.result_major != ResultMajor::Pending {
            return Ok(Recovered {
                result: first,
                response_id: None,
            });
        }
        let response_id = first.result.message.id.clone();
        // The request the service deferred (a two-phase exchange sends a second Id).
        let original_id = first.result.request_id.clone().unwrap_or(original_id);
        progress(Progress::Accepted {
            response_id: response_id.clone(),
        });
        self.wait_until_ready(
            &original_id,
            &response_id,
            params.poll_interval,
            params.max_polls,
            &mut progress,
        )
        .await?;
        progress(Progress::Ready);
        let result = self.fetch_pending(&original_id, &response_id).await?;
        match result {
            ResultMessage::Recover(result) => Ok(Recovered {
                result,
                response_id: Some(response_id),
            }),
            // A generic Result carries an error (e.g. the response id expired).
            ResultMessage::Result(header) => Ok(Recovered {
                result: RecoverResult {
                    result: header,
                    ..Default::default()
                },
                response_id: Some(response_id),
            }),
            other => Err(ClientError::BadResponse(format!(
                "expected RecoverResult, got {}",
                result_kind(&other)
            ))),
        }
    }

    /// Polls with StatusRequest until the service reports the result ready.
    pub async fn wait_until_ready(
        &self,
        original_id: &str,
        response_id: &str,
        poll_interval: Duration,
        max_polls: u32,
        progress: &mut impl FnMut(Progress),
    ) -> Result<(), ClientError> {
        for poll in 1..=max_polls.max(1) {
            let status = StatusRequest {
                request: self.follow_up(Some(original_id)),
                response_id: response_id.to_owned(),
            };
            match self.send(&Request::Status(status)).await? {
                ResultMessage::Status(s) if s.result.result_major == ResultMajor::Pending => {
                    progress(Progress::StillPending { poll });
                    tokio::time::sleep(poll_interval).await;
                }
                ResultMessage::Status(s) if s.result.result_major == ResultMajor::Success => {
                    return Ok(());
                }
                ResultMessage::Status(s) => {
                    return Err(ClientError::BadResponse(format!(
                        "status request failed: {}",
                        s.result
                            .result_minor
                            .as_ref()
                            .map(|m| m.as_uri())
                            .unwrap_or(s.result.result_major.as_uri())
                    )));
                }
                other => {
                    return Err(ClientError::BadResponse(format!(
                        "expected StatusResult, got {}",
                        result_kind(&other)
                    )));
                }
            }
        }
        Err(ClientError::BadResponse(
            "the service did not finish in time".into(),
        ))
    }

    /// A RecoverRequest for `binding` with a KeyBindingAuthentication template, asking for
    /// the PrivateKey (and offering `#Pending` when `pending`).
    pub fn recover_request(
        &self,
        binding: &BindingRef,
        respond_with: &[RespondWith],
        pending: bool,
    ) -> RecoverRequest {
        let kb_id = self.new_id();
        let mut respond_with = respond_with.to_vec();
        if !respond_with.contains(&RespondWith::PrivateKey) {
            respond_with.push(RespondWith::PrivateKey);
        }
        RecoverRequest {
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
                respond_with,
                ..Default::default()
            },
            recover_key_binding: binding.key_binding(kb_id.clone(), StatusValue::Indeterminate),
            authentication: authentication_template(&kb_id),
        }
    }

    /// StatusRequest for an asynchronous request: the StatusResult (Pending while it
    /// runs, Success when its result can be fetched, with the compound counters).
    pub async fn status(
        &self,
        original_id: &str,
        response_id: &str,
    ) -> Result<xkms_proto::StatusResult, ClientError> {
        self.status_of(response_id, Some(original_id)).await
    }

    /// StatusRequest naming only the ResponseId when the original request Id is not
    /// at hand (`xkms pending status`).
    pub async fn status_of(
        &self,
        response_id: &str,
        original_id: Option<&str>,
    ) -> Result<xkms_proto::StatusResult, ClientError> {
        let status = StatusRequest {
            request: self.follow_up(original_id),
            response_id: response_id.to_owned(),
        };
        match self.send(&Request::Status(status)).await? {
            ResultMessage::Status(s) => Ok(s),
            other => Err(ClientError::BadResponse(format!(
                "expected StatusResult, got {}",
                result_kind(&other)
            ))),
        }
    }

    /// PendingRequest for a finished asynchronous request.
    pub async fn fetch_pending(
        &self,
        original_id: &str,
        response_id: &str,
    ) -> Result<ResultMessage, ClientError> {
        self.fetch_result(response_id, Some(original_id)).await
    }

    /// PendingRequest naming only the ResponseId when the original request Id is not
    /// at hand (`xkms pending fetch`).
    pub async fn fetch_result(
        &self,
        response_id: &str,
        original_id: Option<&str>,
    ) -> Result<ResultMessage, ClientError> {
        let pending = PendingRequest {
            request: self.follow_up(original_id),
            response_id: response_id.to_owned(),
        };
        self.send(&Request::Pending(pending)).await
    }

    fn follow_up(&self, original_id: Option<&str>) -> RequestAbstract {
        RequestAbstract {
            message: xkms_proto::MessageAbstract {
                id: self.new_id(),
                service: self.service_uri().to_owned(),
                ..Default::default()
            },
            original_request_id: original_id.map(str::to_owned),
            ..Default::default()
        }
    }
}
