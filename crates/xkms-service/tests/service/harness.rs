//! A service on a temporary SQLite file with an ECDSA CA and a clock the test moves.

use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;
use xkms_ca::{Ca, CaKeyType, CaParams, FileKeySigner};
use xkms_client::krss::{BindingRef, sign_request};
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::soap::{self, Binding, SoapVersion};
use xkms_proto::{
    Application, Limits, Message, ReissueRequest, Request, RequestAbstract, RespondWith,
    ResultMajor, ResultMessage, ResultMinor, StatusValue, UseKeyWith, write_message,
};
use xkms_proto::{RevokeAuthorization, RevokeRequest};
use xkms_service::escrow::MasterKey;
use xkms_service::keypool::KeyPool;
use xkms_service::store::{Authorization, Purpose, Store};
use xkms_service::{
    Escrow, FixedClock, ManualClock, NewAuthorization, Policy, RequestContext, ServiceConfig,
    XkmsService,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

pub const SERVICE: &str = "http://xkms.test/xkms";
pub const SEED_DN: &str = "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe";
pub const SASL: SecretPreparation = SecretPreparation::SaslPrep;

pub struct Harness {
    pub service: XkmsService,
    pub store: Arc<dyn Store>,
    pub client: XkmsClient,
    pub dir: tempfile::TempDir,
    /// The service's clock when the harness was made.
    pub now: OffsetDateTime,
    /// The service's clock: `clock.advance(…)` instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// The master key's bytes (another node on the same store needs them).
    pub master: Vec<u8>,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_policy(Policy::default()).await
    }

    pub async fn with_policy(policy: Policy) -> Harness {
        Harness::with_config(policy, Default::default()).await
    }

    /// A service with `policy` and protocol options `protocol`.
    pub async fn with_config(policy: Policy, protocol: xkms_service::ProtocolPolicy) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let signer = Arc::new(FileKeySigner::generate(CaKeyType::EcdsaP256).unwrap());
        let ca = Ca::create_self_signed(signer, &CaParams::default(), now).unwrap();
        let store: Arc<dyn Store> = Arc::new(
            xkms_store::SqliteStore::open_path(&dir.path().join("xkms.db"))
                .await
                .unwrap(),
        );
        let master = MasterKey::generate_bytes().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let service = service_with(
            Arc::clone(&store),
            Arc::new(ca),
            clock.clone(),
            policy,
            protocol,
            &master,
        )
        .with_nonce_secret(&[7u8; 32]);
        Harness {
            service,
            store,
            client: XkmsClient::new(SERVICE),
            dir,
            now,
            clock,
            master: master.to_vec(),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("xkms.db")
    }

    /// `xkmsd admin authorize IDENTITY --secret SECRET --purpose … --allow-name …`.
    pub async fn authorize(
        &self,
        identity: &str,
        secret: &str,
        purpose: Purpose,
        grants: &[&str],
    ) -> Authorization {
        let request = NewAuthorization {
            identity: identity.into(),
            purpose,
            lifetime: None,
            max_uses: None,
            granted_names: grants
                .iter()
                .map(|g| xkms_service::names::parse_granted_name(g).unwrap())
                .collect(),
        };
        self.service
            .create_authorization(&request, &SharedSecret::new(secret.into()))
            .await
            .unwrap()
    }

    /// The README's T100 authorization (the seed DN granted).
    pub async fn authorize_joe(&self) -> Authorization {
        let grant = format!("dn:{SEED_DN}");
        self.authorize("joe@example.com", "secret", Purpose::Register, &[&grant])
            .await
    }

    /// Processes a received document as the HTTP layer would (client 192.0.2.1).
    pub async fn process(&self, document: &str) -> ResultMessage {
        process_with(&self.service, document).await
    }

    /// A RegisterRequest document signed with `secret` (and the key's proof of
    /// possession), and its request Id.
    pub fn register_document(&self, params: &RegisterParams<'_>) -> (String, String) {
        let request = self.client.register_request(params).unwrap();
        let id = request.request.message.id.clone();
        let doc = document(&Request::Register(request));
        let signed = sign_request(
            &doc,
            &id,
            Some((params.secret, params.preparation)),
            params.key,
        )
        .unwrap();
        (signed, id)
    }

    pub async fn register(&self, params: &RegisterParams<'_>) -> ResultMessage {
        let (doc, _) = self.register_document(params);
        self.process(&doc).await
    }

    /// A request header with a fresh Id for this service.
    pub fn header(&self) -> RequestAbstract {
        RequestAbstract {
            message: xkms_proto::MessageAbstract {
                id: self.client.new_id(),
                service: SERVICE.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A ReissueRequest for the binding of `certificate`, signed with `code` and `key`.
    pub fn reissue_document(
        &self,
        certificate: Vec<u8>,
        code: &SharedSecret,
        key: &ClientKey,
    ) -> String {
        let kb_id = self.client.new_id();
        let request = ReissueRequest {
            request: self.header(),
            reissue_key_binding: BindingRef {
                certificate: Some(certificate),
                ..Default::default()
            }
            .key_binding(kb_id.clone(), StatusValue::Valid),
            authentication: xkms_client::krss::authentication_template(&kb_id),
            proof_of_possession: Some(xkms_client::krss::proof_of_possession_template(&kb_id)),
        };
        let id = request.request.message.id.clone();
        sign_request(
            &document(&Request::Reissue(request)),
            &id,
            Some((code, SASL)),
            Some(key),
        )
        .unwrap()
    }

    pub async fn bindings(&self) -> u64 {
        self.store.count_bindings().await.unwrap()
    }
}

/// A service on `store` whose master key is `master`, at the fixed time `now`.
pub fn service_on(
    store: Arc<dyn Store>,
    ca: Arc<Ca>,
    now: OffsetDateTime,
    policy: Policy,
    master: &[u8],
) -> XkmsService {
    service_with(
        store,
        ca,
        Arc::new(FixedClock(now)),
        policy,
        Default::default(),
        master,
    )
}

fn service_with(
    store: Arc<dyn Store>,
    ca: Arc<Ca>,
    clock: Arc<dyn xkms_service::Clock>,
    policy: Policy,
    protocol: xkms_service::ProtocolPolicy,
    master: &[u8],
) -> XkmsService {
    let config = ServiceConfig {
        service_uri: SERVICE.into(),
        policy,
        trust: Default::default(),
        protocol,
    };
    XkmsService::new(
        store,
        ca,
        clock,
        config,
        MasterKey::from_bytes(master).unwrap(),
    )
    .with_escrow(Escrow {
        key_pool: KeyPool::start(0, 2048),
    })
}

pub async fn process_with(service: &XkmsService, document: &str) -> ResultMessage {
    let (_, message) = soap::parse_document(document, &Limits::default()).unwrap();
    let Message::Request(request) = message else {
        panic!("not a request")
    };
    let received = xkms_xmlsec::ReceivedDocument::parse(document);
    let ctx = RequestContext::new(&received, Some("192.0.2.1".parse().unwrap()));
    service.process(&ctx, &request).await
}

/// A request as a SOAP 1.2 document.
pub fn document(request: &Request) -> String {
    soap::wrap(
        Binding::Soap(SoapVersion::Soap12),
        &write_message(&Message::Request(request.clone())),
    )
}

pub fn codes(result: &ResultMessage) -> (ResultMajor, Option<ResultMinor>) {
    let h = xkms_client::result_header(result);
    (h.result_major.clone(), h.result_minor.clone())
}

pub fn refused() -> (ResultMajor, Option<ResultMinor>) {
    (ResultMajor::Sender, Some(ResultMinor::Refused))
}

pub fn success() -> (ResultMajor, Option<ResultMinor>) {
    (ResultMajor::Success, None)
}

pub fn ukw(application: Application, identifier: &str) -> UseKeyWith {
    UseKeyWith {
        application,
        identifier: identifier.into(),
    }
}

/// A registration of `key` named `key_name` with `use_key_with`, secret `secret`.
pub fn params<'a>(
    key: Option<&'a ClientKey>,
    key_name: &str,
    use_key_with: Vec<UseKeyWith>,
    secret: &'a SharedSecret,
    phrase: Option<&'a SharedSecret>,
) -> RegisterParams<'a> {
    RegisterParams {
        key,
        key_name: Some(key_name.into()),
        use_key_with,
        key_usage: vec![],
        respond_with: vec![RespondWith::X509Cert, RespondWith::KeyValue],
        response_mechanism: vec![],
        secret,
        preparation: SASL,
        revocation_phrase: phrase,
    }
}

/// Joe's T100 registration (KeyName and S/MIME joe@example.com, the seed DN) of `key`
/// (none: the service generates one).
pub fn t100<'a>(key: Option<&'a ClientKey>, secret: &'a SharedSecret) -> RegisterParams<'a> {
    params(key, "joe@example.com", seed_names(), secret, None)
}

/// The seed's T100 names: S/MIME joe@example.com and the seed DN.
pub fn seed_names() -> Vec<UseKeyWith> {
    vec![
        ukw(Application::Smime, "joe@example.com"),
        ukw(Application::Pkix, SEED_DN),
    ]
}

/// The certificate of a successful RegisterResult.
pub fn certificate_of(result: &ResultMessage) -> Vec<u8> {
    let ResultMessage::Register(r) = result else {
        panic!("not a RegisterResult: {result:?}")
    };
    xkms_client::krss::first_certificate(&r.key_bindings)
        .unwrap()
        .to_vec()
}

/// One RSA-2048 key shared by the tests of this binary (generation is the slow part).
pub fn key() -> &'static ClientKey {
    static KEY: std::sync::OnceLock<ClientKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| ClientKey::generate(2048).unwrap())
}

/// A fresh RSA-2048 key.
pub fn fresh_key() -> ClientKey {
    ClientKey::generate(2048).unwrap()
}

/// A RevokeRequest for the binding of `certificate` with the revocation pass phrase.
pub fn revoke_by_phrase(h: &Harness, certificate: Vec<u8>, phrase: &SharedSecret) -> String {
    let request = RevokeRequest {
        request: h.header(),
        revoke_key_binding: BindingRef {
            certificate: Some(certificate),
            ..Default::default()
        }
        .key_binding(h.client.new_id(), StatusValue::Indeterminate),
        authorization: RevokeAuthorization::RevocationCode(
            phrase.revocation_code(SASL).unwrap().to_vec(),
        ),
    };
    document(&Request::Revoke(request))
}
