//! The XKMS 2.0 message model: one Rust type per element of `xkms.xsd` (digest §2), plus
//! the subset of XML Signature / XML Encryption that XKMS messages carry.
//!
//! Schema inheritance is modelled by composition: every request has a
//! [`RequestAbstract`], every result a [`ResultAbstract`], every key binding a
//! [`KeyBindingAbstract`] named `core`. Binary values (`base64Binary`, `CryptoBinary`)
//! are decoded bytes; dateTimes are UTC [`OffsetDateTime`]s.

use crate::vocab::{
    Application, KeyUsage, Reason, RespondWith, ResponseMechanism, ResultMajor, ResultMinor,
    StatusValue,
};
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------------
// Top level

/// Any XKMS message: what a codec parses or writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(Request),
    Result(ResultMessage),
}

/// Every request element of the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Locate(LocateRequest),
    Validate(ValidateRequest),
    Register(RegisterRequest),
    Reissue(ReissueRequest),
    Recover(RecoverRequest),
    Revoke(RevokeRequest),
    Compound(CompoundRequest),
    Status(StatusRequest),
    Pending(PendingRequest),
}

/// Every result element of the schema (`Result` is the generic one).
#[derive(Debug, Clone, PartialEq)]
pub enum ResultMessage {
    Locate(LocateResult),
    Validate(ValidateResult),
    Register(RegisterResult),
    Reissue(ReissueResult),
    Recover(RecoverResult),
    Revoke(RevokeResult),
    Compound(CompoundResult),
    Status(StatusResult),
    /// The generic `<Result>` element (e.g. MessageNotSupported, answer to PendingRequest).
    Result(ResultAbstract),
}

/// The six requests a `CompoundRequest` may carry.
#[derive(Debug, Clone, PartialEq)]
pub enum InnerRequest {
    Locate(LocateRequest),
    Validate(ValidateRequest),
    Register(RegisterRequest),
    Reissue(ReissueRequest),
    Recover(RecoverRequest),
    Revoke(RevokeRequest),
}

/// The six results a `CompoundResult` may carry.
#[derive(Debug, Clone, PartialEq)]
pub enum InnerResult {
    Locate(LocateResult),
    Validate(ValidateResult),
    Register(RegisterResult),
    Reissue(ReissueResult),
    Recover(RecoverResult),
    Revoke(RevokeResult),
}

// ---------------------------------------------------------------------------------------------
// Abstract message types

/// `MessageAbstractType`: what every request and result has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageAbstract {
    /// `Id` (xs:ID, required).
    pub id: String,
    /// `Service` (anyURI, required).
    pub service: String,
    /// `Nonce` (base64Binary, optional; two-phase protocol).
    pub nonce: Option<Vec<u8>>,
    /// Enveloped message signature (`ds:Signature`, first child), if any.
    pub signature: Option<Signature>,
    /// Number of `MessageExtension` elements seen (their content is not modelled).
    pub message_extensions: usize,
    /// `OpaqueClientData/OpaqueData*`; `None` when the element is absent.
    pub opaque_client_data: Option<Vec<Vec<u8>>>,
}

/// `RequestAbstractType`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestAbstract {
    pub message: MessageAbstract,
    pub response_mechanism: Vec<ResponseMechanism>,
    pub respond_with: Vec<RespondWith>,
    pub pending_notification: Option<PendingNotification>,
    /// `OriginalRequestId` attribute.
    pub original_request_id: Option<String>,
    /// `ResponseLimit` attribute.
    pub response_limit: Option<u32>,
}

/// `ResultType` (also the concrete generic `<Result>` element).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultAbstract {
    pub message: MessageAbstract,
    /// `RequestSignatureValue` (decoded bytes of the request's SignatureValue).
    pub request_signature_value: Option<Vec<u8>>,
    pub result_major: ResultMajor,
    pub result_minor: Option<ResultMinor>,
    /// `RequestId`: the `Id` of the request this result answers.
    pub request_id: Option<String>,
}

impl Default for ResultAbstract {
    fn default() -> Self {
        ResultAbstract {
            message: MessageAbstract::default(),
            request_signature_value: None,
            result_major: ResultMajor::Success,
            result_minor: None,
            request_id: None,
        }
    }
}

/// `PendingNotification` (asynchronous processing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PendingNotification {
    pub mechanism: String,
    pub identifier: String,
}

// ---------------------------------------------------------------------------------------------
// Key binding family

/// `KeyBindingAbstractType`: shared by every key binding element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyBindingAbstract {
    /// `Id` (xs:ID, optional).
    pub id: Option<String>,
    pub key_info: Option<KeyInfo>,
    /// At most three (schema).
    pub key_usage: Vec<KeyUsage>,
    pub use_key_with: Vec<UseKeyWith>,
}

/// `UnverifiedKeyBinding` (LocateResult).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnverifiedKeyBinding {
    pub core: KeyBindingAbstract,
    pub validity_interval: Option<ValidityInterval>,
}

/// `KeyBindingType`: `KeyBinding`, and the `ReissueKeyBinding`, `RevokeKeyBinding` and
/// `RecoverKeyBinding` elements, which share this type (so `Status` is required).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyBinding {
    pub core: KeyBindingAbstract,
    pub validity_interval: Option<ValidityInterval>,
    pub status: Status,
}

/// `QueryKeyBinding` (Locate/Validate).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryKeyBinding {
    pub core: KeyBindingAbstract,
    /// `TimeInstant/@Time`.
    pub time_instant: Option<OffsetDateTime>,
}

/// `PrototypeKeyBinding` (Register).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrototypeKeyBinding {
    pub core: KeyBindingAbstract,
    pub validity_interval: Option<ValidityInterval>,
    /// `RevocationCodeIdentifier` (decoded bytes).
    pub revocation_code_identifier: Option<Vec<u8>>,
}

/// `UseKeyWith`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UseKeyWith {
    pub application: Application,
    pub identifier: String,
}

/// `ValidityInterval`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidityInterval {
    pub not_before: Option<OffsetDateTime>,
    pub not_on_or_after: Option<OffsetDateTime>,
}

/// `Status`: reasons are serialized Valid, then Indeterminate, then Invalid (schema order).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub status_value: StatusValue,
    pub valid_reasons: Vec<Reason>,
    pub indeterminate_reasons: Vec<Reason>,
    pub invalid_reasons: Vec<Reason>,
}

impl Status {
    /// A status with no reasons.
    pub fn new(status_value: StatusValue) -> Self {
        Status {
            status_value,
            valid_reasons: Vec::new(),
            indeterminate_reasons: Vec::new(),
            invalid_reasons: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// X-KISS

/// `LocateRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocateRequest {
    pub request: RequestAbstract,
    pub query_key_binding: QueryKeyBinding,
}

/// `LocateResult`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocateResult {
    pub result: ResultAbstract,
    pub unverified_key_bindings: Vec<UnverifiedKeyBinding>,
}

/// `ValidateRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidateRequest {
    pub request: RequestAbstract,
    pub query_key_binding: QueryKeyBinding,
}

/// `ValidateResult`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidateResult {
    pub result: ResultAbstract,
    pub key_bindings: Vec<KeyBinding>,
}

// ---------------------------------------------------------------------------------------------
// X-KRSS

/// `Authentication`: both children optional in the schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Authentication {
    pub key_binding_authentication: Option<KeyBindingAuthentication>,
    pub not_bound_authentication: Option<NotBoundAuthentication>,
}

/// `KeyBindingAuthentication`: one detached `ds:Signature` over the key binding.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyBindingAuthentication {
    pub signature: Signature,
}

/// `NotBoundAuthentication`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotBoundAuthentication {
    pub protocol: String,
    pub value: Vec<u8>,
}

/// `ProofOfPossession`: one `ds:Signature` made with the private key being registered.
#[derive(Debug, Clone, PartialEq)]
pub struct ProofOfPossession {
    pub signature: Signature,
}

/// `PrivateKey`: one `xenc:EncryptedData` whose plaintext is an `RSAKeyPair`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivateKey {
    pub encrypted_data: EncryptedData,
}

/// `RegisterRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegisterRequest {
    pub request: RequestAbstract,
    pub prototype_key_binding: PrototypeKeyBinding,
    pub authentication: Authentication,
    pub proof_of_possession: Option<ProofOfPossession>,
}

/// `RegisterResult`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegisterResult {
    pub result: ResultAbstract,
    pub key_bindings: Vec<KeyBinding>,
    pub private_key: Option<PrivateKey>,
}

/// `ReissueRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReissueRequest {
    pub request: RequestAbstract,
    pub reissue_key_binding: KeyBinding,
    pub authentication: Authentication,
    pub proof_of_possession: Option<ProofOfPossession>,
}

/// `ReissueResult`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReissueResult {
    pub result: ResultAbstract,
    pub key_bindings: Vec<KeyBinding>,
}

/// `RevokeRequest`: the binding plus a choice of Authentication or RevocationCode.
#[derive(Debug, Clone, PartialEq)]
pub struct RevokeRequest {
    pub request: RequestAbstract,
    pub revoke_key_binding: KeyBinding,
    pub authorization: RevokeAuthorization,
}

/// The schema's choice inside `RevokeRequest`.
#[derive(Debug, Clone, PartialEq)]
pub enum RevokeAuthorization {
    Authentication(Authentication),
    /// `RevocationCode` (decoded bytes: the 0x02 HMAC output).
    RevocationCode(Vec<u8>),
}

/// `RevokeResult`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RevokeResult {
    pub result: ResultAbstract,
    pub key_bindings: Vec<KeyBinding>,
}

/// `RecoverRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoverRequest {
    pub request: RequestAbstract,
    pub recover_key_binding: KeyBinding,
    pub authentication: Authentication,
}

/// `RecoverResult`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecoverResult {
    pub result: ResultAbstract,
    pub key_bindings: Vec<KeyBinding>,
    pub private_key: Option<PrivateKey>,
}

/// `RSAKeyPair`: the plaintext of `PrivateKey`. Big-endian unsigned integers, no leading
/// zeros once decoded. Secret: redacted `Debug`, zeroized on drop.
#[derive(Clone, PartialEq, Eq, Default, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct RsaKeyPair {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    pub dp: Vec<u8>,
    pub dq: Vec<u8>,
    pub inverse_q: Vec<u8>,
    pub d: Vec<u8>,
}

impl std::fmt::Debug for RsaKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeyPair")
            .field("modulus_bits", &(self.modulus.len() * 8))
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Compound, Status, Pending

/// `CompoundRequest`: 1..n inner requests.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompoundRequest {
    pub request: RequestAbstract,
    pub requests: Vec<InnerRequest>,
}

/// `CompoundResult`: 0..n inner results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompoundResult {
    pub result: ResultAbstract,
    pub results: Vec<InnerResult>,
}

/// `StatusRequest` (same content as PendingRequest).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusRequest {
    pub request: RequestAbstract,
    /// `ResponseId` (required).
    pub response_id: String,
}

/// `StatusResult` with the compound counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusResult {
    pub result: ResultAbstract,
    pub success: Option<u32>,
    pub failure: Option<u32>,
    pub pending: Option<u32>,
}

/// `PendingRequest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PendingRequest {
    pub request: RequestAbstract,
    /// `ResponseId` (required).
    pub response_id: String,
}

// ---------------------------------------------------------------------------------------------
// ds:KeyInfo subset

/// `ds:KeyInfo`, the subset XKMS uses. Children are grouped by kind; the writer emits
/// them in this field order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyInfo {
    pub id: Option<String>,
    pub key_names: Vec<String>,
    pub key_values: Vec<KeyValue>,
    pub retrieval_methods: Vec<RetrievalMethod>,
    pub x509_data: Vec<X509Data>,
    /// `ds:PGPData` / `ds:SPKIData` are not modelled; count of such children seen.
    pub unsupported_children: usize,
}

/// `ds:KeyValue`.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Rsa(RsaKeyValue),
    /// `ds:DSAKeyValue` and other key values are recognised but not modelled.
    Unsupported,
}

/// `ds:RSAKeyValue` (CryptoBinary values, leading zeros stripped on input).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RsaKeyValue {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// `ds:RetrievalMethod`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetrievalMethod {
    pub uri: String,
    pub type_: Option<String>,
}

/// `ds:X509Data`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct X509Data {
    pub issuer_serials: Vec<X509IssuerSerial>,
    /// `ds:X509SKI` values.
    pub skis: Vec<Vec<u8>>,
    pub subject_names: Vec<String>,
    /// DER certificates in document order.
    pub certificates: Vec<Vec<u8>>,
    /// DER CRLs.
    pub crls: Vec<Vec<u8>>,
}

/// `ds:X509IssuerSerial`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct X509IssuerSerial {
    pub issuer_name: String,
    /// Decimal integer as in the document.
    pub serial_number: String,
}

// ---------------------------------------------------------------------------------------------
// ds:Signature (structure only; verification always runs over the original document)

/// `ds:Signature`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signature {
    pub id: Option<String>,
    pub signed_info: SignedInfo,
    pub signature_value: Vec<u8>,
    pub key_info: Option<KeyInfo>,
}

/// `ds:SignedInfo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignedInfo {
    pub canonicalization_method: Transform,
    pub signature_method: String,
    /// `HMACOutputLength` inside SignatureMethod, if present.
    pub hmac_output_length: Option<u32>,
    pub references: Vec<Reference>,
}

/// `ds:Reference`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reference {
    pub uri: Option<String>,
    pub transforms: Vec<Transform>,
    pub digest_method: String,
    pub digest_value: Vec<u8>,
}

/// A `ds:Transform` or `ds:CanonicalizationMethod`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transform {
    pub algorithm: String,
    /// `ec:InclusiveNamespaces/@PrefixList`.
    pub inclusive_namespaces: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// xenc:EncryptedData subset

/// `xenc:EncryptedData`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EncryptedData {
    pub id: Option<String>,
    pub type_: Option<String>,
    pub mime_type: Option<String>,
    pub encoding: Option<String>,
    pub encryption_method: Option<String>,
    pub key_info: Option<KeyInfo>,
    /// `CipherData/CipherValue` (IV ‖ ciphertext).
    pub cipher_value: Vec<u8>,
}

// ---------------------------------------------------------------------------------------------
// Accessors shared by every request and result

impl Request {
    /// The `RequestAbstractType` part.
    pub fn header(&self) -> &RequestAbstract {
        match self {
            Request::Locate(r) => &r.request,
            Request::Validate(r) => &r.request,
            Request::Register(r) => &r.request,
            Request::Reissue(r) => &r.request,
            Request::Recover(r) => &r.request,
            Request::Revoke(r) => &r.request,
            Request::Compound(r) => &r.request,
            Request::Status(r) => &r.request,
            Request::Pending(r) => &r.request,
        }
    }

    /// The `RequestAbstractType` part, mutably.
    pub fn header_mut(&mut self) -> &mut RequestAbstract {
        match self {
            Request::Locate(r) => &mut r.request,
            Request::Validate(r) => &mut r.request,
            Request::Register(r) => &mut r.request,
            Request::Reissue(r) => &mut r.request,
            Request::Recover(r) => &mut r.request,
            Request::Revoke(r) => &mut r.request,
            Request::Compound(r) => &mut r.request,
            Request::Status(r) => &mut r.request,
            Request::Pending(r) => &mut r.request,
        }
    }

    /// The operation this request asks for.
    pub fn operation(&self) -> crate::Operation {
        use crate::Operation;
        match self {
            Request::Locate(_) => Operation::Locate,
            Request::Validate(_) => Operation::Validate,
            Request::Register(_) => Operation::Register,
            Request::Reissue(_) => Operation::Reissue,
            Request::Recover(_) => Operation::Recover,
            Request::Revoke(_) => Operation::Revoke,
            Request::Compound(_) => Operation::Compound,
            Request::Status(_) => Operation::Status,
            Request::Pending(_) => Operation::Pending,
        }
    }
}

impl ResultMessage {
    /// The `ResultType` part.
    pub fn header(&self) -> &ResultAbstract {
        match self {
            ResultMessage::Locate(r) => &r.result,
            ResultMessage::Validate(r) => &r.result,
            ResultMessage::Register(r) => &r.result,
            ResultMessage::Reissue(r) => &r.result,
            ResultMessage::Recover(r) => &r.result,
            ResultMessage::Revoke(r) => &r.result,
            ResultMessage::Compound(r) => &r.result,
            ResultMessage::Status(r) => &r.result,
            ResultMessage::Result(r) => r,
        }
    }

    /// The `ResultType` part, mutably.
    pub fn header_mut(&mut self) -> &mut ResultAbstract {
        match self {
            ResultMessage::Locate(r) => &mut r.result,
            ResultMessage::Validate(r) => &mut r.result,
            ResultMessage::Register(r) => &mut r.result,
            ResultMessage::Reissue(r) => &mut r.result,
            ResultMessage::Recover(r) => &mut r.result,
            ResultMessage::Revoke(r) => &mut r.result,
            ResultMessage::Compound(r) => &mut r.result,
            ResultMessage::Status(r) => &mut r.result,
            ResultMessage::Result(r) => r,
        }
    }

    /// Every key binding the result carries (inner results of a compound included), for
    /// document-wide rules such as unique `Id`s.
    pub fn key_bindings_mut(&mut self) -> Vec<&mut KeyBindingAbstract> {
        match self {
            ResultMessage::Locate(r) => unverified_cores(&mut r.unverified_key_bindings),
            ResultMessage::Validate(r) => binding_cores(&mut r.key_bindings),
            ResultMessage::Register(r) => binding_cores(&mut r.key_bindings),
            ResultMessage::Reissue(r) => binding_cores(&mut r.key_bindings),
            ResultMessage::Recover(r) => binding_cores(&mut r.key_bindings),
            ResultMessage::Revoke(r) => binding_cores(&mut r.key_bindings),
            ResultMessage::Compound(r) => r
                .results
                .iter_mut()
                .flat_map(|inner| match inner {
                    InnerResult::Locate(r) => unverified_cores(&mut r.unverified_key_bindings),
                    InnerResult::Validate(r) => binding_cores(&mut r.key_bindings),
                    InnerResult::Register(r) => binding_cores(&mut r.key_bindings),
                    InnerResult::Reissue(r) => binding_cores(&mut r.key_bindings),
                    InnerResult::Recover(r) => binding_cores(&mut r.key_bindings),
                    InnerResult::Revoke(r) => binding_cores(&mut r.key_bindings),
                })
                .collect(),
            ResultMessage::Status(_) | ResultMessage::Result(_) => Vec::new(),
        }
    }

    /// The result element's name (`LocateResult`, …, `Result`).
    pub fn element(&self) -> &'static str {
        match self {
            ResultMessage::Locate(_) => "LocateResult",
            ResultMessage::Validate(_) => "ValidateResult",
            ResultMessage::Register(_) => "RegisterResult",
            ResultMessage::Reissue(_) => "ReissueResult",
            ResultMessage::Recover(_) => "RecoverResult",
            ResultMessage::Revoke(_) => "RevokeResult",
            ResultMessage::Compound(_) => "CompoundResult",
            ResultMessage::Status(_) => "StatusResult",
            ResultMessage::Result(_) => "Result",
        }
    }
}

fn binding_cores(bindings: &mut [KeyBinding]) -> Vec<&mut KeyBindingAbstract> {
    bindings.iter_mut().map(|b| &mut b.core).collect()
}

fn unverified_cores(bindings: &mut [UnverifiedKeyBinding]) -> Vec<&mut KeyBindingAbstract> {
    bindings.iter_mut().map(|b| &mut b.core).collect()
}

impl InnerRequest {
    /// The inner request as a top-level request.
    pub fn into_request(self) -> Request {
        match self {
            InnerRequest::Locate(r) => Request::Locate(r),
            InnerRequest::Validate(r) => Request::Validate(r),
            InnerRequest::Register(r) => Request::Register(r),
            InnerRequest::Reissue(r) => Request::Reissue(r),
            InnerRequest::Recover(r) => Request::Recover(r),
            InnerRequest::Revoke(r) => Request::Revoke(r),
        }
    }

    /// The `RequestAbstractType` part.
    pub fn header(&self) -> &RequestAbstract {
        match self {
            InnerRequest::Locate(r) => &r.request,
            InnerRequest::Validate(r) => &r.request,
            InnerRequest::Register(r) => &r.request,
            InnerRequest::Reissue(r) => &r.request,
            InnerRequest::Recover(r) => &r.request,
            InnerRequest::Revoke(r) => &r.request,
        }
    }
}

impl InnerResult {
    /// The `ResultType` part.
    pub fn header(&self) -> &ResultAbstract {
        match self {
            InnerResult::Locate(r) => &r.result,
            InnerResult::Validate(r) => &r.result,
            InnerResult::Register(r) => &r.result,
            InnerResult::Reissue(r) => &r.result,
            InnerResult::Recover(r) => &r.result,
            InnerResult::Revoke(r) => &r.result,
        }
    }

    /// A result of one of the six inner kinds, if `result` is one.
    pub fn from_result(result: ResultMessage) -> Option<InnerResult> {
        Some(match result {
            ResultMessage::Locate(r) => InnerResult::Locate(r),
            ResultMessage::Validate(r) => InnerResult::Validate(r),
            ResultMessage::Register(r) => InnerResult::Register(r),
            ResultMessage::Reissue(r) => InnerResult::Reissue(r),
            ResultMessage::Recover(r) => InnerResult::Recover(r),
            ResultMessage::Revoke(r) => InnerResult::Revoke(r),
            ResultMessage::Compound(_) | ResultMessage::Status(_) | ResultMessage::Result(_) => {
                return None;
            }
        })
    }
}
