//! RespondWith: what goes into a returned key binding's `ds:KeyInfo` (digest §3.3).
//!
//! The service returns what it can. Anything asked for that it cannot provide makes the
//! result `Success/Incomplete` — never a silent omission.

use xkms_proto::{KeyInfo, KeyValue, RespondWith, RsaKeyValue, X509Data};

/// The material a key binding can be described with.
#[derive(Debug, Clone, Copy)]
pub struct BindingMaterial<'a> {
    pub key_name: Option<&'a str>,
    pub modulus: &'a [u8],
    pub exponent: &'a [u8],
    /// The binding's current certificate (DER), if it has one.
    pub certificate: Option<&'a [u8]>,
    /// Issuer chain above `certificate`, nearest first (DER).
    pub chain: &'a [Vec<u8>],
}

/// A KeyInfo built per RespondWith, and whether something asked for was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub key_info: Option<KeyInfo>,
    pub incomplete: bool,
}

/// Builds the KeyInfo for `respond_with`. `PrivateKey` is not KeyInfo material: the
/// operation that can return one handles it and tells us via `private_key_handled`.
pub fn describe(
    respond_with: &[RespondWith],
    material: &BindingMaterial<'_>,
    private_key_handled: bool,
) -> Described {
    let mut key_info = KeyInfo::default();
    let mut incomplete = false;
    let mut want_cert = false;
    let mut want_chain = false;
    for item in respond_with {
        match item {
            RespondWith::KeyName => match material.key_name {
                Some(name) if !key_info.key_names.iter().any(|n| n == name) => {
                    key_info.key_names.push(name.to_owned())
                }
                Some(_) => {}
                None => incomplete = true,
            },
            RespondWith::KeyValue => {
                if key_info.key_values.is_empty() {
                    key_info.key_values.push(KeyValue::Rsa(RsaKeyValue {
                        modulus: material.modulus.to_vec(),
                        exponent: material.exponent.to_vec(),
                    }));
                }
            }
            RespondWith::X509Cert => want_cert = true,
            RespondWith::X509Chain => want_chain = true,
            RespondWith::PrivateKey => incomplete |= !private_key_handled,
            RespondWith::X509Crl
            | RespondWith::RetrievalMethod
            | RespondWith::Pgp
            | RespondWith::PgpWeb
            | RespondWith::Spki
            | RespondWith::Other(_) => incomplete = true,
        }
    }
    if want_cert || want_chain {
        match material.certificate {
            Some(cert) => {
                let mut data = X509Data::default();
                data.certificates.push(cert.to_vec());
                if want_chain {
                    data.certificates.extend(material.chain.iter().cloned());
                }
                key_info.x509_data.push(data);
            }
            None => incomplete = true,
        }
    }
    let empty = key_info.key_names.is_empty()
        && key_info.key_values.is_empty()
        && key_info.x509_data.is_empty();
    Described {
        key_info: (!empty).then_some(key_info),
        incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material<'a>(cert: Option<&'a [u8]>, chain: &'a [Vec<u8>]) -> BindingMaterial<'a> {
        BindingMaterial {
            key_name: Some("joe@example.com"),
            modulus: &[0xc0, 0x01],
            exponent: &[1, 0, 1],
            certificate: cert,
            chain,
        }
    }

    #[test]
    fn seed_respond_with_is_complete() {
        let chain = vec![vec![9u8]];
        let d = describe(
            &[
                RespondWith::KeyValue,
                RespondWith::KeyName,
                RespondWith::X509Cert,
            ],
            &material(Some(&[1, 2, 3]), &chain),
            false,
        );
        assert!(!d.incomplete);
        let ki = d.key_info.unwrap();
        assert_eq!(ki.key_names, vec!["joe@example.com".to_string()]);
        assert_eq!(ki.key_values.len(), 1);
        assert_eq!(ki.x509_data[0].certificates, vec![vec![1u8, 2, 3]]);
    }

    #[test]
    fn chain_appends_issuers() {
        let chain = vec![vec![9u8]];
        let d = describe(
            &[RespondWith::X509Chain],
            &material(Some(&[1]), &chain),
            false,
        );
        assert_eq!(
            d.key_info.unwrap().x509_data[0].certificates,
            vec![vec![1u8], vec![9u8]]
        );
    }

    #[test]
    fn unavailable_items_make_incomplete() {
        for rw in [
            RespondWith::Pgp,
            RespondWith::X509Crl,
            RespondWith::PrivateKey,
        ] {
            let d = describe(
                &[RespondWith::KeyName, rw.clone()],
                &material(None, &[]),
                false,
            );
            assert!(d.incomplete, "{rw:?}");
            assert!(d.key_info.is_some());
        }
        let d = describe(&[RespondWith::X509Cert], &material(None, &[]), false);
        assert!(d.incomplete);
        assert!(d.key_info.is_none());
    }
}
