//! What the fuzz targets run, shared so that `scripts/fuzz replay` and the targets agree.
//!
//! Everything here calls the crates' public entry points exactly as the server (or, for
//! results, the client) does; nothing of the request path is reimplemented. A panic
//! anywhere is a finding.

use xkms_proto::soap::{self, DocumentError};
use xkms_proto::{
    Authentication, InnerRequest, InnerResult, KeyInfo, Limits, Message, PrivateKey,
    ProofOfPossession, Request, ResultMessage, RevokeAuthorization, parse_message,
    parse_rsa_key_pair, write_message,
};
use xkms_service::authenticate::{SignedRequest, prove_possession, rsa_key_of};
use xkms_xmlsec::{
    ReceivedDocument, SecretPreparation, SharedSecret, Slot, VerifyKey,
    encryption::{decrypt_private_key_data, key_length},
    verify_key_binding_signature_any, verify_message_signature_in,
};

/// The shared secret of the spec's test vectors; the signed seeds (fuzz/seeds/) use it, so
/// mutations of them reach the signature value checks instead of stopping at a wrong key.
pub const SECRET: &str = "Kymi Joki";

/// The server's request path over one received body.
pub fn request_path(data: &[u8]) {
    // The server answers a body that is not UTF-8 with a fault before parsing it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let _ = soap::peek_message_header(text, &limits);
    let message = match soap::parse_document(text, &limits) {
        Ok((_, message)) => message,
        Err(DocumentError::Envelope { .. }) => return,
        Err(DocumentError::Message { error, .. }) => {
            // What the server echoes into its error result.
            let _ = error.is_unsupported_message();
            let _ = error.header().map(|h| (&h.element, &h.id, &h.service));
            let _ = error.to_string();
            return;
        }
    };
    // The answer the server builds echoes parts of the request: the model must write.
    let _ = write_message(&message);
    let document = ReceivedDocument::parse(text);
    match &message {
        Message::Request(request) => check_request(&document, request),
        Message::Result(result) => check_result(&document, result),
    }
}

/// decode → encode → decode: never a panic, the writer's output always decodes, and one
/// round trip reaches a fixed point — the model decoded from our own output encodes to
/// the same bytes and decodes to the same model again.
///
/// The first decoding may differ from the second only by what the model counts but does
/// not carry (`MessageExtension`s, unsupported `KeyInfo` children and key values): those
/// are not written back. `crates/xkms-proto/tests/properties.rs` checks
/// `decode(encode(m)) == m` for models without them.
pub fn codec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Ok((_, first)) = soap::parse_document(text, &limits) else {
        return;
    };
    let written = write_message(&first);
    let second = match parse_message(&written, &limits) {
        Ok(second) => second,
        Err(e) => panic!("the writer's output does not decode ({e}):\n{written}"),
    };
    let rewritten = write_message(&second);
    assert_eq!(written, rewritten, "encoding is not stable");
    let third = match parse_message(&rewritten, &limits) {
        Ok(third) => third,
        Err(e) => panic!("the second encoding does not decode ({e})"),
    };
    assert_eq!(
        second, third,
        "decode(encode(m)) != m for a model we wrote:\n{written}"
    );
}

fn check_request(document: &ReceivedDocument<'_>, request: &Request) {
    let _ = verify_message_signature_in(document, &request.header().message.id);
    match request {
        Request::Compound(compound) => {
            for inner in &compound.requests {
                let id = &inner.header().message.id;
                let _ = verify_message_signature_in(document, id);
                check_inner(document, id, inner);
            }
        }
        Request::Register(r) => {
            let id = &r.request.message.id;
            check_authentication(document, id, &r.authentication);
            check_possession(
                document,
                id,
                r.prototype_key_binding.core.key_info.as_ref(),
                r.proof_of_possession.as_ref(),
            );
        }
        Request::Reissue(r) => {
            let id = &r.request.message.id;
            check_authentication(document, id, &r.authentication);
            check_possession(
                document,
                id,
                r.reissue_key_binding.core.key_info.as_ref(),
                r.proof_of_possession.as_ref(),
            );
        }
        Request::Recover(r) => {
            check_authentication(document, &r.request.message.id, &r.authentication);
        }
        Request::Revoke(r) => {
            if let RevokeAuthorization::Authentication(a) = &r.authorization {
                check_authentication(document, &r.request.message.id, a);
            }
        }
        Request::Locate(_) | Request::Validate(_) | Request::Status(_) | Request::Pending(_) => {}
    }
}

fn check_inner(document: &ReceivedDocument<'_>, id: &str, inner: &InnerRequest) {
    match inner {
        InnerRequest::Register(r) => {
            check_authentication(document, id, &r.authentication);
            check_possession(
                document,
                id,
                r.prototype_key_binding.core.key_info.as_ref(),
                r.proof_of_possession.as_ref(),
            );
        }
        InnerRequest::Reissue(r) => {
            check_authentication(document, id, &r.authentication);
            check_possession(
                document,
                id,
                r.reissue_key_binding.core.key_info.as_ref(),
                r.proof_of_possession.as_ref(),
            );
        }
        InnerRequest::Recover(r) => check_authentication(document, id, &r.authentication),
        InnerRequest::Revoke(r) => {
            if let RevokeAuthorization::Authentication(a) = &r.authorization {
                check_authentication(document, id, a);
            }
        }
        InnerRequest::Locate(_) | InnerRequest::Validate(_) => {}
    }
}

/// KeyBindingAuthentication with K_auth of [`SECRET`], both preparations, as the service
/// tries every candidate key over one parse.
fn check_authentication(document: &ReceivedDocument<'_>, id: &str, auth: &Authentication) {
    if auth.key_binding_authentication.is_none() {
        return;
    }
    let secret = SharedSecret::new(SECRET.to_owned());
    let keys: Vec<_> = [SecretPreparation::SaslPrep, SecretPreparation::Legacy]
        .into_iter()
        .filter_map(|p| secret.authentication_key(p).ok())
        .collect();
    let keys: Vec<VerifyKey<'_>> = keys.iter().map(|k| VerifyKey::Hmac(k)).collect();
    let _ = verify_key_binding_signature_any(document, id, Slot::KeyBindingAuthentication, &keys);
}

/// ProofOfPossession with the key being registered, after the service's key checks.
fn check_possession(
    document: &ReceivedDocument<'_>,
    id: &str,
    key_info: Option<&KeyInfo>,
    proof: Option<&ProofOfPossession>,
) {
    let Ok(Some(key)) = rsa_key_of(key_info) else {
        return;
    };
    // The service refuses a key outside these bounds before any signature work.
    let bits = key.bits();
    if !(xkms_ca::MIN_RSA_BITS..=xkms_ca::MAX_RSA_BITS).contains(&bits) {
        return;
    }
    let signed = SignedRequest {
        document,
        request_id: id,
    };
    let _ = prove_possession(signed, proof, key);
}

/// What the client does with a result: its message signature, and a returned private key
/// decrypted with the key derived from [`SECRET`].
fn check_result(document: &ReceivedDocument<'_>, result: &ResultMessage) {
    let _ = verify_message_signature_in(document, &result.header().message.id);
    let mut private_keys: Vec<&PrivateKey> = Vec::new();
    match result {
        ResultMessage::Register(r) => private_keys.extend(&r.private_key),
        ResultMessage::Recover(r) => private_keys.extend(&r.private_key),
        ResultMessage::Compound(c) => {
            for inner in &c.results {
                let _ = verify_message_signature_in(document, &inner.header().message.id);
                match inner {
                    InnerResult::Register(r) => private_keys.extend(&r.private_key),
                    InnerResult::Recover(r) => private_keys.extend(&r.private_key),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    let secret = SharedSecret::new(SECRET.to_owned());
    for private_key in private_keys {
        let data = &private_key.encrypted_data;
        let Some(len) = data.encryption_method.as_deref().and_then(key_length) else {
            continue;
        };
        let Ok(kek) = secret.private_key_encryption_key(SecretPreparation::SaslPrep, len) else {
            continue;
        };
        if let Ok(plain) = decrypt_private_key_data(data, &kek)
            && let Ok(xml) = std::str::from_utf8(&plain)
        {
            let _ = parse_rsa_key_pair(xml, &Limits::default());
        }
    }
}
