//! Validate (X-KISS, digest §4.2): the service asserts the status of the binding between
//! a key and the names and uses in the query, from an X.509 path to a trust anchor.
//!
//! The subject is the certificate the QueryKeyBinding carries (the first non-CA one;
//! the others help build the path), or else the stored bindings its KeyName / KeyValue /
//! UseKeyWith / X509 elements name, each with its certificate at the evaluation instant.
//! Anchors are the built-in CA and `[trust] anchors`; intermediates come from
//! `[trust] intermediates` and the request.
//!
//! Each of the four REC reasons gets a verdict, reported in schema order (Valid, then
//! Indeterminate, then Invalid reasons; within each IssuerTrust, RevocationStatus,
//! ValidityInterval, Signature):
//! - **IssuerTrust**: Valid when a path reaches an anchor; *Invalid* when none does
//!   (unknown issuer: this service's trust policy is authoritative, so "not trusted" is
//!   a decision, not an uncertainty); Indeterminate when an issuer was found but its
//!   signature did not verify (whether the real signer is trusted cannot be known).
//! - **Signature**: Valid when every signature on the path verifies; Invalid when one
//!   does not; Indeterminate when there is no issuer to check it with.
//! - **ValidityInterval**: every certificate on the path must cover the instant.
//! - **RevocationStatus**: our certificates from the store (`revoked_at` ≤ instant →
//!   Invalid); external ones from a configured CRL verified against the issuer (listed
//!   with a revocation date ≤ instant → Invalid; not listed and the CRL is current or
//!   newer than the instant → Valid); no CRL, or no path → Indeterminate.
//!
//! The StatusValue is Invalid if any reason is Invalid, else Indeterminate if any is,
//! else Valid. A certificate that is sound but does not fit the query — a requested
//! KeyUsage its keyUsage bits forbid, a UseKeyWith name or KeyName it does not carry, a
//! KeyValue that is not its key — is **Invalid with no additional reason**: the four REC
//! reasons qualify the binding information (issuer, revocation, validity, signature) and
//! none describes a mismatch with the query; the reasons still tell the relying party
//! the certificate itself is sound. Several UseKeyWith in a Validate query must ALL fit.
//!
//! TimeInstant: evaluated at that instant. Our bindings keep revocation and certificate
//! history; CRLs carry revocation dates, so external revocation is answered for past
//! instants too (a CRL issued after the instant, or still current, is authoritative).
//! Instants more than [`crate::locate::FUTURE_TOLERANCE`] ahead of the clock (revocation cannot be
//! predicted) or before the built-in CA existed (no data) give
//! `Sender/TimeInstantOutOfRange`.

use crate::error::ServiceError;
use crate::identity::{
    key_fingerprint, normalize_email, normalize_identifier, stored_use_key_with,
};
use crate::locate::{KeyQuery, certificate_at, effective_limit, normalize_dn, usage_permitted};
use crate::respond::{BindingMaterial, ExtraMaterial, certificate_url, describe_with};
use crate::service::{RequestContext, XkmsService};
use crate::store::{BindingSelector, KeyBindingRecord};
use crate::trust::MAX_REQUEST_CERTIFICATES;
use time::OffsetDateTime;
use xkms_ca::{CertificateInfo, DistinguishedName, DnAttribute, RsaPublicKey, Serial};
use xkms_proto::{
    Application, KeyBinding, KeyBindingAbstract, KeyUsage, KeyValue, QueryKeyBinding, ResultMajor,
    ResultMinor, Status, UseKeyWith, ValidateRequest, ValidateResult,
};

/// Operator-configured trust: anchors and intermediates besides the built-in CA.
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    /// Additional trust anchors (DER certificates).
    pub anchors: Vec<Vec<u8>>,
    /// Intermediate certificates available for path building (DER).
    pub intermediates: Vec<Vec<u8>>,
    /// CRLs of external CAs (DER).
    pub crls: Vec<Vec<u8>>,
}

impl XkmsService {
    /// Handles a ValidateRequest.
    pub async fn validate(
        &self,
        _ctx: &RequestContext<'_>,
        req: &ValidateRequest,
    ) -> Result<ValidateResult, ServiceError> {
        let qkb = &req.query_key_binding;
        let now = self.clock.now();
        crate::locate::check_time_instant(qkb.time_instant, now, self.ca.not_before())?;
        let at = qkb.time_instant.unwrap_or(now);
        let presented: Vec<Vec<u8>> = qkb
            .core
            .key_info
            .iter()
            .flat_map(|ki| ki.x509_data.iter())
            .flat_map(|d| d.certificates.iter().cloned())
            .collect();
        if presented.len() > MAX_REQUEST_CERTIFICATES {
            return Err(ServiceError::Refused("too many certificates in the query"));
        }
        let (subjects, extra, truncated) = if presented.is_empty() {
            let (subjects, truncated) = self.stored_subjects(req, at).await?;
            (subjects, Vec::new(), truncated)
        } else {
            let (subject, extra) = self.presented_subject(presented).await?;
            (vec![subject], extra, false)
        };
        if subjects.is_empty() {
            let (major, minor) = if truncated {
                (ResultMajor::Receiver, ResultMinor::TooManyResponses)
            } else {
                (ResultMajor::Success, ResultMinor::NoMatch)
            };
            return Ok(ValidateResult {
                result: self.result_for(&req.request, major, Some(minor)),
                key_bindings: Vec::new(),
            });
        }
        let trust = self.trust_context(&extra);
        let own_crl = self.crl_if_requested(&req.request.respond_with).await;
        let mut incomplete = false;
        let mut key_bindings = Vec::with_capacity(subjects.len());
        for subject in &subjects {
            let (binding, partial) = self
                .evaluate_subject(req, &trust, subject, at, now, own_crl.as_deref())
                .await?;
            incomplete |= partial;
            key_bindings.push(binding);
        }
        let minor = if truncated {
            Some(ResultMinor::TooManyResponses)
        } else {
            incomplete.then_some(ResultMinor::Incomplete)
        };
        Ok(ValidateResult {
            result: self.result_for(&req.request, ResultMajor::Success, minor),
            key_bindings,
        })
    }

    /// The stored bindings a query without certificates names, with their certificate at
    /// `at`. KeyUsage does not select here: a binding whose usage does not fit is
    /// answered Invalid rather than left out.
    async fn stored_subjects(
        &self,
        req: &ValidateRequest,
        at: OffsetDateTime,
    ) -> Result<(Vec<Subject>, bool), ServiceError> {
        let qkb = &req.query_key_binding;
        let mut query = KeyQuery::from_query(qkb, &self.ca.subject())?;
        query.key_usage.clear();
        if !query.impossible && query.selector().is_none() {
            return Err(ServiceError::Refused(
                "a query must name a key, a certificate or an identity",
            ));
        }
        let found = self
            .find_matching(&query, effective_limit(req.request.response_limit))
            .await?;
        let subjects = found
            .matches
            .into_iter()
            .map(|(binding, certificates)| Subject {
                certificate: certificate_at(&certificates, Some(at)).map(|c| c.der.clone()),
                binding: Some(binding),
            })
            .collect();
        Ok((subjects, found.truncated))
    }

    /// The end-entity certificate of the query (and its stored binding when we issued
    /// it), plus the other certificates for path building.
    async fn presented_subject(
        &self,
        mut presented: Vec<Vec<u8>>,
    ) -> Result<(Subject, Vec<Vec<u8>>), ServiceError> {
        let mut index = 0;
        let mut target_info = None;
        for (i, der) in presented.iter().enumerate() {
            let info = xkms_ca::parse_certificate(der)
                .map_err(|_| ServiceError::InvalidRequest("an X509Certificate does not parse"))?;
            if !info.is_ca {
                index = i;
                target_info = Some(info);
                break;
            }
        }
        let target = presented.swap_remove(index);
        // Our binding is looked up by serial when our CA's name issued it; the path
        // check below verifies the signature (a forgery naming our CA is Invalid there),
        // so no second signature check here.
        let ours = target_info.filter(|info| info.issuer == self.ca.subject());
        let binding = match ours.and_then(|i| i.serial) {
            Some(serial) => self
                .store
                .find_bindings(&BindingSelector::CertificateSerial(serial), 1)
                .await?
                .into_iter()
                .next(),
            None => None,
        };
        Ok((
            Subject {
                certificate: Some(target),
                binding,
            },
            presented,
        ))
    }

    /// One KeyBinding for `subject`, and whether RespondWith was only partly honoured.
    async fn evaluate_subject(
        &self,
        req: &ValidateRequest,
        trust: &TrustContext,
        subject: &Subject,
        at: OffsetDateTime,
        now: OffsetDateTime,
        own_crl: Option<&[u8]>,
    ) -> Result<(KeyBinding, bool), ServiceError> {
        let qkb = &req.query_key_binding;
        let binding = subject.binding.as_ref();
        let cert = subject.certificate.as_deref().and_then(Cert::parse);
        let Some(cert) = cert else {
            // A stored binding without a readable certificate: nothing to assert.
            let status = Verdicts::all(Verdict::Indeterminate).status(true);
            let kb = self.key_binding(req, binding, None, status, None);
            return Ok((kb, true));
        };
        let evaluation = trust.evaluate(&cert, at, now);
        let revocation = match &evaluation.revocation {
            RevocationSource::Decided(v) => *v,
            RevocationSource::OwnCa { serial } => self.own_revocation(*serial, at).await?,
        };
        let verdicts = Verdicts {
            revocation_status: revocation,
            ..evaluation.verdicts
        };
        let fits = fits_query(&cert.info, binding, qkb);
        let status = verdicts.status(fits);
        let chain: Vec<Vec<u8>> = match &evaluation.path {
            Some(path) => path.iter().skip(1).cloned().collect(),
            None => Vec::new(),
        };
        // X509CRL: ours for our certificates, else a configured CRL of the issuer.
        let ours =
            binding.is_some() || matches!(evaluation.revocation, RevocationSource::OwnCa { .. });
        let crl = if ours {
            own_crl
        } else {
            trust.crl_of_issuer(&cert)
        };
        let (kb, incomplete) = self.key_binding_described(req, binding, &cert, &chain, status, crl);
        Ok((kb, incomplete))
    }

    fn key_binding_described(
        &self,
        req: &ValidateRequest,
        binding: Option<&KeyBindingRecord>,
        cert: &Cert,
        chain: &[Vec<u8>],
        status: Status,
        crl: Option<&[u8]>,
    ) -> (KeyBinding, bool) {
        let key = cert.info.rsa_public_key.clone().unwrap_or_default();
        let url = binding
            .and(cert.info.serial)
            .map(|s| certificate_url(&self.config.service_uri, &s.to_hex()));
        let described = describe_with(
            &req.request.respond_with,
            &BindingMaterial {
                key_name: binding.and_then(|b| b.key_name.as_deref()),
                modulus: &key.modulus,
                exponent: &key.exponent,
                certificate: Some(&cert.der),
                chain,
            },
            &ExtraMaterial {
                crl,
                certificate_url: url.as_deref(),
            },
            false,
        );
        let kb = self.key_binding(req, binding, Some(&cert.info), status, described.key_info);
        (kb, described.incomplete)
    }

    fn key_binding(
        &self,
        req: &ValidateRequest,
        binding: Option<&KeyBindingRecord>,
        info: Option<&CertificateInfo>,
        status: Status,
        key_info: Option<xkms_proto::KeyInfo>,
    ) -> KeyBinding {
        let qkb = &req.query_key_binding;
        let key_usage = if !qkb.core.key_usage.is_empty() {
            qkb.core.key_usage.clone()
        } else if let Some(b) = binding {
            b.key_usage.clone()
        } else {
            info.map(usages_of_certificate).unwrap_or_default()
        };
        let use_key_with = if !qkb.core.use_key_with.is_empty() {
            qkb.core.use_key_with.clone()
        } else if let Some(b) = binding {
            b.use_key_with_elements()
        } else {
            info.map(names_of_certificate).unwrap_or_default()
        };
        KeyBinding {
            core: KeyBindingAbstract {
                id: Some(
                    binding
                        .map(|b| b.id.clone())
                        .unwrap_or_else(|| self.ids.message_id()),
                ),
                key_info,
                key_usage,
                use_key_with,
            },
            validity_interval: info
                .map(|i| crate::respond::validity_interval(i.not_before, i.not_after)),
            status,
        }
    }

    /// Revocation of a certificate our CA issued, from the store, at `at`.
    async fn own_revocation(
        &self,
        serial: Option<Serial>,
        at: OffsetDateTime,
    ) -> Result<Verdict, ServiceError> {
        let Some(serial) = serial else {
            return Ok(Verdict::Indeterminate);
        };
        let selector = BindingSelector::CertificateSerial(serial);
        let Some(binding) = self
            .store
            .find_bindings(&selector, 1)
            .await?
            .into_iter()
            .next()
        else {
            // Signed by our CA but unknown to our store: we cannot vouch for it.
            return Ok(Verdict::Indeterminate);
        };
        if binding.revoked_at.is_some_and(|r| r <= at)
            || (binding.revoked_at.is_none()
                && binding.status == crate::store::BindingStatus::Revoked)
        {
            return Ok(Verdict::Invalid);
        }
        let certificates = self.store.certificates_of(&binding.id).await?;
        let Some(record) = certificates.iter().find(|c| c.serial == serial) else {
            return Ok(Verdict::Indeterminate);
        };
        Ok(if record.revoked_at.is_some_and(|r| r <= at) {
            Verdict::Invalid
        } else {
            Verdict::Valid
        })
    }
}

/// What one KeyBinding of the result is about.
struct Subject {
    certificate: Option<Vec<u8>>,
    binding: Option<KeyBindingRecord>,
}

pub use crate::trust::{Cert, Evaluation, RevocationSource, TrustContext, Verdict, Verdicts};

/// Whether the certificate (and our stored binding, when there is one) fits every
/// KeyUsage, UseKeyWith, KeyName, KeyValue and X509 name element of the query.
pub fn fits_query(
    info: &CertificateInfo,
    binding: Option<&KeyBindingRecord>,
    qkb: &QueryKeyBinding,
) -> bool {
    let usage_ok = usage_fits(info, &qkb.core.key_usage)
        && binding.is_none_or(|b| usage_permitted(b, &qkb.core.key_usage));
    let names_ok = qkb
        .core
        .use_key_with
        .iter()
        .all(|u| use_key_with_fits(info, binding, u));
    let Some(ki) = &qkb.core.key_info else {
        return usage_ok && names_ok;
    };
    let key_names_ok = ki.key_names.iter().all(|n| key_name_fits(info, binding, n));
    let cert_fp = info.rsa_public_key.as_ref().map(key_fingerprint);
    let key_values_ok = ki.key_values.iter().all(|v| match v {
        KeyValue::Rsa(rsa) => {
            let fp = key_fingerprint(&RsaPublicKey {
                modulus: rsa.modulus.clone(),
                exponent: rsa.exponent.clone(),
            });
            cert_fp.as_ref() == Some(&fp)
        }
        KeyValue::Unsupported => false,
    });
    let subject = normalize_dn(&info.subject);
    let x509_ok =
        ki.x509_data.iter().all(|d| {
            d.subject_names.iter().all(|n| normalize_dn(n) == subject)
                && d.skis
                    .iter()
                    .all(|s| info.subject_key_identifier.as_ref() == Some(s))
                && d.issuer_serials.iter().all(|is| {
                    normalize_dn(&is.issuer_name) == normalize_dn(&info.issuer)
                        && is.serial_number.trim().parse::<u128>().is_ok_and(|n| {
                            format!("{n:X}") == info.serial_hex.trim_start_matches('0')
                        })
                })
        });
    usage_ok && names_ok && key_names_ok && key_values_ok && x509_ok
}

/// Requested usages against the keyUsage bits (no extension = unrestricted):
/// Signature → digitalSignature|nonRepudiation, Encryption → keyEncipherment|
/// dataEncipherment, Exchange → keyAgreement.
pub fn usage_fits(info: &CertificateInfo, wanted: &[KeyUsage]) -> bool {
    let Some(ku) = info.key_usage else {
        return true;
    };
    wanted.iter().all(|u| match u {
        KeyUsage::Signature => ku.digital_signature || ku.non_repudiation,
        KeyUsage::Encryption => ku.key_encipherment || ku.data_encipherment,
        KeyUsage::Exchange => ku.key_agreement,
    })
}

fn use_key_with_fits(
    info: &CertificateInfo,
    binding: Option<&KeyBindingRecord>,
    ukw: &UseKeyWith,
) -> bool {
    if let (Some(b), Some(stored)) = (binding, stored_use_key_with(ukw))
        && b.use_key_with.contains(&stored)
    {
        return true;
    }
    let Some(id) = normalize_identifier(&ukw.application, &ukw.identifier) else {
        return false;
    };
    match &ukw.application {
        Application::Smime | Application::Pgp => email_addresses_of(info).contains(&id),
        Application::TlsHttps | Application::TlsSmtp => {
            info.dns_names.iter().any(|d| dns_matches(d, &id))
        }
        Application::Pkix => normalize_dn(&info.subject) == id,
        Application::Tls => info.uris.contains(&id),
        Application::Ipsec => id
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| info.ip_addresses.contains(&ip)),
        // Nothing in a certificate names an XKMS role or an unknown application.
        Application::Xkms | Application::XkmsProfile | Application::Other(_) => false,
    }
}

fn key_name_fits(info: &CertificateInfo, binding: Option<&KeyBindingRecord>, name: &str) -> bool {
    let name = name.trim();
    if binding.is_some_and(|b| b.key_name.as_deref() == Some(name)) {
        return true;
    }
    let lower = name.to_lowercase();
    email_addresses_of(info).contains(&lower)
        || info.dns_names.iter().any(|d| d.eq_ignore_ascii_case(name))
        || common_name_of(info).is_some_and(|cn| cn == name)
        || normalize_dn(&info.subject) == normalize_dn(name)
}

/// SAN rfc822Names and the subject's emailAddress, lower-case.
fn email_addresses_of(info: &CertificateInfo) -> Vec<String> {
    let mut out: Vec<String> = info
        .email_addresses
        .iter()
        .map(|e| normalize_email(e))
        .collect();
    if let Ok(dn) = DistinguishedName::parse(&info.subject)
        && let Some(e) = dn.get(DnAttribute::EmailAddress)
    {
        out.push(normalize_email(e));
    }
    out
}

fn common_name_of(info: &CertificateInfo) -> Option<String> {
    DistinguishedName::parse(&info.subject)
        .ok()?
        .get(DnAttribute::CommonName)
        .map(str::to_owned)
}

/// dNSName matching, case-insensitive; `*.example.com` covers exactly one label.
fn dns_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix);
    }
    pattern == name
}

/// XKMS usages a certificate's keyUsage bits grant (none without the extension).
pub(crate) fn usages_of_certificate(info: &CertificateInfo) -> Vec<KeyUsage> {
    let Some(ku) = info.key_usage else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if ku.digital_signature || ku.non_repudiation {
        out.push(KeyUsage::Signature);
    }
    if ku.key_encipherment || ku.data_encipherment {
        out.push(KeyUsage::Encryption);
    }
    if ku.key_agreement {
        out.push(KeyUsage::Exchange);
    }
    out
}

/// The names a certificate carries, as UseKeyWith: PKIX subject, S/MIME addresses,
/// HTTPS DNS names.
pub(crate) fn names_of_certificate(info: &CertificateInfo) -> Vec<UseKeyWith> {
    let mut out = vec![UseKeyWith {
        application: Application::Pkix,
        identifier: info.subject.clone(),
    }];
    out.extend(info.email_addresses.iter().map(|e| UseKeyWith {
        application: Application::Smime,
        identifier: e.clone(),
    }));
    out.extend(info.dns_names.iter().map(|d| UseKeyWith {
        application: Application::TlsHttps,
        identifier: d.clone(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
        KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber,
    };
    use time::Duration;
    use time::macros::datetime;
    use xkms_proto::{KeyBindingAbstract, KeyInfo, X509Data};
    use xkms_proto::{Reason, StatusValue};

    const T0: OffsetDateTime = datetime!(2030-06-01 0:00 UTC);

    struct Authority {
        params: CertificateParams,
        key: KeyPair,
        der: Vec<u8>,
    }

    impl Authority {
        fn issuer(&self) -> Issuer<'_, &KeyPair> {
            Issuer::from_params(&self.params, &self.key)
        }

        fn crl(&self, revoked: &[(u8, OffsetDateTime)], this: OffsetDateTime) -> Vec<u8> {
            CertificateRevocationListParams {
                this_update: this,
                next_update: this + Duration::days(7),
                crl_number: SerialNumber::from(1u64),
                issuing_distribution_point: None,
                revoked_certs: revoked
                    .iter()
                    .map(|(serial, at)| RevokedCertParams {
                        serial_number: SerialNumber::from_slice(&[*serial]),
                        revocation_time: *at,
                        reason_code: None,
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: KeyIdMethod::Sha256,
            }
            .signed_by(&self.issuer())
            .unwrap()
            .der()
            .to_vec()
        }
    }

    fn ca_params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = datetime!(2029-01-01 0:00 UTC);
        p.not_after = datetime!(2040-01-01 0:00 UTC);
        p
    }

    fn root(cn: &str) -> Authority {
        let params = ca_params(cn);
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Authority { params, key, der }
    }

    fn intermediate(cn: &str, parent: &Authority) -> Authority {
        let params = ca_params(cn);
        let key = KeyPair::generate().unwrap();
        let der = params
            .signed_by(&key, &parent.issuer())
            .unwrap()
            .der()
            .to_vec();
        Authority { params, key, der }
    }

    fn leaf_params(serial: u8, from: OffsetDateTime, to: OffsetDateTime) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "Alice");
        p.distinguished_name
            .push(DnType::OrganizationName, "Example");
        p.subject_alt_names = vec![
            SanType::Rfc822Name("alice@example.com".try_into().unwrap()),
            SanType::DnsName("*.example.com".try_into().unwrap()),
        ];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.serial_number = Some(SerialNumber::from_slice(&[serial]));
        p.not_before = from;
        p.not_after = to;
        p
    }

    fn leaf(serial: u8, parent: &Authority, from: OffsetDateTime, to: OffsetDateTime) -> Cert {
        let key = KeyPair::generate().unwrap();
        let der = leaf_params(serial, from, to)
            .signed_by(&key, &parent.issuer())
            .unwrap();
        Cert::parse(der.der()).unwrap()
    }

    fn current_leaf(serial: u8, parent: &Authority) -> Cert {
        leaf(
            serial,
            parent,
            datetime!(2030-01-01 0:00 UTC),
            datetime!(2031-01-01 0:00 UTC),
        )
    }

    /// An external root (configured anchor) and intermediate, plus an unrelated CA
    /// standing in for our built-in one.
    fn external() -> (Authority, Authority, Authority) {
        let root = root("External Root");
        let inter = intermediate("External Issuing CA", &root);
        (root, inter, self::root("Own CA"))
    }

    fn context(own: &Authority, trust: TrustConfig, extra: &[Vec<u8>]) -> TrustContext {
        TrustContext::new(&own.der, &trust, extra)
    }

    fn reasons(status: &Status) -> (Vec<Reason>, Vec<Reason>, Vec<Reason>) {
        (
            status.valid_reasons.clone(),
            status.indeterminate_reasons.clone(),
            status.invalid_reasons.clone(),
        )
    }

    use Reason::{IssuerTrust, RevocationStatus, Signature, ValidityInterval};

    #[test]
    fn chain_through_configured_intermediate() {
        let (root, inter, own) = external();
        let trust = TrustConfig {
            anchors: vec![root.der.clone()],
            intermediates: vec![inter.der.clone()],
            crls: vec![],
        };
        let ctx = context(&own, trust, &[]);
        let ev = ctx.evaluate(&current_leaf(5, &inter), T0, T0);
        assert_eq!(ev.path.as_ref().unwrap().len(), 3);
        assert_eq!(ev.path.as_ref().unwrap()[2], root.der);
        let status = ev.verdicts.status(true);
        // No CRL for an external CA: revocation cannot be decided.
        assert_eq!(status.status_value, StatusValue::Indeterminate);
        assert_eq!(
            reasons(&status),
            (
                vec![IssuerTrust, ValidityInterval, Signature],
                vec![RevocationStatus],
                vec![]
            )
        );
    }

    #[test]
    fn crls_decide_revocation_at_the_instant() {
        let (root, inter, own) = external();
        let revoked_at = datetime!(2030-05-01 0:00 UTC);
        let trust = |leaf_crl: Vec<u8>| TrustConfig {
            anchors: vec![root.der.clone()],
            intermediates: vec![inter.der.clone()],
            crls: vec![root.crl(&[], T0), leaf_crl],
        };
        let target = current_leaf(5, &inter);

        // Not listed on current CRLs: all four ValidReasons.
        let ctx = context(&own, trust(inter.crl(&[(9, revoked_at)], T0)), &[]);
        let status = ctx.evaluate(&target, T0, T0).verdicts.status(true);
        assert_eq!(status.status_value, StatusValue::Valid);
        assert_eq!(
            status.valid_reasons,
            vec![IssuerTrust, RevocationStatus, ValidityInterval, Signature]
        );

        // Listed: Invalid after the revocation date, Valid before it.
        let ctx = context(&own, trust(inter.crl(&[(5, revoked_at)], T0)), &[]);
        let after = ctx.evaluate(&target, T0, T0).verdicts.status(true);
        assert_eq!(after.status_value, StatusValue::Invalid);
        assert_eq!(after.invalid_reasons, vec![RevocationStatus]);
        let before = ctx
            .evaluate(&target, revoked_at - Duration::days(1), T0)
            .verdicts
            .status(true);
        assert_eq!(before.status_value, StatusValue::Valid);

        // A stale CRL does not prove a recent instant; a CRL signed by someone else is
        // ignored.
        let stale = context(&own, trust(inter.crl(&[], T0 - Duration::days(30))), &[]);
        assert_eq!(
            stale.evaluate(&target, T0, T0).verdicts.revocation_status,
            Verdict::Indeterminate
        );
        let forged = context(&own, trust(root.crl(&[], T0)), &[]);
        assert_eq!(
            forged.evaluate(&target, T0, T0).verdicts.revocation_status,
            Verdict::Indeterminate
        );
    }

    #[test]
    fn unknown_issuer_until_the_request_supplies_the_intermediate() {
        let (anchor, inter, own) = external();
        let trust = TrustConfig {
            anchors: vec![anchor.der.clone()],
            ..Default::default()
        };
        let target = current_leaf(5, &inter);
        let ev = context(&own, trust.clone(), &[]).evaluate(&target, T0, T0);
        assert!(ev.path.is_none());
        let status = ev.verdicts.status(true);
        assert_eq!(status.status_value, StatusValue::Invalid);
        assert_eq!(
            reasons(&status),
            (
                vec![ValidityInterval],
                vec![RevocationStatus, Signature],
                vec![IssuerTrust]
            )
        );
        let ev = context(&own, trust, std::slice::from_ref(&inter.der)).evaluate(&target, T0, T0);
        assert_eq!(ev.path.unwrap().len(), 3);

        // A self-signed certificate nobody configured.
        let stranger = root("Stranger");
        let cert = Cert::parse(&stranger.der).unwrap();
        let ev = context(&own, TrustConfig::default(), &[]).evaluate(&cert, T0, T0);
        assert_eq!(ev.verdicts.issuer_trust, Verdict::Invalid);
    }

    #[test]
    fn expired_and_not_yet_valid_are_invalid_validity_interval() {
        let (root, inter, own) = external();
        let trust = TrustConfig {
            anchors: vec![root.der.clone()],
            intermediates: vec![inter.der.clone()],
            crls: vec![root.crl(&[], T0), inter.crl(&[], T0)],
        };
        let ctx = context(&own, trust, &[]);
        let expired = leaf(
            6,
            &inter,
            datetime!(2029-06-01 0:00 UTC),
            datetime!(2030-01-01 0:00 UTC),
        );
        let future = leaf(
            7,
            &inter,
            datetime!(2031-01-01 0:00 UTC),
            datetime!(2032-01-01 0:00 UTC),
        );
        for cert in [&expired, &future] {
            let status = ctx.evaluate(cert, T0, T0).verdicts.status(true);
            assert_eq!(status.status_value, StatusValue::Invalid);
            assert_eq!(
                reasons(&status),
                (
                    vec![IssuerTrust, RevocationStatus, Signature],
                    vec![],
                    vec![ValidityInterval]
                )
            );
        }
        // The expired one was valid in 2029 (TimeInstant).
        let then = datetime!(2029-09-01 0:00 UTC);
        assert_eq!(
            ctx.evaluate(&expired, then, T0).verdicts.validity_interval,
            Verdict::Valid
        );
    }

    #[test]
    fn a_forged_signature_is_invalid_signature() {
        let (root, inter, own) = external();
        // Same issuer name, different key.
        let impostor = Authority {
            params: inter.params.clone(),
            key: KeyPair::generate().unwrap(),
            der: Vec::new(),
        };
        let forged = current_leaf(8, &impostor);
        let trust = TrustConfig {
            anchors: vec![root.der.clone()],
            intermediates: vec![inter.der.clone()],
            crls: vec![],
        };
        let status = context(&own, trust, &[])
            .evaluate(&forged, T0, T0)
            .verdicts
            .status(true);
        assert_eq!(status.status_value, StatusValue::Invalid);
        assert_eq!(status.invalid_reasons, vec![Signature]);
        assert_eq!(
            status.indeterminate_reasons,
            vec![IssuerTrust, RevocationStatus]
        );
    }

    #[test]
    fn reasons_are_in_schema_order_and_mismatch_is_invalid() {
        let v = Verdicts {
            issuer_trust: Verdict::Invalid,
            revocation_status: Verdict::Valid,
            validity_interval: Verdict::Indeterminate,
            signature: Verdict::Valid,
        };
        let s = v.status(true);
        assert_eq!(s.status_value, StatusValue::Invalid);
        assert_eq!(s.valid_reasons, vec![RevocationStatus, Signature]);
        assert_eq!(s.indeterminate_reasons, vec![ValidityInterval]);
        assert_eq!(s.invalid_reasons, vec![IssuerTrust]);
        let ok = Verdicts::all(Verdict::Valid);
        assert_eq!(ok.status(true).status_value, StatusValue::Valid);
        let mismatch = ok.status(false);
        assert_eq!(mismatch.status_value, StatusValue::Invalid);
        assert_eq!(mismatch.valid_reasons.len(), 4);
        assert!(mismatch.invalid_reasons.is_empty());
    }

    fn qkb(usage: Vec<KeyUsage>, ukw: Vec<UseKeyWith>, ki: Option<KeyInfo>) -> QueryKeyBinding {
        QueryKeyBinding {
            core: KeyBindingAbstract {
                id: None,
                key_info: ki,
                key_usage: usage,
                use_key_with: ukw,
            },
            time_instant: None,
        }
    }

    fn ukw(application: Application, id: &str) -> UseKeyWith {
        UseKeyWith {
            application,
            identifier: id.into(),
        }
    }

    #[test]
    fn usage_and_names_must_fit_the_certificate() {
        let (_, inter, _) = external();
        let cert = current_leaf(5, &inter);
        let info = &cert.info;
        assert!(fits_query(
            info,
            None,
            &qkb(vec![KeyUsage::Signature], vec![], None)
        ));
        assert!(!fits_query(
            info,
            None,
            &qkb(vec![KeyUsage::Encryption], vec![], None)
        ));
        assert!(!fits_query(
            info,
            None,
            &qkb(vec![KeyUsage::Exchange], vec![], None)
        ));
        let names = [
            (ukw(Application::Smime, "Alice@Example.com"), true),
            (ukw(Application::Pgp, "bob@example.com"), false),
            (ukw(Application::TlsHttps, "www.example.com"), true),
            (ukw(Application::TlsHttps, "a.b.example.com"), false),
            (ukw(Application::Pkix, "C=;O=Example;CN=Alice"), false),
            // The name is CN=Alice then O=Example in DER order: order matters.
            (ukw(Application::Pkix, "CN=Alice;O=Example"), true),
            (ukw(Application::Pkix, "O=Example, CN=Alice"), true),
            (ukw(Application::Pkix, "CN=Alice,O=Example"), false),
            (ukw(Application::Ipsec, "192.0.2.1"), false),
        ];
        for (u, expected) in names {
            assert_eq!(
                fits_query(info, None, &qkb(vec![], vec![u.clone()], None)),
                expected,
                "{u:?}"
            );
        }
        // Several UseKeyWith: all must fit.
        let both = vec![
            ukw(Application::Smime, "alice@example.com"),
            ukw(Application::Smime, "bob@example.com"),
        ];
        assert!(!fits_query(info, None, &qkb(vec![], both, None)));
        // KeyName matches an address or the CN; a foreign KeyValue does not fit.
        let ki = KeyInfo {
            key_names: vec!["alice@example.com".into(), "Alice".into()],
            ..Default::default()
        };
        assert!(fits_query(info, None, &qkb(vec![], vec![], Some(ki))));
        let ki = KeyInfo {
            key_values: vec![KeyValue::Rsa(xkms_proto::RsaKeyValue {
                modulus: vec![0xc1; 256],
                exponent: vec![1, 0, 1],
            })],
            x509_data: vec![X509Data::default()],
            ..Default::default()
        };
        assert!(!fits_query(info, None, &qkb(vec![], vec![], Some(ki))));
    }

    #[test]
    fn certificates_of_the_built_in_ca_go_to_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = xkms_ca::Ca::load_or_create(
            dir.path(),
            &xkms_ca::CaParams::default(),
            datetime!(2030-01-01 0:00 UTC),
        )
        .unwrap();
        let key =
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
        let public_key =
            RsaPublicKey::from_spki_der(&rcgen::PublicKeyData::subject_public_key_info(&key))
                .unwrap();
        let serial = xkms_ca::Serial::random().unwrap();
        let issued = ca
            .issue(
                &xkms_ca::IssueRequest {
                    subject: DistinguishedName::parse("C=US;O=Joe Corp;CN=Joe Doe").unwrap(),
                    public_key,
                    email_addresses: vec!["joe@example.com".into()],
                    key_usage: vec![xkms_ca::XkmsKeyUsage::Encryption],
                    ..Default::default()
                },
                &serial,
                datetime!(2030-01-01 0:00 UTC),
            )
            .unwrap();
        let ctx = TrustContext::new(ca.certificate_der(), &TrustConfig::default(), &[]);
        let cert = Cert::parse(&issued.der).unwrap();
        let ev = ctx.evaluate(&cert, T0, T0);
        assert_eq!(
            ev.revocation,
            RevocationSource::OwnCa {
                serial: Some(serial)
            }
        );
        assert_eq!(ev.verdicts.issuer_trust, Verdict::Valid);
        assert_eq!(ev.verdicts.signature, Verdict::Valid);
        assert_eq!(ev.verdicts.validity_interval, Verdict::Valid);
        assert_eq!(
            ctx.evaluate(&cert, datetime!(2032-01-01 0:00 UTC), T0)
                .verdicts
                .validity_interval,
            Verdict::Invalid
        );
        let q = qkb(
            vec![KeyUsage::Encryption],
            vec![
                ukw(Application::Smime, "JOE@example.com"),
                ukw(Application::Pkix, "CN=Joe Doe,O=Joe Corp,C=US"),
            ],
            None,
        );
        assert!(fits_query(&cert.info, None, &q));
        assert!(!fits_query(
            &cert.info,
            None,
            &qkb(vec![KeyUsage::Signature], vec![], None)
        ));
    }

    /// Sixteen look-alike CA certificates in a request (one name, one key, each naming
    /// itself as issuer): the request's path-building budget ends the search with
    /// Indeterminate, quickly, where an unbounded search would run ~16^6 verifications.
    #[test]
    fn look_alike_certificates_in_a_request_exhaust_the_budget_not_the_cpu() {
        let (_, _, own) = external();
        let twin_key = KeyPair::generate().unwrap();
        let twin_params = ca_params("Twin");
        let twin = Authority {
            params: twin_params.clone(),
            key: twin_key,
            der: Vec::new(),
        };
        let mut extra: Vec<Vec<u8>> = (0..15u8)
            .map(|i| {
                let mut params = twin_params.clone();
                params.serial_number = Some(SerialNumber::from_slice(&[i + 1]));
                params
                    .signed_by(&twin.key, &twin.issuer())
                    .unwrap()
                    .der()
                    .to_vec()
            })
            .collect();
        let target = current_leaf(99, &twin);
        extra.push(target.der.clone());
        let ctx = context(&own, TrustConfig::default(), &extra);
        let started = std::time::Instant::now();
        let ev = ctx.evaluate(&target, datetime!(2030-06-01 0:00 UTC), T0);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(ev.path.is_none());
        assert_eq!(ev.verdicts.issuer_trust, Verdict::Indeterminate);
        assert_eq!(ev.verdicts.signature, Verdict::Indeterminate);
        assert_eq!(
            ev.verdicts.status(true).status_value,
            StatusValue::Indeterminate
        );
    }
}
