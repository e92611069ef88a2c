//! Builds (and signs) every request document before the timed window.

use anyhow::Context;
use std::time::{SystemTime, UNIX_EPOCH};
use xkms_client::krss::sign_request;
use xkms_client::locate::LocateParams;
use xkms_client::validate::ValidateParams;
use xkms_client::{ClientKey, RegisterParams, XkmsClient};
use xkms_proto::soap::{self, Binding};
use xkms_proto::{
    Application, LocateRequest, Message, MessageAbstract, Request, RequestAbstract, RespondWith,
    UseKeyWith, ValidateRequest, write_message,
};
use xkms_xmlsec::kdf::{SecretPreparation, SharedSecret};

pub struct Prepare<'a> {
    pub client: &'a XkmsClient,
    pub binding: Binding,
}

impl Prepare<'_> {
    /// `count` signed RegisterRequests for `identity`: with `keys = Some((n, bits))`,
    /// `n` client keys used in turn (T100); with `None`, service-generated keys (T101).
    /// Keys and signatures are computed on every core.
    pub fn register(
        &self,
        identity: &str,
        secret: &str,
        keys: Option<(usize, usize)>,
        count: usize,
    ) -> anyhow::Result<Vec<String>> {
        let keys = match keys {
            Some((n, bits)) => generate_keys(n.max(1), bits)?,
            None => Vec::new(),
        };
        let secret = SharedSecret::new(secret.to_owned());
        let use_key_with = if identity.contains('@') && !identity.contains('=') {
            vec![UseKeyWith {
                application: Application::Smime,
                identifier: identity.to_owned(),
            }]
        } else {
            Vec::new()
        };
        let one = |i: usize| -> anyhow::Result<String> {
            let key = (!keys.is_empty()).then(|| &keys[i % keys.len()]);
            let params = RegisterParams {
                key,
                key_name: Some(identity.to_owned()),
                use_key_with: use_key_with.clone(),
                key_usage: Vec::new(),
                respond_with: vec![RespondWith::X509Cert],
                response_mechanism: Vec::new(),
                secret: &secret,
                preparation: SecretPreparation::SaslPrep,
                revocation_phrase: None,
            };
            let request = self.client.register_request(&params)?;
            let id = request.request.message.id.clone();
            let body = soap::wrap(
                self.binding,
                &write_message(&Message::Request(Request::Register(request))),
            );
            Ok(sign_request(
                &body,
                &id,
                Some((&secret, SecretPreparation::SaslPrep)),
                key,
            )?)
        };
        parallel(count, one)
    }

    /// `count` LocateRequests; `{i}` in the name or identifier becomes a pseudo-random
    /// index below `spread`.
    pub fn locate(
        &self,
        key_name: Option<&str>,
        use_key_with: Option<&UseKeyWith>,
        spread: u64,
        respond_with: &[RespondWith],
        count: usize,
    ) -> Vec<String> {
        let mut rng = XorShift::seeded();
        (0..count)
            .map(|_| {
                let i = rng.below(spread.max(1)).to_string();
                let params = LocateParams {
                    key_names: key_name.map(|n| n.replace("{i}", &i)).into_iter().collect(),
                    use_key_with: use_key_with
                        .map(|u| UseKeyWith {
                            application: u.application.clone(),
                            identifier: u.identifier.replace("{i}", &i),
                        })
                        .into_iter()
                        .collect(),
                    ..Default::default()
                };
                let request = LocateRequest {
                    request: self.request_abstract(respond_with),
                    query_key_binding: params.query_key_binding(),
                };
                self.document(Request::Locate(request))
            })
            .collect()
    }

    /// `count` ValidateRequests for `certificates` (first = end entity).
    pub fn validate(&self, certificates: &[Vec<u8>], count: usize) -> Vec<String> {
        let params = ValidateParams {
            certificates: certificates.to_vec(),
            ..Default::default()
        };
        let query = params.query_key_binding();
        (0..count)
            .map(|_| {
                let request = ValidateRequest {
                    request: self.request_abstract(&[]),
                    query_key_binding: query.clone(),
                };
                self.document(Request::Validate(request))
            })
            .collect()
    }

    fn request_abstract(&self, respond_with: &[RespondWith]) -> RequestAbstract {
        RequestAbstract {
            message: MessageAbstract {
                id: self.client.new_id(),
                service: self.client.service_uri().to_owned(),
                ..Default::default()
            },
            respond_with: respond_with.to_vec(),
            ..Default::default()
        }
    }

    fn document(&self, request: Request) -> String {
        soap::wrap(self.binding, &write_message(&Message::Request(request)))
    }
}

fn generate_keys(n: usize, bits: usize) -> anyhow::Result<Vec<ClientKey>> {
    crate::output::errln!("generating {n} RSA-{bits} client keys …");
    parallel(n, |_| {
        ClientKey::generate(bits).context("generating a client key")
    })
}

/// `make(0..count)` on every core, in order.
fn parallel<T: Send>(
    count: usize,
    make: impl Fn(usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(count.max(1));
    let per_thread = count.div_ceil(threads);
    let make = &make;
    let parts: Vec<anyhow::Result<Vec<T>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * per_thread)..((t + 1) * per_thread).min(count);
                scope.spawn(move || range.map(make).collect::<anyhow::Result<Vec<T>>>())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a preparation thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(count);
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// A small non-cryptographic generator: spreads lookups over seeded names.
struct XorShift(u64);

impl XorShift {
    fn seeded() -> XorShift {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        XorShift(nanos | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_documents_spread_names() {
        let client = XkmsClient::new("http://127.0.0.1:1/xkms");
        let prepare = Prepare {
            client: &client,
            binding: Binding::Bare,
        };
        let docs = prepare.locate(
            Some("user{i}@seed.example"),
            None,
            1_000_000,
            &[RespondWith::KeyName],
            20,
        );
        assert_eq!(docs.len(), 20);
        assert!(docs.iter().all(|d| d.contains("@seed.example")));
        assert!(docs.iter().all(|d| !d.contains("{i}")));
        let distinct: std::collections::HashSet<_> = docs.iter().collect();
        assert_eq!(distinct.len(), 20);
    }

    #[test]
    fn parallel_keeps_order() {
        let v = parallel(10, |i| Ok(i * 2)).unwrap();
        assert_eq!(v, (0..10).map(|i| i * 2).collect::<Vec<_>>());
    }
}
