//! Names: how UseKeyWith identifiers and authorization identities are normalised so
//! that storing, matching and authorizing agree (digest §3.5).

use crate::store::StoredUseKeyWith;
use xkms_ca::DistinguishedName;
use xkms_proto::{Application, UseKeyWith};

/// Normalises an identifier for its application: e-mail and DNS names lower-case,
/// X.509 names in RFC 4514 form, everything else trimmed. `None` when a PKIX name does
/// not parse.
pub fn normalize_identifier(application: &Application, identifier: &str) -> Option<String> {
    let trimmed = identifier.trim();
    match application {
        Application::Smime | Application::Pgp => Some(normalize_email(trimmed)),
        Application::TlsHttps | Application::TlsSmtp => {
            Some(trimmed.trim_end_matches('.').to_ascii_lowercase())
        }
        Application::Pkix => DistinguishedName::parse(trimmed)
            .ok()
            .map(|dn| dn.to_rfc4514()),
        _ => Some(trimmed.to_owned()),
    }
}

/// The stored form of a UseKeyWith pair.
pub fn stored_use_key_with(ukw: &UseKeyWith) -> Option<StoredUseKeyWith> {
    Some(StoredUseKeyWith {
        application: ukw.application.clone(),
        identifier: normalize_identifier(&ukw.application, &ukw.identifier)?,
    })
}

/// SHA-256 of the key's SubjectPublicKeyInfo: how bindings are found by KeyValue.
pub fn key_fingerprint(key: &xkms_ca::RsaPublicKey) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &key.to_spki_der())
        .as_ref()
        .to_vec()
}

/// E-mail addresses compare case-insensitively (the local part is case-sensitive in
/// theory, never in practice for the PKI identities XKMS binds).
pub fn normalize_email(address: &str) -> String {
    address.trim().to_lowercase()
}

/// Normalises the identity an administrator names for an authorization code: an e-mail
/// address, or an X.509 DN in any form the CA accepts.
pub fn normalize_authorization_identity(identity: &str) -> Option<String> {
    let trimmed = identity.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.contains('@') && !trimmed.contains('=') {
        return Some(normalize_email(trimmed));
    }
    DistinguishedName::parse(trimmed)
        .ok()
        .map(|dn| dn.to_rfc4514())
}

/// Whether an identity is an e-mail address (as opposed to a DN).
pub fn is_email_identity(identity: &str) -> bool {
    identity.contains('@') && !identity.contains('=')
}

/// The identities a request may be authorized under: its e-mail identifiers, its X.509
/// names and its KeyName, normalised and de-duplicated.
pub fn candidate_identities(key_names: &[String], use_key_with: &[UseKeyWith]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    for ukw in use_key_with {
        match ukw.application {
            Application::Smime | Application::Pgp | Application::Pkix => {
                if let Some(id) = normalize_identifier(&ukw.application, &ukw.identifier) {
                    push(id);
                }
            }
            _ => {}
        }
    }
    for name in key_names {
        if let Some(id) = normalize_authorization_identity(name) {
            push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names_normalise() {
        assert_eq!(
            normalize_identifier(
                &Application::Pkix,
                "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe"
            )
            .as_deref(),
            Some("CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US")
        );
        assert_eq!(
            normalize_identifier(&Application::Smime, " Joe@Example.COM ").as_deref(),
            Some("joe@example.com")
        );
        assert_eq!(normalize_identifier(&Application::Pkix, "garbage"), None);
    }

    #[test]
    fn candidates_cover_mail_dn_and_key_name() {
        let ukw = vec![
            UseKeyWith {
                application: Application::Smime,
                identifier: "joe@example.com".into(),
            },
            UseKeyWith {
                application: Application::Pkix,
                identifier: "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe".into(),
            },
            UseKeyWith {
                application: Application::TlsHttps,
                identifier: "www.example.com".into(),
            },
        ];
        let got = candidate_identities(&["Joe@example.com".into()], &ukw);
        assert_eq!(
            got,
            vec![
                "joe@example.com".to_string(),
                "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US".to_string()
            ]
        );
    }
}
