//! A CA key held in a PKCS#11 token (an HSM; SoftHSM2 in the tests).
//!
//! The key pair is generated inside the token as a token object that is sensitive and
//! not extractable, so its private half never exists outside the token; every
//! certificate and CRL signature is a `C_Sign` call. The public half is read back from
//! the token to build the CA certificate. The PIN is given by the caller (read from a
//! file) and handed to `C_Login` only; it is never part of an error message.
//!
//! Modules are loaded once per process and never unloaded: a PKCS#11 library is
//! initialized once per process (`C_Initialize`), and a second load of the same module
//! (an admin command and the server in one test process) must share that state.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::digest::{self, SHA256, SHA384};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::der;
use crate::error::CaError;
use crate::public_key::RsaPublicKey;
use crate::signer::{CaKeyType, CaSignatureAlgorithm, CaSigner};

/// DER of the named-curve OIDs (CKA_EC_PARAMS).
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];

/// Where the CA key lives in a token, and how to log in.
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The label of the token (CKA_LABEL of the token, as `softhsm2-util --init-token
    /// --label` set it).
    pub token_label: String,
    /// The user PIN.
    pub pin: Zeroizing<String>,
    /// The label of the CA key pair's objects in the token.
    pub key_label: String,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"[redacted]")
            .field("key_label", &self.key_label)
            .finish()
    }
}

/// A CA key pair in a token, logged in and ready to sign.
pub struct Pkcs11Signer {
    /// A session is not `Sync`: one signature at a time.
    session: Mutex<Session>,
    private_key: ObjectHandle,
    public: Vec<u8>,
    algorithm: CaSignatureAlgorithm,
    description: String,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("key", &self.description)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// What the token says about the CA key's protection (`check-config`, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenKeyProtection {
    /// CKA_SENSITIVE: the private value cannot be read.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE: whether the key may be wrapped out of the token.
    pub extractable: bool,
    /// CKA_NEVER_EXTRACTABLE: it never was extractable.
    pub never_extractable: bool,
    /// CKA_LOCAL: generated inside the token (not imported).
    pub local: bool,
}

impl Pkcs11Signer {
    /// Logs in to the token and finds the key pair labelled `key_label`; `None` when
    /// the token holds no such private key. More than one is refused (ambiguous).
    pub fn open(config: &Pkcs11Config) -> Result<Option<Pkcs11Signer>, CaError> {
        let session = login(config)?;
        let Some(private_key) = find_one(&session, ObjectClass::PRIVATE_KEY, &config.key_label)?
        else {
            return Ok(None);
        };
        Self::from_handles(session, private_key, config).map(Some)
    }

    /// Generates a new key pair of `key_type` inside the token, labelled `key_label`:
    /// a token object, sensitive, not extractable. Refuses if the label is taken.
    pub fn generate(config: &Pkcs11Config, key_type: CaKeyType) -> Result<Pkcs11Signer, CaError> {
        let session = login(config)?;
        if find_one(&session, ObjectClass::PRIVATE_KEY, &config.key_label)?.is_some() {
            return Err(token_error(
                "generating the CA key",
                format!(
                    "the token already holds a key labelled {:?}",
                    config.key_label
                ),
            ));
        }
        let mut id = [0u8; 16];
        SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| CaError::Crypto("random number generator failed"))?;
        let label = config.key_label.as_bytes().to_vec();
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Private(private),
                Attribute::Label(label.clone()),
                Attribute::Id(id.to_vec()),
            ]
        };
        let mut private = common(true);
        private.extend([
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
        ]);
        let mut public = common(false);
        public.push(Attribute::Verify(true));
        let mechanism = match key_type {
            CaKeyType::Rsa2048 | CaKeyType::Rsa3072 | CaKeyType::Rsa4096 => {
                let bits: std::os::raw::c_ulong = match key_type {
                    CaKeyType::Rsa2048 => 2048,
                    CaKeyType::Rsa3072 => 3072,
                    _ => 4096,
                };
                public.extend([
                    Attribute::ModulusBits(bits.into()),
                    Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                ]);
                Mechanism::RsaPkcsKeyPairGen
            }
            CaKeyType::EcdsaP256 | CaKeyType::EcdsaP384 => {
                let params = if key_type == CaKeyType::EcdsaP256 {
                    P256_PARAMS
                } else {
                    P384_PARAMS
                };
                public.push(Attribute::EcParams(params.to_vec()));
                Mechanism::EccKeyPairGen
            }
        };
        let (_, private_key) = session
            .generate_key_pair(&mechanism, &public, &private)
            .map_err(|e| pkcs11_error("generating the CA key in the token", &e))?;
        Self::from_handles(session, private_key, config)
    }

    /// The token's view of the key's protection.
    pub fn protection(&self) -> Result<TokenKeyProtection, CaError> {
        let session = self.lock();
        let attributes = session
            .get_attributes(
                self.private_key,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::Local,
                ],
            )
            .map_err(|e| pkcs11_error("reading the CA key's attributes", &e))?;
        let mut protection = TokenKeyProtection {
            sensitive: false,
            extractable: true,
            never_extractable: false,
            local: false,
        };
        for attribute in attributes {
            match attribute {
                Attribute::Sensitive(v) => protection.sensitive = v,
                Attribute::Extractable(v) => protection.extractable = v,
                Attribute::NeverExtractable(v) => protection.never_extractable = v,
                Attribute::Local(v) => protection.local = v,
                _ => {}
            }
        }
        Ok(protection)
    }

    /// "token LABEL, key LABEL (RSA-3072)", for logs and `check-config`.
    pub fn description(&self) -> &str {
        &self.description
    }

    fn from_handles(
        session: Session,
        private_key: ObjectHandle,
        config: &Pkcs11Config,
    ) -> Result<Pkcs11Signer, CaError> {
        let key_type = session
            .get_attributes(private_key, &[AttributeType::KeyType])
            .map_err(|e| pkcs11_error("reading the CA key's type", &e))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::KeyType(t) => Some(t),
                _ => None,
            })
            .ok_or_else(|| token_error("reading the CA key", "no key type".into()))?;
        let (algorithm, public, kind) = if key_type == KeyType::RSA {
            let key = rsa_public_key(&session, private_key)?;
            let bits = key.bits();
            if bits < crate::MIN_RSA_BITS {
                return Err(CaError::InvalidPrivateKey {
                    reason: "RSA key too small",
                });
            }
            (
                CaSignatureAlgorithm::RsaPkcs1Sha256,
                key.to_pkcs1_der(),
                format!("RSA-{bits}"),
            )
        } else if key_type == KeyType::EC {
            let Some(public_key) = find_one(&session, ObjectClass::PUBLIC_KEY, &config.key_label)?
            else {
                return Err(token_error(
                    "reading the CA key",
                    format!(
                        "no public key object labelled {:?} next to the EC private key",
                        config.key_label
                    ),
                ));
            };
            let (algorithm, point) = ec_public_key(&session, public_key)?;
            let name = match algorithm {
                CaSignatureAlgorithm::EcdsaP256Sha256 => "ECDSA P-256",
                _ => "ECDSA P-384",
            };
            (algorithm, point, name.to_owned())
        } else {
            return Err(token_error(
                "reading the CA key",
                "neither an RSA nor an EC key".into(),
            ));
        };
        Ok(Pkcs11Signer {
            session: Mutex::new(session),
            private_key,
            public,
            algorithm,
            description: format!(
                "token {:?}, key {:?} ({kind})",
                config.token_label, config.key_label
            ),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Session> {
        // A panic while signing leaves no half-done state in the session worth refusing.
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl CaSigner for Pkcs11Signer {
    fn algorithm(&self) -> CaSignatureAlgorithm {
        self.algorithm
    }

    fn public_key_bits(&self) -> &[u8] {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        let session = self.lock();
        let failed = |e: Pkcs11Error| pkcs11_error("signing in the token", &e);
        match self.algorithm {
            CaSignatureAlgorithm::RsaPkcs1Sha256 => session
                .sign(&Mechanism::Sha256RsaPkcs, self.private_key, message)
                .map_err(failed),
            // Hashed here, signed raw (CKM_ECDSA): every token has it; the token returns
            // r ‖ s, X.509 wants the DER Ecdsa-Sig-Value.
            CaSignatureAlgorithm::EcdsaP256Sha256 | CaSignatureAlgorithm::EcdsaP384Sha384 => {
                let hash = if self.algorithm == CaSignatureAlgorithm::EcdsaP256Sha256 {
                    digest::digest(&SHA256, message)
                } else {
                    digest::digest(&SHA384, message)
                };
                let raw = session
                    .sign(&Mechanism::Ecdsa, self.private_key, hash.as_ref())
                    .map_err(failed)?;
                ecdsa_der(&raw)
            }
        }
    }
}

/// The module loaded and initialized once per process.
fn context(module: &Path) -> Result<Pkcs11, CaError> {
    static CONTEXTS: OnceLock<Mutex<Vec<(PathBuf, Pkcs11)>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, ctx)) = contexts.iter().find(|(path, _)| path == module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        token_error(
            "loading the PKCS#11 module",
            format!("{}: {e}", module.display()),
        )
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(token_error(
                "initializing the PKCS#11 module",
                format!("{}: {e}", module.display()),
            ));
        }
    }
    contexts.push((module.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

/// The slot of the token labelled `label` (exactly one).
fn slot_of(ctx: &Pkcs11, label: &str) -> Result<Slot, CaError> {
    let mut found = Vec::new();
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| pkcs11_error("listing the module's tokens", &e))?;
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| pkcs11_error("reading a token's label", &e))?;
        // Labels are blank-padded to 32 bytes in the token info.
        if info.label().trim_end() == label {
            found.push(slot);
        }
    }
    match found.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(token_error(
            "finding the token",
            format!("no token labelled {label:?} (softhsm2-util --show-slots lists them)"),
        )),
        _ => Err(token_error(
            "finding the token",
            format!("several tokens are labelled {label:?}"),
        )),
    }
}

/// A read-write session on the configured token, logged in as the user.
fn login(config: &Pkcs11Config) -> Result<Session, CaError> {
    let ctx = context(&config.module)?;
    let slot = slot_of(&ctx, &config.token_label)?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(|e| pkcs11_error("opening a session with the token", &e))?;
    let pin = AuthPin::new(config.pin.as_str().into());
    match session.login(UserType::User, Some(&pin)) {
        // Login state is per application: another session of this process logged in.
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(Pkcs11Error::Pkcs11(RvError::PinIncorrect, _)) => Err(token_error(
            "logging in to the token",
            "the PIN is wrong (pkcs11_pin_file)".into(),
        )),
        Err(Pkcs11Error::Pkcs11(RvError::PinLocked, _)) => Err(token_error(
            "logging in to the token",
            "the user PIN is locked".into(),
        )),
        Err(e) => Err(pkcs11_error("logging in to the token", &e)),
    }
}

/// The one object of `class` labelled `label`; several are refused.
fn find_one(
    session: &Session,
    class: ObjectClass,
    label: &str,
) -> Result<Option<ObjectHandle>, CaError> {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| pkcs11_error("searching the token", &e))?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(token_error(
            "searching the token",
            format!("several keys are labelled {label:?}"),
        )),
    }
}

/// Modulus and public exponent, readable on the private key object of an RSA pair.
fn rsa_public_key(session: &Session, key: ObjectHandle) -> Result<RsaPublicKey, CaError> {
    let mut modulus = None;
    let mut exponent = None;
    for attribute in session
        .get_attributes(
            key,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )
        .map_err(|e| pkcs11_error("reading the CA public key", &e))?
    {
        match attribute {
            Attribute::Modulus(m) => modulus = Some(m),
            Attribute::PublicExponent(e) => exponent = Some(e),
            _ => {}
        }
    }
    let (Some(modulus), Some(exponent)) = (modulus, exponent) else {
        return Err(token_error(
            "reading the CA public key",
            "the token did not give the modulus and exponent".into(),
        ));
    };
    Ok(RsaPublicKey {
        modulus: der::strip_leading_zeros(&modulus).to_vec(),
        exponent: der::strip_leading_zeros(&exponent).to_vec(),
    })
}

/// Curve and uncompressed point of an EC public key object.
fn ec_public_key(
    session: &Session,
    key: ObjectHandle,
) -> Result<(CaSignatureAlgorithm, Vec<u8>), CaError> {
    let mut params = None;
    let mut point = None;
    for attribute in session
        .get_attributes(key, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(|e| pkcs11_error("reading the CA public key", &e))?
    {
        match attribute {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    let (Some(params), Some(point)) = (params, point) else {
        return Err(token_error(
            "reading the CA public key",
            "the token did not give the curve and point".into(),
        ));
    };
    let (algorithm, coordinate) = match params.as_slice() {
        P256_PARAMS => (CaSignatureAlgorithm::EcdsaP256Sha256, 32),
        P384_PARAMS => (CaSignatureAlgorithm::EcdsaP384Sha384, 48),
        _ => {
            return Err(token_error(
                "reading the CA public key",
                "the curve is neither P-256 nor P-384".into(),
            ));
        }
    };
    let raw_len = 1 + 2 * coordinate;
    // PKCS#11 says CKA_EC_POINT is a DER OCTET STRING; some modules give the bare point.
    let bare = if point.len() == raw_len {
        point
    } else {
        match point.as_slice() {
            [0x04, len, rest @ ..] if usize::from(*len) == raw_len && rest.len() == raw_len => {
                rest.to_vec()
            }
            _ => {
                return Err(token_error(
                    "reading the CA public key",
                    "the EC point is malformed".into(),
                ));
            }
        }
    };
    if bare.first() != Some(&0x04) {
        return Err(token_error(
            "reading the CA public key",
            "the EC point is not uncompressed".into(),
        ));
    }
    Ok((algorithm, bare))
}

/// r ‖ s (each half of `raw`) as a DER `Ecdsa-Sig-Value`.
fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, CaError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(CaError::Crypto("the token returned a malformed signature"));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let r = der::unsigned_integer(der::strip_leading_zeros(r));
    let s = der::unsigned_integer(der::strip_leading_zeros(s));
    Ok(der::sequence(&[&r, &s]))
}

fn pkcs11_error(what: &'static str, e: &Pkcs11Error) -> CaError {
    token_error(what, e.to_string())
}

fn token_error(what: &'static str, detail: String) -> CaError {
    CaError::Token { what, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ecdsa_signatures_become_der() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r needs a leading zero byte in DER
        raw[32..].copy_from_slice(&[0x01; 32]);
        let der = ecdsa_der(&raw).unwrap();
        assert_eq!(&der[..4], &[0x30, 0x45, 0x02, 0x21]);
        assert_eq!(der[4], 0x00);
        assert!(ecdsa_der(&[1, 2, 3]).is_err());
    }

    #[test]
    fn the_pin_is_not_in_debug_output() {
        let config = Pkcs11Config {
            module: "/nonexistent.so".into(),
            token_label: "t".into(),
            pin: Zeroizing::new("1234-secret".into()),
            key_label: "k".into(),
        };
        assert!(!format!("{config:?}").contains("1234-secret"));
    }
}
