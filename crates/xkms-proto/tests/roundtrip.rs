#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Codec conformance: round trips of every message type, hand-written REC-style
//! examples under `tests/data/`, hostile and schema-invalid input, SOAP bindings.

use time::macros::datetime;
use xkms_proto::soap::{self, Binding, DocumentError, FaultCode, SoapVersion};
use xkms_proto::*;

// ---------------------------------------------------------------------------------------------
// Fully populated building blocks

fn key_info() -> KeyInfo {
    KeyInfo {
        id: Some("KI1".into()),
        key_names: vec!["alice@example.com".into(), "Alice <&> \"A\"".into()],
        key_values: vec![KeyValue::Rsa(RsaKeyValue {
            modulus: vec![0xd2, 0x72, 0x2c, 0x99, 0x1f],
            exponent: vec![1, 0, 1],
        })],
        retrieval_methods: vec![
            RetrievalMethod {
                uri: "http://example.com/keys?a=1&b=2".into(),
                type_: Some("http://www.w3.org/2000/09/xmldsig#X509Data".into()),
            },
            RetrievalMethod {
                uri: "#k2".into(),
                type_: None,
            },
        ],
        x509_data: vec![X509Data {
            issuer_serials: vec![X509IssuerSerial {
                issuer_name: "CN=Test CA, O=Example".into(),
                serial_number: "123456789012345678901234567890".into(),
            }],
            skis: vec![vec![9; 20]],
            subject_names: vec!["CN=Alice Aardvark, O=Alice Corp, C=US".into()],
            certificates: vec![vec![0x30, 0x82, 1, 2, 3], vec![0x30, 0x82, 4, 5]],
            crls: vec![vec![0x30, 0x81, 7]],
        }],
        unsupported_children: 0,
    }
}

fn signature(reference: &str) -> Signature {
    Signature {
        id: Some("Sig1".into()),
        signed_info: SignedInfo {
            canonicalization_method: Transform {
                algorithm: alg::EXC_C14N.into(),
                inclusive_namespaces: Some("ds xenc #default".into()),
            },
            signature_method: alg::HMAC_SHA1.into(),
            hmac_output_length: Some(160),
            references: vec![
                Reference {
                    uri: Some(reference.into()),
                    transforms: vec![
                        Transform {
                            algorithm: alg::ENVELOPED_SIGNATURE.into(),
                            inclusive_namespaces: None,
                        },
                        Transform {
                            algorithm: alg::EXC_C14N.into(),
                            inclusive_namespaces: Some("ds #default".into()),
                        },
                    ],
                    digest_method: alg::SHA1.into(),
                    digest_value: vec![0x58; 20],
                },
                Reference {
                    uri: None,
                    transforms: Vec::new(),
                    digest_method: alg::SHA256.into(),
                    digest_value: vec![7; 32],
                },
            ],
        },
        signature_value: vec![0x88, 0x94, 0x8a],
        key_info: Some(key_info()),
    }
}

fn message_abstract(id: &str) -> MessageAbstract {
    MessageAbstract {
        id: id.into(),
        service: "http://www.example.org/XKMS".into(),
        nonce: Some(vec![1, 2, 3, 4, 5]),
        signature: Some(signature(&format!("#{id}"))),
        message_extensions: 0,
        opaque_client_data: Some(vec![vec![0xde, 0xad], Vec::new(), vec![0xbe, 0xef]]),
    }
}

fn request_abstract(id: &str) -> RequestAbstract {
    let mut respond_with = RespondWith::KNOWN.to_vec();
    respond_with.push(RespondWith::Other("urn:example:respond".into()));
    let mut response_mechanism = ResponseMechanism::KNOWN.to_vec();
    response_mechanism.push(ResponseMechanism::Other("urn:example:mech".into()));
    RequestAbstract {
        message: message_abstract(id),
        response_mechanism,
        respond_with,
        pending_notification: Some(PendingNotification {
            mechanism: "urn:ietf:rfc:822".into(),
            identifier: "mailto:alice@example.com".into(),
        }),
        original_request_id: Some("Iorig".into()),
        response_limit: Some(7),
    }
}

fn result_abstract(id: &str, major: ResultMajor) -> ResultAbstract {
    ResultAbstract {
        message: message_abstract(id),
        request_signature_value: Some(vec![0x11; 20]),
        result_major: major,
        result_minor: Some(ResultMinor::Incomplete),
        request_id: Some("Ireq".into()),
    }
}

fn core(id: &str) -> KeyBindingAbstract {
    KeyBindingAbstract {
        id: Some(id.into()),
        key_info: Some(key_info()),
        key_usage: KeyUsage::ALL.to_vec(),
        use_key_with: vec![
            UseKeyWith {
                application: Application::Pkix,
                identifier: "C=\"US\" O=\"Alice Corp\" CN=\"Alice Aardvark\"".into(),
            },
            UseKeyWith {
                application: Application::Smime,
                identifier: "alice@example.com".into(),
            },
            UseKeyWith {
                application: Application::XkmsProfile,
                identifier: "http://www.example.org/role".into(),
            },
            UseKeyWith {
                application: Application::Other("http://ca.example.com/cps/20030401/class3".into()),
                identifier: "alice@example.com".into(),
            },
        ],
    }
}

fn validity() -> ValidityInterval {
    ValidityInterval {
        not_before: Some(datetime!(2005-06-28 00:00:00 UTC)),
        not_on_or_after: Some(datetime!(2006-06-28 12:00:00.5 UTC)),
    }
}

fn status() -> Status {
    Status {
        status_value: StatusValue::Invalid,
        valid_reasons: vec![Reason::Signature, Reason::IssuerTrust],
        indeterminate_reasons: vec![Reason::Other("urn:example:reason".into())],
        invalid_reasons: vec![Reason::RevocationStatus, Reason::ValidityInterval],
    }
}

fn key_binding(id: &str) -> KeyBinding {
    KeyBinding {
        core: core(id),
        validity_interval: Some(validity()),
        status: status(),
    }
}

fn query_key_binding() -> QueryKeyBinding {
    QueryKeyBinding {
        core: core("Iq"),
        time_instant: Some(datetime!(2005-07-01 08:30:15.123456789 UTC)),
    }
}

fn authentication() -> Authentication {
    Authentication {
        key_binding_authentication: Some(KeyBindingAuthentication {
            signature: signature("#Ikb"),
        }),
        not_bound_authentication: Some(NotBoundAuthentication {
            protocol: "urn:example:password".into(),
            value: b"024837".to_vec(),
        }),
    }
}

fn pop() -> Option<ProofOfPossession> {
    let mut sig = signature("#Ikb");
    sig.signed_info.signature_method = alg::RSA_SHA1.into();
    sig.signed_info.hmac_output_length = None;
    Some(ProofOfPossession { signature: sig })
}

fn private_key() -> Option<PrivateKey> {
    Some(PrivateKey {
        encrypted_data: EncryptedData {
            id: Some("ED1".into()),
            type_: Some(alg::XENC_CONTENT.into()),
            mime_type: Some("text/xml".into()),
            encoding: Some("urn:example:enc".into()),
            encryption_method: Some(alg::TRIPLEDES_CBC.into()),
            key_info: Some(KeyInfo {
                key_names: vec!["bob".into()],
                ..KeyInfo::default()
            }),
            cipher_value: vec![0x42; 48],
        },
    })
}

fn locate_request(id: &str) -> LocateRequest {
    LocateRequest {
        request: request_abstract(id),
        query_key_binding: query_key_binding(),
    }
}

fn validate_request(id: &str) -> ValidateRequest {
    ValidateRequest {
        request: request_abstract(id),
        query_key_binding: query_key_binding(),
    }
}

fn register_request(id: &str) -> RegisterRequest {
    RegisterRequest {
        request: request_abstract(id),
        prototype_key_binding: PrototypeKeyBinding {
            core: core("Ikb"),
            validity_interval: Some(validity()),
            revocation_code_identifier: Some(vec![0xe4, 0x01, 0x00, 0x6a]),
        },
        authentication: authentication(),
        proof_of_possession: pop(),
    }
}

fn reissue_request(id: &str) -> ReissueRequest {
    ReissueRequest {
        request: request_abstract(id),
        reissue_key_binding: key_binding("Ikb"),
        authentication: authentication(),
        proof_of_possession: pop(),
    }
}

fn revoke_request(id: &str, by_code: bool) -> RevokeRequest {
    RevokeRequest {
        request: request_abstract(id),
        revoke_key_binding: key_binding("Ikb"),
        authorization: if by_code {
            RevokeAuthorization::RevocationCode(vec![0x3c, 0x7c, 0x7c, 0x96])
        } else {
            RevokeAuthorization::Authentication(authentication())
        },
    }
}

fn recover_request(id: &str) -> RecoverRequest {
    RecoverRequest {
        request: request_abstract(id),
        recover_key_binding: key_binding("Ikb"),
        authentication: authentication(),
    }
}

fn locate_result(id: &str) -> LocateResult {
    LocateResult {
        result: result_abstract(id, ResultMajor::Success),
        unverified_key_bindings: vec![
            UnverifiedKeyBinding {
                core: core("U1"),
                validity_interval: Some(validity()),
            },
            UnverifiedKeyBinding::default(),
        ],
    }
}

fn validate_result(id: &str) -> ValidateResult {
    ValidateResult {
        result: result_abstract(id, ResultMajor::Success),
        key_bindings: vec![key_binding("K1"), key_binding("K2")],
    }
}

fn register_result(id: &str) -> RegisterResult {
    RegisterResult {
        result: result_abstract(id, ResultMajor::Success),
        key_bindings: vec![key_binding("K1")],
        private_key: private_key(),
    }
}

fn reissue_result(id: &str) -> ReissueResult {
    ReissueResult {
        result: result_abstract(id, ResultMajor::Pending),
        key_bindings: vec![key_binding("K1")],
    }
}

fn revoke_result(id: &str) -> RevokeResult {
    RevokeResult {
        result: result_abstract(id, ResultMajor::Other("urn:example:major".into())),
        key_bindings: vec![key_binding("K1")],
    }
}

fn recover_result(id: &str) -> RecoverResult {
    RecoverResult {
        result: result_abstract(id, ResultMajor::Success),
        key_bindings: vec![key_binding("K1")],
        private_key: private_key(),
    }
}

fn round_trip(msg: Message) {
    let xml = write_message(&msg);
    let parsed = parse_message(&xml, &Limits::default())
        .unwrap_or_else(|e| panic!("{e} ({:?}) in {xml}", e.kind()));
    assert_eq!(parsed, msg, "{xml}");
    // Writing is deterministic, so a second pass reproduces the same text.
    assert_eq!(write_message(&parsed), xml);
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trip_every_request() {
    let requests = vec![
        Request::Locate(locate_request("I1")),
        Request::Validate(validate_request("I2")),
        Request::Register(register_request("I3")),
        Request::Reissue(reissue_request("I4")),
        Request::Recover(recover_request("I5")),
        Request::Revoke(revoke_request("I6", true)),
        Request::Revoke(revoke_request("I7", false)),
        Request::Compound(CompoundRequest {
            request: request_abstract("I8"),
            requests: vec![
                InnerRequest::Locate(locate_request("I8a")),
                InnerRequest::Validate(validate_request("I8b")),
                InnerRequest::Register(register_request("I8c")),
                InnerRequest::Reissue(reissue_request("I8d")),
                InnerRequest::Recover(recover_request("I8e")),
                InnerRequest::Revoke(revoke_request("I8f", true)),
                InnerRequest::Locate(locate_request("I8g")),
            ],
        }),
        Request::Status(StatusRequest {
            request: request_abstract("I9"),
            response_id: "Ipending".into(),
        }),
        Request::Pending(PendingRequest {
            request: request_abstract("I10"),
            response_id: "Ipending".into(),
        }),
    ];
    for r in requests {
        round_trip(Message::Request(r));
    }
}

#[test]
fn round_trip_every_result() {
    let results = vec![
        ResultMessage::Locate(locate_result("R1")),
        ResultMessage::Validate(validate_result("R2")),
        ResultMessage::Register(register_result("R3")),
        ResultMessage::Reissue(reissue_result("R4")),
        ResultMessage::Recover(recover_result("R5")),
        ResultMessage::Revoke(revoke_result("R6")),
        ResultMessage::Compound(CompoundResult {
            result: result_abstract("R7", ResultMajor::Success),
            results: vec![
                InnerResult::Locate(locate_result("R7a")),
                InnerResult::Validate(validate_result("R7b")),
                InnerResult::Register(register_result("R7c")),
                InnerResult::Reissue(reissue_result("R7d")),
                InnerResult::Recover(recover_result("R7e")),
                InnerResult::Revoke(revoke_result("R7f")),
            ],
        }),
        ResultMessage::Compound(CompoundResult {
            result: result_abstract("R8", ResultMajor::Receiver),
            results: Vec::new(),
        }),
        ResultMessage::Status(StatusResult {
            result: result_abstract("R9", ResultMajor::Pending),
            success: Some(2),
            failure: Some(0),
            pending: Some(1),
        }),
        ResultMessage::Result(ResultAbstract {
            result_major: ResultMajor::Sender,
            result_minor: Some(ResultMinor::MessageNotSupported),
            ..result_abstract("R10", ResultMajor::Sender)
        }),
    ];
    for r in results {
        round_trip(Message::Result(r));
    }
}

#[test]
fn round_trip_minimal_messages() {
    let bare = |id: &str| RequestAbstract {
        message: MessageAbstract {
            id: id.into(),
            service: "http://s/".into(),
            ..MessageAbstract::default()
        },
        ..RequestAbstract::default()
    };
    let bare_result = |id: &str| ResultAbstract {
        message: MessageAbstract {
            id: id.into(),
            service: "http://s/".into(),
            ..MessageAbstract::default()
        },
        ..ResultAbstract::default()
    };
    let kb = KeyBinding {
        core: KeyBindingAbstract::default(),
        validity_interval: None,
        status: Status::new(StatusValue::Valid),
    };
    let msgs = vec![
        Message::Request(Request::Locate(LocateRequest {
            request: bare("M1"),
            ..LocateRequest::default()
        })),
        Message::Request(Request::Register(RegisterRequest {
            request: bare("M2"),
            ..RegisterRequest::default()
        })),
        Message::Request(Request::Revoke(RevokeRequest {
            request: bare("M3"),
            revoke_key_binding: kb.clone(),
            authorization: RevokeAuthorization::Authentication(Authentication::default()),
        })),
        Message::Request(Request::Recover(RecoverRequest {
            request: bare("M4"),
            recover_key_binding: kb.clone(),
            authentication: Authentication::default(),
        })),
        Message::Result(ResultMessage::Validate(ValidateResult {
            result: bare_result("M5"),
            key_bindings: vec![kb],
        })),
        Message::Result(ResultMessage::Status(StatusResult {
            result: bare_result("M6"),
            ..StatusResult::default()
        })),
        Message::Result(ResultMessage::Result(ResultAbstract {
            message: MessageAbstract {
                opaque_client_data: Some(Vec::new()),
                ..bare_result("M7").message
            },
            ..bare_result("M7")
        })),
    ];
    for m in msgs {
        round_trip(m);
    }
}

#[test]
fn text_and_attributes_survive_escaping() {
    let mut r = locate_request("I1");
    r.query_key_binding.core.use_key_with[0].identifier = "a&b<c>\"d\"\te\nf\r g".into();
    r.query_key_binding
        .core
        .key_info
        .as_mut()
        .unwrap()
        .key_names = vec!["x\r\ny & <z>".into()];
    round_trip(Message::Request(Request::Locate(r)));
}

#[test]
fn signature_template_serializes_empty_values() {
    let mut r = register_request("I1");
    let template = Signature::template(alg::HMAC_SHA1, "#Ikb", alg::EXC_C14N, alg::SHA1);
    assert_eq!(template.signed_info.references.len(), 1);
    assert_eq!(
        template.signed_info.references[0].transforms[0].algorithm,
        alg::EXC_C14N
    );
    r.authentication.key_binding_authentication = Some(KeyBindingAuthentication {
        signature: template,
    });
    r.request.message.signature = None;
    let msg = Message::Request(Request::Register(r));
    let xml = write_message(&msg);
    assert!(xml.contains("<ds:DigestValue></ds:DigestValue>"), "{xml}");
    assert!(
        xml.contains("<ds:SignatureValue></ds:SignatureValue>"),
        "{xml}"
    );
    assert_eq!(parse_message(&xml, &Limits::default()).unwrap(), msg);
}

#[test]
fn rsa_key_pair_round_trip_and_fragments() {
    let pair = RsaKeyPair {
        modulus: vec![0xc1, 2, 3],
        exponent: vec![1, 0, 1],
        p: vec![5],
        q: vec![7],
        dp: vec![8],
        dq: vec![9],
        inverse_q: vec![10],
        d: vec![0xff, 11],
    };
    let limits = Limits::default();
    let xml = write_rsa_key_pair(&pair);
    assert!(xml.starts_with("<RSAKeyPair xmlns=\"http://www.w3.org/2002/03/xkms#\"><Modulus>"));
    assert_eq!(parse_rsa_key_pair(&xml, &limits).unwrap(), pair);

    // Relying on an inherited default namespace; leading zero octets; wrapped lines.
    let inherited = "\n  <RSAKeyPair><Modulus>AMEC\nAw==</Modulus><Exponent>AQAB</Exponent><P>BQ==</P>\
        <Q>Bw==</Q><DP>CA==</DP><DQ>CQ==</DQ><InverseQ>Cg==</InverseQ><D>AP8L</D></RSAKeyPair>\n";
    assert_eq!(parse_rsa_key_pair(inherited, &limits).unwrap(), pair);
    // Relying on an inherited xkms: prefix, with an XML declaration.
    let prefixed = "<?xml version=\"1.0\"?><xkms:RSAKeyPair><xkms:Modulus>wQID</xkms:Modulus>\
        <xkms:Exponent>AQAB</xkms:Exponent><xkms:P>BQ==</xkms:P><xkms:Q>Bw==</xkms:Q>\
        <xkms:DP>CA==</xkms:DP><xkms:DQ>CQ==</xkms:DQ><xkms:InverseQ>Cg==</xkms:InverseQ>\
        <xkms:D>/ws=</xkms:D></xkms:RSAKeyPair>";
    assert_eq!(parse_rsa_key_pair(prefixed, &limits).unwrap(), pair);

    let missing_d = xml.replace("<D>/ws=</D>", "");
    let err = parse_rsa_key_pair(&missing_d, &limits).unwrap_err();
    assert!(matches!(err.kind(), DecodeErrorKind::MissingElement { child, .. } if child == "D"));
    let foreign = "<RSAKeyPair xmlns=\"urn:other\"/>";
    assert!(parse_rsa_key_pair(foreign, &limits).is_err());
    assert!(!format!("{pair:?}").contains("255"));
}

// ---------------------------------------------------------------------------------------------
// REC-style examples

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn rec_alice_register_request() {
    let msg = parse_message(&data("rec-register-alice.xml"), &Limits::default()).unwrap();
    let Message::Request(Request::Register(r)) = msg else {
        panic!("not a RegisterRequest: {msg:?}");
    };
    assert_eq!(r.request.message.id, "I1494ac4351b7de5c174d455b7000e18f");
    assert_eq!(r.request.message.service, "http://www.example.org/XKMS");
    assert_eq!(
        r.request.respond_with,
        vec![RespondWith::X509Cert, RespondWith::X509Chain]
    );
    let p = &r.prototype_key_binding;
    assert_eq!(
        p.core.id.as_deref(),
        Some("I269e655567dbae568591c0a06957529e")
    );
    let KeyValue::Rsa(rsa) = &p.core.key_info.as_ref().unwrap().key_values[0] else {
        panic!("no RSA key");
    };
    assert_eq!(rsa.modulus.len(), 128);
    assert_eq!(rsa.modulus[0], 0xd2);
    assert_eq!(rsa.exponent, vec![1, 0, 1]);
    assert_eq!(
        p.core.key_usage,
        vec![
            KeyUsage::Signature,
            KeyUsage::Encryption,
            KeyUsage::Exchange
        ]
    );
    assert_eq!(p.core.use_key_with.len(), 3);
    assert_eq!(p.core.use_key_with[0].application, Application::Pkix);
    assert_eq!(
        p.core.use_key_with[0].identifier,
        "C=\"US\" O=\"Alice Corp\" CN=\"Alice Aardvark\""
    );
    assert_eq!(
        p.revocation_code_identifier.as_deref(),
        Some(
            &[
                0xe4, 0x01, 0x00, 0x6a, 0x2d, 0x3a, 0x84, 0x52, 0x44, 0x92, 0xea, 0xb2, 0x0f, 0x2a,
                0x8d, 0x87, 0xc9, 0x3f, 0xbb, 0x73
            ][..]
        )
    );
    let kba = &r
        .authentication
        .key_binding_authentication
        .as_ref()
        .unwrap()
        .signature;
    assert_eq!(kba.signed_info.signature_method, alg::HMAC_SHA1);
    assert_eq!(
        kba.signed_info.canonicalization_method.algorithm,
        alg::EXC_C14N
    );
    assert_eq!(
        kba.signed_info.references[0].uri.as_deref(),
        Some("#I269e655567dbae568591c0a06957529e")
    );
    assert_eq!(kba.signature_value.len(), 20);
    let pop = &r.proof_of_possession.as_ref().unwrap().signature;
    assert_eq!(pop.signed_info.signature_method, alg::RSA_SHA1);
    assert_eq!(
        pop.signed_info.references[0].digest_value,
        kba.signed_info.references[0].digest_value
    );
}

#[test]
fn prefixed_register_result_with_wrapped_base64() {
    let msg = parse_message(&data("register-result-prefixed.xml"), &Limits::default()).unwrap();
    let Message::Result(ResultMessage::Register(r)) = msg else {
        panic!("not a RegisterResult: {msg:?}");
    };
    assert_eq!(r.result.result_major, ResultMajor::Success);
    assert_eq!(
        r.result.request_id.as_deref(),
        Some("I1494ac4351b7de5c174d455b7000e18f")
    );
    let kb = &r.key_bindings[0];
    let x509 = &kb.core.key_info.as_ref().unwrap().x509_data[0];
    assert_eq!(x509.certificates.len(), 2);
    assert_eq!(
        x509.certificates[0],
        b"Alice Aardvark certificate stand-in, not DER".to_vec()
    );
    assert_eq!(kb.status.status_value, StatusValue::Valid);
    assert_eq!(
        kb.status.valid_reasons,
        vec![
            Reason::Signature,
            Reason::IssuerTrust,
            Reason::RevocationStatus,
            Reason::ValidityInterval
        ]
    );
    let vi = kb.validity_interval.as_ref().unwrap();
    assert_eq!(vi.not_before, Some(datetime!(2005-06-28 10:00:00 UTC)));
    assert_eq!(
        vi.not_on_or_after,
        Some(datetime!(2006-06-28 12:00:00.25 UTC))
    );
    assert_eq!(
        kb.core.use_key_with[1].application,
        Application::XkmsProfile
    );
    let ki = kb.core.key_info.as_ref().unwrap();
    assert_eq!(ki.unsupported_children, 2);
    assert_eq!(ki.key_values, vec![KeyValue::Unsupported]);
    assert_eq!(r.result.message.message_extensions, 1);
    let ed = &r.private_key.as_ref().unwrap().encrypted_data;
    assert_eq!(ed.encryption_method.as_deref(), Some(alg::TRIPLEDES_CBC));
    assert_eq!(ed.cipher_value.len(), 32);
}

#[test]
fn rec_revoke_by_revocation_code() {
    let msg = parse_message(&data("rec-revoke-code.xml"), &Limits::default()).unwrap();
    let Message::Request(Request::Revoke(r)) = msg else {
        panic!("not a RevokeRequest: {msg:?}");
    };
    assert_eq!(
        r.revoke_key_binding.status.status_value,
        StatusValue::Indeterminate
    );
    let RevokeAuthorization::RevocationCode(code) = &r.authorization else {
        panic!("no revocation code");
    };
    assert_eq!(code[..4], [0x3c, 0x7c, 0x7c, 0x96]);
    assert_eq!(code.len(), 20);
}

#[test]
fn soap12_locate_xkiss_t1() {
    let (binding, msg) =
        soap::parse_document(&data("soap12-locate.xml"), &Limits::default()).unwrap();
    assert_eq!(binding, Binding::Soap(SoapVersion::Soap12));
    let Message::Request(Request::Locate(r)) = msg else {
        panic!("not a LocateRequest");
    };
    assert_eq!(
        r.request.respond_with,
        vec![RespondWith::KeyName, RespondWith::KeyValue]
    );
    assert_eq!(
        r.query_key_binding.core.key_usage,
        vec![KeyUsage::Encryption]
    );
    assert_eq!(
        r.query_key_binding.core.use_key_with[0].identifier,
        "bob@example.com"
    );
}

#[test]
fn soap11_reissue_with_inclusive_namespaces() {
    let (binding, msg) =
        soap::parse_document(&data("soap11-reissue.xml"), &Limits::default()).unwrap();
    assert_eq!(binding, Binding::Soap(SoapVersion::Soap11));
    let Message::Request(Request::Reissue(r)) = msg else {
        panic!("not a ReissueRequest");
    };
    let sig = &r
        .authentication
        .key_binding_authentication
        .as_ref()
        .unwrap()
        .signature;
    assert_eq!(
        sig.signed_info.references[0].transforms[0]
            .inclusive_namespaces
            .as_deref(),
        Some("ds xenc #default")
    );
    assert_eq!(
        r.reissue_key_binding.status.status_value,
        StatusValue::Valid
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile and invalid input

const MARKER: &str = "ZZMARKERZZ";
const OPEN: &str = r#"<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="ZZMARKERZZ" Service="http://ZZMARKERZZ/">"#;

fn locate(body: &str) -> String {
    format!("{OPEN}{body}</LocateRequest>")
}

fn parse_err(xml: &str) -> DecodeError {
    let err = parse_message(xml, &Limits::default()).expect_err(xml);
    let shown = err.to_string();
    assert!(!shown.contains(MARKER), "error echoes input: {shown}");
    err
}

#[test]
fn dtd_and_entity_bomb_refused() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="&lol3;"/>"#;
    assert_eq!(parse_err(bomb).kind(), &DecodeErrorKind::DtdForbidden);
    let internal = "<!DOCTYPE LocateRequest><LocateRequest/>";
    assert_eq!(parse_err(internal).kind(), &DecodeErrorKind::DtdForbidden);
    let undeclared = locate("<QueryKeyBinding><KeyUsage>&xxe;</KeyUsage></QueryKeyBinding>");
    assert!(matches!(
        parse_err(&undeclared).kind(),
        DecodeErrorKind::NotWellFormed { .. }
    ));
}

#[test]
fn resource_limits() {
    let deep = locate(&format!(
        "{}{}",
        "<QueryKeyBinding>".repeat(80),
        "</QueryKeyBinding>".repeat(80)
    ));
    assert_eq!(parse_err(&deep).kind(), &DecodeErrorKind::TooDeep);

    let attrs: String = (0..70).map(|i| format!(" a{i}=\"ZZMARKERZZ\"")).collect();
    let many_attrs = format!(
        "<LocateRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" Id=\"a\" Service=\"b\"{attrs}><QueryKeyBinding/></LocateRequest>"
    );
    assert_eq!(
        parse_err(&many_attrs).kind(),
        &DecodeErrorKind::TooManyAttributes
    );

    let ok = write_message(&Message::Request(Request::Locate(locate_request("I1"))));
    let small = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    assert_eq!(
        parse_message(&ok, &small).unwrap_err().kind(),
        &DecodeErrorKind::TooLarge
    );
    let few = Limits {
        max_elements: 10,
        ..Limits::default()
    };
    assert_eq!(
        parse_message(&ok, &few).unwrap_err().kind(),
        &DecodeErrorKind::TooManyElements
    );
}

#[test]
fn not_well_formed_does_not_echo_parser_text() {
    let dup = "<LocateRequest xmlns=\"http://www.w3.org/2002/03/xkms#\" ZZMARKERZZ=\"1\" ZZMARKERZZ=\"2\"/>";
    assert!(matches!(
        parse_err(dup).kind(),
        DecodeErrorKind::NotWellFormed { .. }
    ));
    let bad_prefix = "<ZZMARKERZZ:LocateRequest/>";
    assert!(matches!(
        parse_err(bad_prefix).kind(),
        DecodeErrorKind::NotWellFormed { .. }
    ));
    assert!(parse_err("").header().is_none());
}

#[test]
fn unknown_root_elements() {
    let err = parse_err(
        r#"<FooRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="I9" Service="ZZMARKERZZ"/>"#,
    );
    assert!(err.is_unsupported_message());
    let header = err.header().unwrap();
    assert_eq!(header.element, "FooRequest");
    assert_eq!(header.id.as_deref(), Some("I9"));
    assert_eq!(header.service.as_deref(), Some("ZZMARKERZZ"));

    let err = parse_err(r#"<LocateRequest xmlns="urn:ZZMARKERZZ" Id="I9" Service="s"/>"#);
    assert!(err.is_unsupported_message());
    assert!(matches!(
        err.kind(),
        DecodeErrorKind::UnknownMessage {
            xkms_namespace: false,
            ..
        }
    ));
    // A key binding is an XKMS element but not a message.
    let err = parse_err(r#"<KeyBinding xmlns="http://www.w3.org/2002/03/xkms#"/>"#);
    assert!(err.is_unsupported_message());
}

#[test]
fn wrong_order_and_cardinality() {
    let err = parse_err(&locate(
        "<RespondWith>http://www.w3.org/2002/03/xkms#KeyName</RespondWith>\
         <ResponseMechanism>http://www.w3.org/2002/03/xkms#Pending</ResponseMechanism><QueryKeyBinding/>",
    ));
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::UnexpectedElement {
            parent: "LocateRequest".into(),
            element: "ResponseMechanism".into()
        }
    );
    assert!(!err.is_unsupported_message());
    assert_eq!(err.header().unwrap().id.as_deref(), Some(MARKER));

    let err = parse_err(&locate(
        "<QueryKeyBinding><UseKeyWith Application=\"urn:ietf:rfc:2633\" Identifier=\"ZZMARKERZZ\"/>\
         <KeyUsage>http://www.w3.org/2002/03/xkms#Signature</KeyUsage></QueryKeyBinding>",
    ));
    assert!(
        matches!(err.kind(), DecodeErrorKind::UnexpectedElement { element, .. } if element == "KeyUsage")
    );

    let err = parse_err(&locate("<QueryKeyBinding/><QueryKeyBinding/>"));
    assert!(
        matches!(err.kind(), DecodeErrorKind::UnexpectedElement { element, .. } if element == "QueryKeyBinding")
    );
    let err = parse_err(&locate(""));
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::MissingElement {
            parent: "LocateRequest".into(),
            child: "QueryKeyBinding".into()
        }
    );
    let err = parse_err(&locate("ZZMARKERZZ<QueryKeyBinding/>"));
    assert!(matches!(err.kind(), DecodeErrorKind::InvalidValue { .. }));
}

#[test]
fn missing_required_attributes() {
    let err = parse_err(
        r#"<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Service="ZZMARKERZZ"><QueryKeyBinding/></LocateRequest>"#,
    );
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::MissingAttribute {
            element: "LocateRequest".into(),
            attribute: "Id".into()
        }
    );
    let err = parse_err(
        r#"<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="ZZMARKERZZ"><QueryKeyBinding/></LocateRequest>"#,
    );
    assert!(
        matches!(err.kind(), DecodeErrorKind::MissingAttribute { attribute, .. } if attribute == "Service")
    );
    let err = parse_err(r#"<Result xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b"/>"#);
    assert!(
        matches!(err.kind(), DecodeErrorKind::MissingAttribute { attribute, .. } if attribute == "ResultMajor")
    );
    let err = parse_err(
        r#"<PendingRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b"/>"#,
    );
    assert!(
        matches!(err.kind(), DecodeErrorKind::MissingAttribute { attribute, .. } if attribute == "ResponseId")
    );
    let err = parse_err(&locate(
        "<QueryKeyBinding><UseKeyWith Application=\"urn:x\"/></QueryKeyBinding>",
    ));
    assert!(
        matches!(err.kind(), DecodeErrorKind::MissingAttribute { attribute, .. } if attribute == "Identifier")
    );
}

#[test]
fn closed_vocabularies_and_values() {
    let usage = "<KeyUsage>http://www.w3.org/2002/03/xkms#Signature</KeyUsage>";
    let err = parse_err(&locate(&format!(
        "<QueryKeyBinding>{}</QueryKeyBinding>",
        usage.repeat(4)
    )));
    assert!(matches!(err.kind(), DecodeErrorKind::InvalidValue { .. }));
    let ok = locate(&format!(
        "<QueryKeyBinding>{}</QueryKeyBinding>",
        usage.repeat(3)
    ));
    assert!(parse_message(&ok, &Limits::default()).is_ok());

    let err = parse_err(&locate(
        "<QueryKeyBinding><KeyUsage>urn:ZZMARKERZZ</KeyUsage></QueryKeyBinding>",
    ));
    assert!(
        matches!(err.kind(), DecodeErrorKind::InvalidValue { element, .. } if element == "KeyUsage")
    );

    let validate = r#"<ValidateResult xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b" ResultMajor="http://www.w3.org/2002/03/xkms#Success"><KeyBinding><Status StatusValue="http://www.w3.org/2002/03/xkms#ZZMARKERZZ"/></KeyBinding></ValidateResult>"#;
    let err = parse_err(validate);
    assert!(
        matches!(err.kind(), DecodeErrorKind::InvalidValue { element, .. } if element == "Status")
    );

    let no_status = r#"<ValidateResult xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b" ResultMajor="http://www.w3.org/2002/03/xkms#Success"><KeyBinding/></ValidateResult>"#;
    let err = parse_err(no_status);
    assert!(
        matches!(err.kind(), DecodeErrorKind::MissingElement { child, .. } if child == "Status")
    );

    let bad_time = locate(r#"<QueryKeyBinding><TimeInstant Time="ZZMARKERZZ"/></QueryKeyBinding>"#);
    assert!(matches!(
        parse_err(&bad_time).kind(),
        DecodeErrorKind::InvalidValue { .. }
    ));
    let bad_limit = r#"<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b" ResponseLimit="-ZZMARKERZZ"><QueryKeyBinding/></LocateRequest>"#;
    assert!(matches!(
        parse_err(bad_limit).kind(),
        DecodeErrorKind::InvalidValue { .. }
    ));
    let bad_b64 = r#"<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b" Nonce="ZZMARKERZZ!"><QueryKeyBinding/></LocateRequest>"#;
    assert!(matches!(
        parse_err(bad_b64).kind(),
        DecodeErrorKind::InvalidValue { .. }
    ));
    let unknown_attr = r#"<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b" Bogus="ZZMARKERZZ"><QueryKeyBinding/></LocateRequest>"#;
    assert!(
        matches!(parse_err(unknown_attr).kind(), DecodeErrorKind::UnexpectedAttribute { attribute, .. } if attribute == "Bogus")
    );
}

#[test]
fn lenient_where_peers_differ() {
    // Foreign attributes, comments, PIs, CRLF whitespace, unknown open-vocabulary URIs,
    // lenient profile spelling, dateTime without timezone.
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- c -->\r\n\
        <x:LocateRequest xmlns:x=\"http://www.w3.org/2002/03/xkms#\" \
        xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"x:LocateRequestType\" \
        Id=\"a\" Service=\"b\">\r\n  <!-- comment --><?pi data?>\r\n\
        <x:RespondWith> urn:example:new </x:RespondWith>\r\n\
        <x:QueryKeyBinding><x:UseKeyWith Application=\"http://www.w3.org/2002/03/xkms#/profile\" Identifier=\"i\"/>\
        <x:TimeInstant Time=\"2005-06-28T12:30:00\"/></x:QueryKeyBinding></x:LocateRequest>";
    let Message::Request(Request::Locate(r)) = parse_message(xml, &Limits::default()).unwrap()
    else {
        panic!("not a LocateRequest");
    };
    assert_eq!(
        r.request.respond_with,
        vec![RespondWith::Other("urn:example:new".into())]
    );
    assert_eq!(
        r.query_key_binding.core.use_key_with[0].application,
        Application::XkmsProfile
    );
    assert_eq!(
        r.query_key_binding.time_instant,
        Some(datetime!(2005-06-28 12:30:00 UTC))
    );
}

#[test]
fn revoke_request_choice() {
    let kb = "<RevokeKeyBinding><Status StatusValue=\"http://www.w3.org/2002/03/xkms#Indeterminate\"/></RevokeKeyBinding>";
    let head = r#"<RevokeRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="a" Service="b">"#;
    let none = format!("{head}{kb}</RevokeRequest>");
    assert!(matches!(
        parse_err(&none).kind(),
        DecodeErrorKind::MissingElement { .. }
    ));
    let both =
        format!("{head}{kb}<Authentication/><RevocationCode>AAAA</RevocationCode></RevokeRequest>");
    assert!(
        matches!(parse_err(&both).kind(), DecodeErrorKind::UnexpectedElement { element, .. } if element == "RevocationCode")
    );
}

#[test]
fn cipher_reference_refused() {
    let xml = r#"<RecoverResult xmlns="http://www.w3.org/2002/03/xkms#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="a" Service="b" ResultMajor="http://www.w3.org/2002/03/xkms#Success"><PrivateKey><xenc:EncryptedData><xenc:CipherData><xenc:CipherReference URI="http://ZZMARKERZZ/"/></xenc:CipherData></xenc:EncryptedData></PrivateKey></RecoverResult>"#;
    assert!(
        matches!(parse_err(xml).kind(), DecodeErrorKind::InvalidValue { element, .. } if element == "CipherData")
    );
}

#[test]
fn peek_header() {
    let h = peek_message_header(&locate("<Junk/>"), &Limits::default()).unwrap();
    assert_eq!(h.element, "LocateRequest");
    assert_eq!(h.id.as_deref(), Some(MARKER));
    let wrapped = soap::wrap(Binding::Soap(SoapVersion::Soap11), &locate("<Junk/>"));
    let h = peek_message_header(&wrapped, &Limits::default()).unwrap();
    assert_eq!(h.element, "LocateRequest");
    assert!(peek_message_header("<a", &Limits::default()).is_none());
}

// ---------------------------------------------------------------------------------------------
// SOAP

fn envelope(ns: &str, header: &str, body: &str) -> String {
    format!("<e:Envelope xmlns:e=\"{ns}\">{header}<e:Body>{body}</e:Body></e:Envelope>")
}

fn envelope_fault(xml: &str) -> (Option<Binding>, FaultCode) {
    match soap::parse_document(xml, &Limits::default()) {
        Err(DocumentError::Envelope {
            binding_hint,
            fault,
            reason,
        }) => {
            assert!(!reason.contains(MARKER));
            (binding_hint, fault)
        }
        other => panic!("expected envelope error, got {other:?}"),
    }
}

#[test]
fn soap_wrap_round_trip_both_versions_and_bare() {
    let msg = Message::Request(Request::Register(register_request("I1")));
    let body = write_message(&msg);
    for binding in [
        Binding::Soap(SoapVersion::Soap12),
        Binding::Soap(SoapVersion::Soap11),
        Binding::Bare,
    ] {
        let doc = soap::wrap(binding, &body);
        let (b, m) = soap::parse_document(&doc, &Limits::default()).unwrap();
        assert_eq!(b, binding);
        assert_eq!(m, msg);
    }
    assert_eq!(soap::wrap(Binding::Bare, &body), body);
    assert_eq!(
        SoapVersion::Soap12.content_type(),
        "application/soap+xml; charset=utf-8"
    );
    assert_eq!(
        SoapVersion::Soap11.content_type(),
        "text/xml; charset=utf-8"
    );
}

#[test]
fn soap_envelope_errors() {
    let body = write_message(&Message::Request(Request::Locate(locate_request("I1"))));
    let two = envelope(SOAP12_NS, "", &format!("{body}{body}"));
    assert_eq!(
        envelope_fault(&two),
        (Some(Binding::Soap(SoapVersion::Soap12)), FaultCode::Sender)
    );
    let empty = envelope(SOAP11_NS, "", " ");
    assert_eq!(
        envelope_fault(&empty),
        (Some(Binding::Soap(SoapVersion::Soap11)), FaultCode::Sender)
    );
    let text = envelope(SOAP12_NS, "", &format!("ZZMARKERZZ{body}"));
    assert_eq!(envelope_fault(&text).1, FaultCode::Sender);

    let mu12 = envelope(
        SOAP12_NS,
        "<e:Header><h:Sec xmlns:h=\"urn:h\" e:mustUnderstand=\"true\">ZZMARKERZZ</h:Sec></e:Header>",
        &body,
    );
    assert_eq!(envelope_fault(&mu12).1, FaultCode::MustUnderstand);
    let mu11 = envelope(
        SOAP11_NS,
        "<e:Header><h:Sec xmlns:h=\"urn:h\" e:mustUnderstand=\"1\"/></e:Header>",
        &body,
    );
    assert_eq!(envelope_fault(&mu11).1, FaultCode::MustUnderstand);
    // Optional header blocks, or blocks for another role, are ignored.
    let optional = envelope(
        SOAP12_NS,
        "<e:Header><h:Sec xmlns:h=\"urn:h\" e:mustUnderstand=\"false\"/>\
        <h:Other xmlns:h=\"urn:h\" e:mustUnderstand=\"true\" e:role=\"http://www.w3.org/2003/05/soap-envelope/role/none\"/></e:Header>",
        &body,
    );
    assert!(soap::parse_document(&optional, &Limits::default()).is_ok());

    let foreign = envelope("urn:ZZMARKERZZ:envelope", "", &body);
    assert_eq!(envelope_fault(&foreign), (None, FaultCode::VersionMismatch));
    let no_ns = format!("<Envelope><Body>{body}</Body></Envelope>");
    assert_eq!(envelope_fault(&no_ns).1, FaultCode::VersionMismatch);

    let dtd = format!("<!DOCTYPE e []>{}", envelope(SOAP12_NS, "", &body));
    assert_eq!(envelope_fault(&dtd), (None, FaultCode::Sender));
    assert_eq!(envelope_fault("<e:Envelope").1, FaultCode::Sender);
    let after_body = format!(
        "<e:Envelope xmlns:e=\"{SOAP12_NS}\"><e:Body>{body}</e:Body><e:Body/></e:Envelope>"
    );
    assert_eq!(envelope_fault(&after_body).1, FaultCode::Sender);
}

#[test]
fn soap_message_errors_keep_binding_and_header() {
    let bad = envelope(
        SOAP11_NS,
        "",
        r#"<LocateRequest xmlns="http://www.w3.org/2002/03/xkms#" Id="I5" Service="s"/>"#,
    );
    match soap::parse_document(&bad, &Limits::default()) {
        Err(e @ DocumentError::Message { .. }) => {
            assert_eq!(e.fault_version(), SoapVersion::Soap11);
            let DocumentError::Message { binding, error } = e else {
                unreachable!()
            };
            assert_eq!(binding, Binding::Soap(SoapVersion::Soap11));
            assert!(!error.is_unsupported_message());
            assert_eq!(error.header().unwrap().id.as_deref(), Some("I5"));
        }
        other => panic!("{other:?}"),
    }
    let unknown = envelope(
        SOAP12_NS,
        "",
        r#"<Frob xmlns="urn:x" Id="I6" Service="s"/>"#,
    );
    match soap::parse_document(&unknown, &Limits::default()) {
        Err(DocumentError::Message { error, .. }) => assert!(error.is_unsupported_message()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn soap_fault_round_trip() {
    for version in [SoapVersion::Soap12, SoapVersion::Soap11] {
        for code in [
            FaultCode::VersionMismatch,
            FaultCode::MustUnderstand,
            FaultCode::Sender,
            FaultCode::Receiver,
        ] {
            let xml = soap::fault(version, code, "Service temporarily <unable> & sorry");
            let f = soap::parse_fault(&xml, &Limits::default()).unwrap_or_else(|| panic!("{xml}"));
            assert_eq!(f.version, version);
            assert_eq!(f.code, Some(code), "{xml}");
            assert_eq!(f.reason, "Service temporarily <unable> & sorry");
        }
    }
    assert_eq!(
        SoapVersion::Soap12.fault_http_status(FaultCode::Sender),
        400
    );
    assert_eq!(
        SoapVersion::Soap12.fault_http_status(FaultCode::MustUnderstand),
        500
    );
    assert_eq!(
        SoapVersion::Soap11.fault_http_status(FaultCode::Sender),
        500
    );
    let v11 = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>\
        <faultcode>s:Client.Authentication</faultcode><faultstring>no</faultstring></s:Fault></s:Body></s:Envelope>";
    assert_eq!(
        soap::parse_fault(v11, &Limits::default()).unwrap().code,
        Some(FaultCode::Sender)
    );
    let not_fault = soap::wrap(
        Binding::Soap(SoapVersion::Soap12),
        &write_message(&Message::Request(Request::Locate(locate_request("I1")))),
    );
    assert!(soap::parse_fault(&not_fault, &Limits::default()).is_none());
}
