//! Which names an authorization code grants, and the check that every name a binding or
//! certificate will carry is among them.
//!
//! A code is created for an identity (an e-mail address or a DN), which it always
//! grants, and may grant further names (`xkmsd admin authorize --dn DN --allow-name
//! TYPE:VALUE`). A request authenticated by the code may put into its binding and
//! certificate only granted names: every KeyName, every UseKeyWith identifier, the
//! certificate subject and every subjectAltName. Anything else is `Sender/Refused` before
//! anything is signed or stored — so a code for joe@example.com never yields a
//! certificate for `www.bank.example` or `alice@example.com`.

use crate::error::ServiceError;
use crate::identity::{is_email_identity, normalize_authorization_identity, normalize_email};
use crate::store::{Authorization, GrantedName, NameKind};
use xkms_ca::{DistinguishedName, DnAttribute, IssueRequest};
use xkms_proto::{Application, UseKeyWith};

/// The refusal every ungranted name gets (which name is logged, not returned).
const NOT_GRANTED: &str = "a requested name is not granted by the authorization";

/// Parses `TYPE:VALUE` (`email`, `dns`, `ip`, `uri`, `dn`, `keyname`) and normalises the
/// value as it will be compared.
pub fn parse_granted_name(spec: &str) -> Result<GrantedName, ServiceError> {
    let (kind, value) = spec.split_once(':').ok_or(ServiceError::InvalidRequest(
        "a granted name is TYPE:VALUE with TYPE email, dns, ip, uri, dn or keyname",
    ))?;
    let kind = NameKind::parse(&kind.trim().to_ascii_lowercase()).ok_or(
        ServiceError::InvalidRequest("name TYPE must be email, dns, ip, uri, dn or keyname"),
    )?;
    granted_name(kind, value)
}

/// A granted name of `kind`, normalised; refused when it is not a name of that kind.
pub fn granted_name(kind: NameKind, value: &str) -> Result<GrantedName, ServiceError> {
    let value = normalize(kind, value).ok_or(ServiceError::InvalidRequest(
        "a granted name is not a valid name of its type",
    ))?;
    Ok(GrantedName { kind, value })
}

/// The comparable form of `value` as a name of `kind`; `None` if it is not one.
pub fn normalize(kind: NameKind, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().any(char::is_control) {
        return None;
    }
    match kind {
        NameKind::Email => value.contains('@').then(|| normalize_email(value)),
        NameKind::Dns => {
            let dns = value.trim_end_matches('.').to_ascii_lowercase();
            (!dns.is_empty()).then_some(dns)
        }
        NameKind::Ip => value
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| ip.to_string()),
        NameKind::Uri => value.contains(':').then(|| value.to_owned()),
        NameKind::Dn => DistinguishedName::parse(value)
            .ok()
            .filter(|dn| !dn.is_empty())
            .map(|dn| dn.to_rfc4514()),
        NameKind::KeyName => Some(value.to_owned()),
    }
}

/// The names an authorization grants: its identity and its granted names.
#[derive(Debug, Clone, Copy)]
pub struct Grants<'a> {
    authorization: &'a Authorization,
}

impl<'a> Grants<'a> {
    pub fn of(authorization: &'a Authorization) -> Grants<'a> {
        Grants { authorization }
    }

    /// Whether the normalised `value` is granted as a name of `kind`.
    pub fn allows(&self, kind: NameKind, value: &str) -> bool {
        let identity = &self.authorization.identity;
        let is_identity = match kind {
            NameKind::Email => is_email_identity(identity) && identity == value,
            NameKind::Dn => !is_email_identity(identity) && identity == value,
            _ => false,
        };
        is_identity
            || self
                .authorization
                .granted_names
                .iter()
                .any(|g| g.kind == kind && g.value == value)
    }

    /// A KeyName is granted as a `keyname`, or when it names the identity or a granted
    /// e-mail address or DN.
    pub fn allows_key_name(&self, name: &str) -> bool {
        let Some(trimmed) = normalize(NameKind::KeyName, name) else {
            return false;
        };
        if self.allows(NameKind::KeyName, &trimmed) {
            return true;
        }
        match normalize_authorization_identity(&trimmed) {
            Some(id) if is_email_identity(&id) => self.allows(NameKind::Email, &id),
            Some(dn) => self.allows(NameKind::Dn, &dn),
            None => false,
        }
    }

    /// A subject is granted as a DN, or — the form the service derives when a request
    /// names no X.509 subject — when it is a single CN equal to a granted KeyName or
    /// e-mail address.
    pub fn allows_subject(&self, subject: &DistinguishedName) -> bool {
        if self.allows(NameKind::Dn, &subject.to_rfc4514()) {
            return true;
        }
        match subject.rdns() {
            [(DnAttribute::CommonName, cn)] => {
                self.allows_key_name(cn) || self.allows(NameKind::Email, &normalize_email(cn))
            }
            _ => false,
        }
    }

    /// An identifier for an application without a name type of its own is granted when
    /// it equals a granted name of any type.
    fn allows_any(&self, identifier: &str) -> bool {
        NameKind::ALL
            .into_iter()
            .any(|kind| normalize(kind, identifier).is_some_and(|value| self.allows(kind, &value)))
    }

    /// Whether the UseKeyWith pair's identifier is granted for its application.
    pub fn allows_use_key_with(&self, application: &Application, identifier: &str) -> bool {
        let kind = match application {
            Application::Smime | Application::Pgp => NameKind::Email,
            Application::TlsHttps | Application::TlsSmtp => NameKind::Dns,
            Application::Ipsec => NameKind::Ip,
            // A PKIX identifier is a certificate subject (and the service stores the
            // subject it derived as one).
            Application::Pkix => {
                return DistinguishedName::parse(identifier.trim())
                    .is_ok_and(|dn| !dn.is_empty() && self.allows_subject(&dn));
            }
            Application::Tls | Application::Xkms | Application::XkmsProfile => NameKind::Uri,
            Application::Other(_) => return self.allows_any(identifier),
        };
        normalize(kind, identifier).is_some_and(|value| self.allows(kind, &value))
    }

    /// Refuses (`Sender/Refused`) unless every KeyName and UseKeyWith identifier of a
    /// key binding, and the subject and every subjectAltName of the certificate about to
    /// be issued, is granted.
    pub fn check(
        &self,
        key_names: &[String],
        use_key_with: &[UseKeyWith],
        certificate: &IssueRequest,
    ) -> Result<(), ServiceError> {
        let refuse = |what: &str, name: &str| {
            tracing::info!(
                authorization = %self.authorization.id,
                what,
                name = %truncated(name),
                "name not granted"
            );
            Err(ServiceError::Refused(NOT_GRANTED))
        };
        for name in key_names {
            if !self.allows_key_name(name) {
                return refuse("KeyName", name);
            }
        }
        for ukw in use_key_with {
            if !self.allows_use_key_with(&ukw.application, &ukw.identifier) {
                return refuse(ukw.application.as_uri(), &ukw.identifier);
            }
        }
        if !self.allows_subject(&certificate.subject) {
            return refuse("subject", &certificate.subject.to_rfc4514());
        }
        let names = certificate
            .email_addresses
            .iter()
            .map(|e| (NameKind::Email, e.clone()))
            .chain(
                certificate
                    .dns_names
                    .iter()
                    .map(|d| (NameKind::Dns, d.clone())),
            )
            .chain(certificate.uris.iter().map(|u| (NameKind::Uri, u.clone())))
            .chain(
                certificate
                    .ip_addresses
                    .iter()
                    .map(|ip| (NameKind::Ip, ip.to_string())),
            );
        for (kind, value) in names {
            let granted = normalize(kind, &value).is_some_and(|v| self.allows(kind, &v));
            if !granted {
                return refuse(kind.as_str(), &value);
            }
        }
        Ok(())
    }
}

/// At most 128 characters of an attacker-supplied name, for the log.
fn truncated(name: &str) -> String {
    name.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Purpose;
    use time::macros::datetime;

    fn joe(granted: &[&str]) -> Authorization {
        Authorization {
            id: "a1".into(),
            identity: "joe@example.com".into(),
            purpose: Purpose::Register,
            granted_names: granted
                .iter()
                .map(|g| parse_granted_name(g).unwrap())
                .collect(),
            sealed_secrets: Vec::new(),
            created_at: datetime!(2030-01-01 0:00 UTC),
            expires_at: datetime!(2030-02-01 0:00 UTC),
            max_uses: None,
            uses: 0,
            revoked_at: None,
        }
    }

    fn ukw(application: Application, identifier: &str) -> UseKeyWith {
        UseKeyWith {
            application,
            identifier: identifier.into(),
        }
    }

    fn cert(subject: &str) -> IssueRequest {
        IssueRequest {
            subject: DistinguishedName::parse(subject).unwrap(),
            ..IssueRequest::default()
        }
    }

    #[test]
    fn granted_names_parse_and_normalise() {
        let dn = parse_granted_name("dn:C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe").unwrap();
        assert_eq!(dn.value, "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US");
        assert_eq!(
            parse_granted_name("DNS:WWW.Example.COM.").unwrap().value,
            "www.example.com"
        );
        assert_eq!(parse_granted_name("ip:10.1.2.3").unwrap().value, "10.1.2.3");
        assert_eq!(
            parse_granted_name("ip:2001:DB8::1").unwrap().value,
            "2001:db8::1"
        );
        for bad in [
            "nothing",
            "phone:123",
            "ip:not-an-ip",
            "email:no-at",
            "uri:relative",
            "dn:garbage",
        ] {
            assert!(parse_granted_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_identity_is_always_granted_and_nothing_else_by_default() {
        let a = joe(&[]);
        let g = Grants::of(&a);
        let mail = [ukw(Application::Smime, "Joe@Example.com")];
        g.check(
            &["joe@example.com".into()],
            &mail,
            &cert("CN=joe@example.com"),
        )
        .unwrap();
        for (names, ukws, subject) in [
            (
                vec!["www.bank.example".to_owned()],
                vec![],
                "CN=joe@example.com",
            ),
            (
                vec![],
                vec![ukw(Application::Smime, "alice@example.com")],
                "CN=joe@example.com",
            ),
            (
                vec![],
                vec![ukw(Application::TlsHttps, "www.bank.example")],
                "CN=joe@example.com",
            ),
            (
                vec![],
                vec![ukw(Application::Ipsec, "10.1.2.3")],
                "CN=joe@example.com",
            ),
            (
                vec![],
                vec![ukw(Application::Tls, "https://x.example/")],
                "CN=joe@example.com",
            ),
            (
                vec![],
                vec![ukw(
                    Application::Pkix,
                    "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe",
                )],
                "CN=joe@example.com",
            ),
            (vec![], vec![], "CN=www.bank.example"),
            (vec![], vec![], "CN=Joe,O=Evil"),
        ] {
            let result = g.check(&names, &ukws, &cert(subject));
            assert!(
                matches!(result, Err(ServiceError::Refused(_))),
                "{names:?} {ukws:?} {subject}"
            );
        }
        let sans = IssueRequest {
            dns_names: vec!["*.example.com".into()],
            ..cert("CN=joe@example.com")
        };
        assert!(g.check(&[], &[], &sans).is_err(), "an ungranted SAN");
    }

    #[test]
    fn granted_names_open_exactly_what_they_name() {
        let a = joe(&[
            "dn:C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe",
            "dns:www.joe.example",
            "ip:10.1.2.3",
            "keyname:Joe's signing key",
        ]);
        let g = Grants::of(&a);
        let request = IssueRequest {
            dns_names: vec!["www.joe.example".into()],
            ip_addresses: vec!["10.1.2.3".parse().unwrap()],
            email_addresses: vec!["joe@example.com".into()],
            ..cert("CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US")
        };
        g.check(
            &["joe@example.com".into(), "Joe's signing key".into()],
            &[
                ukw(Application::Pkix, "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe"),
                ukw(Application::TlsHttps, "WWW.joe.example"),
                ukw(Application::Ipsec, "10.1.2.3"),
                ukw(
                    Application::Other("http://ca.example.com/cps/class3".into()),
                    "joe@example.com",
                ),
            ],
            &request,
        )
        .unwrap();
        assert!(
            !g.allows_use_key_with(&Application::TlsHttps, "mail.joe.example"),
            "another host"
        );
        assert!(!g.allows_subject(&DistinguishedName::parse("CN=Joe Doe").unwrap()));
        assert!(g.allows_subject(&DistinguishedName::parse("CN=Joe's signing key").unwrap()));
    }

    #[test]
    fn a_dn_identity_grants_its_subject_but_no_mail() {
        let mut a = joe(&[]);
        a.identity = "CN=Mallory,O=Evil".into();
        let g = Grants::of(&a);
        g.check(
            &["CN=Mallory,O=Evil".into()],
            &[ukw(Application::Pkix, "O=Evil;CN=Mallory")],
            &cert("CN=Mallory,O=Evil"),
        )
        .unwrap();
        let mail = IssueRequest {
            email_addresses: vec!["alice@example.com".into()],
            ..cert("CN=Mallory,O=Evil")
        };
        assert!(g.check(&[], &[], &mail).is_err());
    }
}
