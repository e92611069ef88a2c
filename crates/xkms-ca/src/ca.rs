//! The CA: its key, its self-signed certificate, and signing.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, DnValue, IsCa,
    Issuer, KeyIdMethod, KeyUsagePurpose, PublicKeyData as _, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::ParsedExtension;
use x509_parser::x509::X509Name;

use zeroize::Zeroizing;

use crate::certinfo::{CertificateInfo, parse_certificate, parse_x509, x509_name_to_rfc4514};
use crate::encrypted_key::Passphrase;
use crate::error::CaError;
use crate::issue::{
    CLOCK_SKEW, IssueRequest, IssuedCertificate, end_entity_params, truncate_to_second,
    validity_window,
};
use crate::name::{DistinguishedName, DnAttribute};
use crate::public_key::ForeignRsaKey;
use crate::serial::Serial;
use crate::signer::{CaKeyType, CaSignatureAlgorithm, CaSigner, FileKeySigner, RcgenSigner};
use crate::{CA_CERT_FILE, CA_KEY_FILE, storage};

/// How to create a new CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaParams {
    pub key_type: CaKeyType,
    pub common_name: String,
    pub organization: Option<String>,
    pub validity: Duration,
}

impl Default for CaParams {
    fn default() -> Self {
        CaParams {
            key_type: CaKeyType::default(),
            common_name: "XKMS Demo CA".to_owned(),
            organization: None,
            validity: Duration::days(3653),
        }
    }
}

/// CRL reason codes (RFC 5280 §5.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    RemoveFromCrl,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    fn rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            RevocationReason::Unspecified => R::Unspecified,
            RevocationReason::KeyCompromise => R::KeyCompromise,
            RevocationReason::CaCompromise => R::CaCompromise,
            RevocationReason::AffiliationChanged => R::AffiliationChanged,
            RevocationReason::Superseded => R::Superseded,
            RevocationReason::CessationOfOperation => R::CessationOfOperation,
            RevocationReason::CertificateHold => R::CertificateHold,
            RevocationReason::RemoveFromCrl => R::RemoveFromCrl,
            RevocationReason::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
            RevocationReason::AaCompromise => R::AaCompromise,
        }
    }
}

/// One CRL entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    pub serial: Serial,
    pub revocation_time: OffsetDateTime,
    /// `None` (or `Unspecified`) writes no reasonCode extension.
    pub reason: Option<RevocationReason>,
}

/// A certificate authority ready to sign. Cheap to share (`Send + Sync`);
/// the key and the issuer name are parsed once, at construction.
pub struct Ca {
    signer: Arc<dyn CaSigner>,
    issuer: Issuer<'static, RcgenSigner>,
    key_id: KeyIdMethod,
    cert_der: Vec<u8>,
    subject_der: Vec<u8>,
    subject: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// End-entity certificates signed by this value (for a metric; per process).
    issued: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("subject", &self.subject)
            .field("algorithm", &self.signer.algorithm())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// Loads `ca-key.pem` (PKCS#8) and `ca-cert.pem` from `dir`, creating
    /// whichever is missing. Returns `true` when this call published a new
    /// CA certificate.
    ///
    /// Safe against concurrent starts: files are published with
    /// create-exclusive semantics (see `storage`), and whoever loses a race
    /// loads the winner's file. The key file is created with mode 0600 and
    /// refused if group or others can access it.
    pub fn load_or_create(
        dir: &Path,
        params: &CaParams,
        now: OffsetDateTime,
    ) -> Result<(Ca, bool), CaError> {
        Ca::load_or_create_file_key(dir, params, now, None)
    }

    /// [`Ca::load_or_create`] with the key file encrypted under `passphrase` (a new key
    /// is written encrypted; an existing one must be).
    pub fn load_or_create_file_key(
        dir: &Path,
        params: &CaParams,
        now: OffsetDateTime,
        passphrase: Option<&Passphrase>,
    ) -> Result<(Ca, bool), CaError> {
        std::fs::create_dir_all(dir).map_err(|e| CaError::io("creating", dir, e))?;
        let key_path = dir.join(CA_KEY_FILE);
        if storage::read_optional(&key_path)?.is_none() {
            let fresh = FileKeySigner::generate(params.key_type)?;
            let pem = match passphrase {
                Some(passphrase) => Zeroizing::new(fresh.to_encrypted_pkcs8_pem(passphrase)?),
                None => fresh.to_pkcs8_pem()?,
            };
            storage::publish_exclusive(dir, CA_KEY_FILE, pem.as_bytes(), 0o600)?;
        }
        storage::check_private_mode(&key_path)?;
        // Whoever won, the file on disk is now the key.
        let key_pem = storage::read_optional(&key_path)?.ok_or(CaError::InvalidPrivateKey {
            reason: "key file vanished",
        })?;
        let signer: Arc<dyn CaSigner> = Arc::new(FileKeySigner::from_pem(&key_pem, passphrase)?);
        Ca::load_or_create_certificate(dir, signer, params, now)
    }

    /// Loads `ca-cert.pem` from `dir` for `signer`'s key (a file key or a key in a
    /// token), creating a self-signed one if it is missing (then `true`). Fails if the
    /// certificate is not for this key.
    pub fn load_or_create_certificate(
        dir: &Path,
        signer: Arc<dyn CaSigner>,
        params: &CaParams,
        now: OffsetDateTime,
    ) -> Result<(Ca, bool), CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        if storage::read_optional(&cert_path)?.is_none() {
            let ca = Ca::create_self_signed(Arc::clone(&signer), params, now)?;
            if storage::publish_exclusive(
                dir,
                CA_CERT_FILE,
                ca.certificate_pem().as_bytes(),
                // Public, but the data directory keeps every file private.
                0o600,
            )? {
                return Ok((ca, true));
            }
        }
        let cert_pem = storage::read_optional(&cert_path)?.ok_or(CaError::InvalidCertificate {
            reason: "certificate file vanished",
        })?;
        Ok((
            Ca::from_signer(signer, first_certificate(&cert_pem)?)?,
            false,
        ))
    }

    /// A CA from a PKCS#8 private key PEM and its certificate PEM.
    pub fn from_pem(key_pkcs8_pem: &str, cert_pem: &str) -> Result<Ca, CaError> {
        Ca::from_key_file_pem(key_pkcs8_pem, None, cert_pem)
    }

    /// A CA from a key file's PEM (encrypted under `passphrase`, or not) and its
    /// certificate PEM.
    pub fn from_key_file_pem(
        key_pem: &str,
        passphrase: Option<&Passphrase>,
        cert_pem: &str,
    ) -> Result<Ca, CaError> {
        let signer = FileKeySigner::from_pem(key_pem, passphrase)?;
        Ca::from_signer(Arc::new(signer), first_certificate(cert_pem)?)
    }

    /// A CA from any signer (file key, HSM) and its DER certificate. Fails
    /// if the certificate is not a CA certificate for this signer's key.
    pub fn from_signer(signer: Arc<dyn CaSigner>, cert_der: Vec<u8>) -> Result<Ca, CaError> {
        let rcgen_signer = RcgenSigner(Arc::clone(&signer));
        let cert = parse_x509(&cert_der)?;
        if cert.public_key().raw != rcgen_signer.subject_public_key_info().as_slice() {
            return Err(CaError::KeyMismatch);
        }
        let is_ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca);
        if !is_ca {
            return Err(CaError::InvalidCertificate {
                reason: "not a CA certificate",
            });
        }
        let ski = cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            });
        // Our AKI must equal the CA's SKI whatever method produced it.
        let key_id = ski.map_or(KeyIdMethod::Sha256, KeyIdMethod::PreSpecified);
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen_name(cert.subject())?;
        params.key_identifier_method = key_id.clone();
        params.key_usages = key_usages_of(&cert);
        let issuer = Issuer::new(params, rcgen_signer);

        let subject = x509_name_to_rfc4514(cert.subject())?;
        let subject_der = cert.subject().as_raw().to_vec();
        let not_before = cert.validity().not_before.to_datetime();
        let not_after = cert.validity().not_after.to_datetime();
        drop(cert);
        Ok(Ca {
            signer,
            issuer,
            key_id,
            cert_der,
            subject_der,
            subject,
            not_before,
            not_after,
            issued: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// A new self-signed CA certificate for `signer`'s key: basicConstraints
    /// CA:TRUE pathlen 0 (critical), keyUsage keyCertSign + cRLSign
    /// (critical), subjectKeyIdentifier, random serial.
    pub fn create_self_signed(
        signer: Arc<dyn CaSigner>,
        params: &CaParams,
        now: OffsetDateTime,
    ) -> Result<Ca, CaError> {
        let mut name = DistinguishedName::new();
        if let Some(org) = &params.organization {
            name.push(DnAttribute::Organization, org.clone())?;
        }
        name.push(DnAttribute::CommonName, params.common_name.clone())?;

        let mut cert_params = CertificateParams::default();
        cert_params.distinguished_name = name.to_rcgen()?;
        cert_params.serial_number = Some(SerialNumber::from_slice(Serial::random()?.magnitude()));
        cert_params.not_before = truncate_to_second(now - CLOCK_SKEW);
        cert_params.not_after = truncate_to_second(
            now.checked_add(params.validity)
                .ok_or(CaError::InvalidValidity)?,
        );
        if cert_params.not_after <= cert_params.not_before {
            return Err(CaError::InvalidValidity);
        }
        cert_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        cert_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = cert_params.self_signed(&RcgenSigner(Arc::clone(&signer)))?;
        Ca::from_signer(signer, cert.der().to_vec())
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn certificate_pem(&self) -> String {
        crate::pem::encode(crate::pem::Label::Certificate, &self.cert_der)
    }

    /// Subject (= issuer of everything we sign), RFC 4514.
    pub fn subject(&self) -> String {
        self.subject.clone()
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// How many end-entity certificates [`Ca::issue`] signed since this value was made
    /// (the process start, for a server).
    pub fn issued_count(&self) -> u64 {
        self.issued.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn signature_algorithm(&self) -> CaSignatureAlgorithm {
        self.signer.algorithm()
    }

    /// Signs an end-entity certificate for a client's RSA public key. The
    /// caller must have persisted `serial` before calling.
    pub fn issue(
        &self,
        req: &IssueRequest,
        serial: &Serial,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let key = ForeignRsaKey::new(&req.public_key)?;
        let (not_before, not_after) = validity_window(req, now, self.not_before, self.not_after)?;
        let params = end_entity_params(req, serial, not_before, not_after)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        self.issued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(IssuedCertificate {
            der: cert.der().to_vec(),
            serial: *serial,
            not_before,
            not_after,
            subject: req.subject.to_rfc4514(),
        })
    }

    /// Parses a certificate and checks that this CA signed it (issuer name
    /// and signature; not validity or revocation).
    pub fn verify_issued(&self, der: &[u8]) -> Result<CertificateInfo, CaError> {
        use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
        let cert = parse_x509(der)?;
        let not_ours = CaError::InvalidCertificate {
            reason: "not issued by this CA",
        };
        if cert.issuer().as_raw() != self.subject_der.as_slice() {
            return Err(not_ours);
        }
        let (oid, alg): (&str, &'static dyn VerificationAlgorithm) = match self.signer.algorithm() {
            CaSignatureAlgorithm::RsaPkcs1Sha256 => (
                "1.2.840.113549.1.1.11",
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
            CaSignatureAlgorithm::EcdsaP256Sha256 => {
                ("1.2.840.10045.4.3.2", &signature::ECDSA_P256_SHA256_ASN1)
            }
            CaSignatureAlgorithm::EcdsaP384Sha384 => {
                ("1.2.840.10045.4.3.3", &signature::ECDSA_P384_SHA384_ASN1)
            }
        };
        if cert.signature_algorithm.algorithm.to_id_string() != oid {
            return Err(not_ours);
        }
        UnparsedPublicKey::new(alg, self.signer.public_key_bits())
            .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
            .map_err(|_| not_ours)?;
        drop(cert);
        parse_certificate(der)
    }

    /// A DER CRL (v2, authorityKeyIdentifier, cRLNumber) listing `revoked`.
    pub fn crl(
        &self,
        revoked: &[RevokedEntry],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        crl_number: u64,
    ) -> Result<Vec<u8>, CaError> {
        let this_update = truncate_to_second(this_update);
        let next_update = truncate_to_second(next_update);
        if next_update <= this_update {
            return Err(CaError::InvalidValidity);
        }
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(crl_number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(r.serial.magnitude()),
                    revocation_time: truncate_to_second(r.revocation_time),
                    reason_code: r.reason.map(RevocationReason::rcgen),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: self.key_id.clone(),
        };
        Ok(params.signed_by(&self.issuer)?.der().to_vec())
    }
}

/// The first CERTIFICATE block of a PEM text.
fn first_certificate(pem: &str) -> Result<Vec<u8>, CaError> {
    let no_block = CaError::InvalidCertificate {
        reason: "no CERTIFICATE PEM block that decodes",
    };
    crate::pem::decode_first(pem.as_bytes(), &[crate::pem::Label::Certificate])
        .ok()
        .flatten()
        .map(|mut der| std::mem::take(&mut *der))
        .ok_or(no_block)
}

/// The CA certificate's keyUsage as rcgen wants it for the issuer (rcgen
/// refuses CRL signing if keyUsage is present without cRLSign).
fn key_usages_of(cert: &X509Certificate<'_>) -> Vec<KeyUsagePurpose> {
    let Ok(Some(ku)) = cert.key_usage() else {
        return Vec::new();
    };
    let ku = ku.value;
    let mut out = Vec::new();
    for (set, purpose) in [
        (ku.digital_signature(), KeyUsagePurpose::DigitalSignature),
        (ku.key_cert_sign(), KeyUsagePurpose::KeyCertSign),
        (ku.crl_sign(), KeyUsagePurpose::CrlSign),
    ] {
        if set {
            out.push(purpose);
        }
    }
    out
}

/// The CA subject as rcgen will write it into the issuer field of what we
/// sign: same attribute types, order and string types, so the bytes match
/// the CA certificate's subject exactly.
fn rcgen_name(name: &X509Name<'_>) -> Result<rcgen::DistinguishedName, CaError> {
    use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
    let unsupported = CaError::InvalidCertificate {
        reason: "CA subject name not supported",
    };
    let mut dn = rcgen::DistinguishedName::new();
    let mut seen = Vec::new();
    for rdn in name.iter() {
        let mut atvs = rdn.iter();
        let (Some(atv), None) = (atvs.next(), atvs.next()) else {
            return Err(unsupported);
        };
        let arcs: Vec<u64> =
            atv.attr_type()
                .iter()
                .map(|it| it.collect())
                .ok_or(CaError::InvalidCertificate {
                    reason: "CA subject name not supported",
                })?;
        let ty = DnType::from_oid(&arcs);
        if seen.contains(&ty) {
            return Err(unsupported);
        }
        seen.push(ty.clone());
        let data = atv.attr_value().data;
        let text = || {
            std::str::from_utf8(data).map_err(|_| CaError::InvalidCertificate {
                reason: "CA subject name not supported",
            })
        };
        let bad = |_| CaError::InvalidCertificate {
            reason: "CA subject name not supported",
        };
        let value = match atv.attr_value().header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text()?.to_owned()),
            Tag::PrintableString => {
                DnValue::PrintableString(PrintableString::try_from(text()?).map_err(bad)?)
            }
            Tag::Ia5String => DnValue::Ia5String(Ia5String::try_from(text()?).map_err(bad)?),
            Tag::T61String => {
                DnValue::TeletexString(TeletexString::try_from(text()?).map_err(bad)?)
            }
            Tag::BmpString => {
                DnValue::BmpString(BmpString::from_utf16be(data.to_vec()).map_err(bad)?)
            }
            Tag::UniversalString => {
                DnValue::UniversalString(UniversalString::from_utf32be(data.to_vec()).map_err(bad)?)
            }
            _ => return Err(unsupported),
        };
        dn.push(ty, value);
    }
    Ok(dn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn ca_is_shareable() {
        assert_send_sync::<Ca>();
    }

    #[test]
    fn self_signed_ca_round_trips_through_pem() {
        let now = datetime!(2030-01-01 0:00 UTC);
        let signer = Arc::new(FileKeySigner::generate(CaKeyType::EcdsaP256).unwrap());
        let key_pem = signer.to_pkcs8_pem().unwrap();
        let params = CaParams {
            organization: Some("Example".into()),
            ..Default::default()
        };
        let ca = Ca::create_self_signed(signer, &params, now).unwrap();
        assert_eq!(ca.subject(), "CN=XKMS Demo CA,O=Example");
        assert_eq!(ca.not_after(), now + Duration::days(3653));
        assert_eq!(ca.not_before(), now - CLOCK_SKEW);
        let again = Ca::from_pem(&key_pem, &ca.certificate_pem()).unwrap();
        assert_eq!(again.certificate_der(), ca.certificate_der());
        assert_eq!(again.subject_der, ca.subject_der);

        let other = FileKeySigner::generate(CaKeyType::EcdsaP256).unwrap();
        assert!(matches!(
            Ca::from_pem(&other.to_pkcs8_pem().unwrap(), &ca.certificate_pem()),
            Err(CaError::KeyMismatch)
        ));
    }
}
