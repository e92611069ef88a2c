//! X.509 distinguished names as XKMS clients write them.
//!
//! Three input forms are accepted (see the XKMS digest §3.5, PKIX row):
//! 1. `C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe` — semicolons, written most
//!    significant first (DER order);
//! 2. RFC 4514 `CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US` — commas, least
//!    significant first;
//! 3. the XKMS REC's `C="US" O="Alice Corp" CN="Alice Aardvark"` — space
//!    separated, quoted values, DER order.
//!
//! Errors never quote the input: it comes from untrusted requests.

mod parse;
#[cfg(test)]
mod tests;

use parse::{Form, detect_form, parse_component, split_components};
use std::fmt;

use crate::error::CaError;

/// Longest attribute value we accept, in characters.
const MAX_VALUE_CHARS: usize = 256;
/// Most RDNs we accept in one name.
const MAX_RDNS: usize = 32;

/// Attribute types we can put in a subject name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnAttribute {
    Country,
    StateOrProvince,
    Locality,
    Organization,
    OrganizationalUnit,
    CommonName,
    EmailAddress,
    DomainComponent,
    SerialNumber,
    Street,
    Title,
    GivenName,
    Surname,
}

impl DnAttribute {
    const ALL: [DnAttribute; 13] = [
        DnAttribute::Country,
        DnAttribute::StateOrProvince,
        DnAttribute::Locality,
        DnAttribute::Organization,
        DnAttribute::OrganizationalUnit,
        DnAttribute::CommonName,
        DnAttribute::EmailAddress,
        DnAttribute::DomainComponent,
        DnAttribute::SerialNumber,
        DnAttribute::Street,
        DnAttribute::Title,
        DnAttribute::GivenName,
        DnAttribute::Surname,
    ];

    /// The attribute type OID.
    pub fn oid(self) -> &'static [u64] {
        match self {
            DnAttribute::Country => &[2, 5, 4, 6],
            DnAttribute::StateOrProvince => &[2, 5, 4, 8],
            DnAttribute::Locality => &[2, 5, 4, 7],
            DnAttribute::Organization => &[2, 5, 4, 10],
            DnAttribute::OrganizationalUnit => &[2, 5, 4, 11],
            DnAttribute::CommonName => &[2, 5, 4, 3],
            DnAttribute::EmailAddress => &[1, 2, 840, 113549, 1, 9, 1],
            DnAttribute::DomainComponent => &[0, 9, 2342, 19200300, 100, 1, 25],
            DnAttribute::SerialNumber => &[2, 5, 4, 5],
            DnAttribute::Street => &[2, 5, 4, 9],
            DnAttribute::Title => &[2, 5, 4, 12],
            DnAttribute::GivenName => &[2, 5, 4, 42],
            DnAttribute::Surname => &[2, 5, 4, 4],
        }
    }

    /// The name OpenSSL prints with `-nameopt RFC2253`.
    pub fn short_name(self) -> &'static str {
        match self {
            DnAttribute::Country => "C",
            DnAttribute::StateOrProvince => "ST",
            DnAttribute::Locality => "L",
            DnAttribute::Organization => "O",
            DnAttribute::OrganizationalUnit => "OU",
            DnAttribute::CommonName => "CN",
            DnAttribute::EmailAddress => "emailAddress",
            DnAttribute::DomainComponent => "DC",
            DnAttribute::SerialNumber => "serialNumber",
            DnAttribute::Street => "street",
            DnAttribute::Title => "title",
            DnAttribute::GivenName => "GN",
            DnAttribute::Surname => "SN",
        }
    }

    /// Looks up an input keyword (case-insensitive) or dotted OID.
    pub fn from_keyword(keyword: &str) -> Option<Self> {
        let k = keyword.trim();
        let k = k
            .strip_prefix("OID.")
            .or_else(|| k.strip_prefix("oid."))
            .unwrap_or(k);
        if k.starts_with(|c: char| c.is_ascii_digit()) {
            let arcs: Option<Vec<u64>> = k.split('.').map(|a| a.parse().ok()).collect();
            return Self::from_oid(&arcs?);
        }
        let found = match k.to_ascii_uppercase().as_str() {
            "C" | "COUNTRYNAME" => DnAttribute::Country,
            "S" | "ST" | "STATEORPROVINCENAME" => DnAttribute::StateOrProvince,
            "L" | "LOCALITYNAME" => DnAttribute::Locality,
            "O" | "ORGANIZATIONNAME" => DnAttribute::Organization,
            "OU" | "ORGANIZATIONALUNITNAME" => DnAttribute::OrganizationalUnit,
            "CN" | "COMMONNAME" => DnAttribute::CommonName,
            "E" | "EMAIL" | "EMAILADDRESS" => DnAttribute::EmailAddress,
            "DC" | "DOMAINCOMPONENT" => DnAttribute::DomainComponent,
            "SERIALNUMBER" => DnAttribute::SerialNumber,
            "STREET" => DnAttribute::Street,
            "T" | "TITLE" => DnAttribute::Title,
            "GN" | "GIVENNAME" => DnAttribute::GivenName,
            "SN" | "SURNAME" => DnAttribute::Surname,
            _ => return None,
        };
        Some(found)
    }

    /// The attribute with this type OID, if we know it.
    pub fn from_oid(oid: &[u64]) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.oid() == oid)
    }

    /// Whether the DER value is a PrintableString (else UTF8String / IA5String).
    fn is_printable(self) -> bool {
        matches!(self, DnAttribute::Country | DnAttribute::SerialNumber)
    }

    fn is_ia5(self) -> bool {
        matches!(
            self,
            DnAttribute::EmailAddress | DnAttribute::DomainComponent
        )
    }
}

/// A distinguished name: single-valued RDNs, most significant first (the
/// order they appear in DER).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DistinguishedName {
    rdns: Vec<(DnAttribute, String)>,
}

impl DistinguishedName {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses any of the three accepted forms (see the module docs).
    /// An empty string is the empty name.
    pub fn parse(s: &str) -> Result<Self, CaError> {
        let s = s.trim();
        let mut dn = DistinguishedName::new();
        if s.is_empty() {
            return Ok(dn);
        }
        let form = detect_form(s)?;
        let mut parts: Vec<(DnAttribute, String)> = split_components(s, form)?
            .into_iter()
            .map(|c| parse_component(c, form))
            .collect::<Result<_, _>>()?;
        if form == Form::Rfc4514 {
            parts.reverse();
        }
        for (attr, value) in parts {
            dn.push(attr, value)?;
        }
        Ok(dn)
    }

    /// Appends an RDN (less significant than those already present).
    ///
    /// Each attribute type may appear once: the certificate encoder keys
    /// names by type, so e.g. `DC=example,DC=com` is refused rather than
    /// silently collapsed.
    pub fn push(&mut self, attr: DnAttribute, value: impl Into<String>) -> Result<(), CaError> {
        let value = value.into();
        validate_value(attr, &value)?;
        if self.rdns.iter().any(|(a, _)| *a == attr) {
            return Err(CaError::InvalidName {
                reason: "repeated attribute types are not supported",
            });
        }
        if self.rdns.len() >= MAX_RDNS {
            return Err(CaError::InvalidName {
                reason: "too many RDNs",
            });
        }
        self.rdns.push((attr, value));
        Ok(())
    }

    /// The RDNs, most significant first.
    pub fn rdns(&self) -> &[(DnAttribute, String)] {
        &self.rdns
    }

    /// The value of the given attribute, if present.
    pub fn get(&self, attr: DnAttribute) -> Option<&str> {
        self.rdns
            .iter()
            .find(|(a, _)| *a == attr)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// RFC 4514 string as `openssl x509 -nameopt RFC2253` prints it
    /// (least significant first), except that non-ASCII characters are
    /// kept as UTF-8 rather than hex-escaped.
    pub fn to_rfc4514(&self) -> String {
        self.rdns
            .iter()
            .rev()
            .map(|(a, v)| format!("{}={}", a.short_name(), escape_value(v)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The name as rcgen encodes it: C and serialNumber as PrintableString,
    /// emailAddress and DC as IA5String, everything else as UTF8String.
    pub(crate) fn to_rcgen(&self) -> Result<rcgen::DistinguishedName, CaError> {
        use rcgen::{DnType, DnValue};
        let mut dn = rcgen::DistinguishedName::new();
        for (attr, value) in &self.rdns {
            let ty = match attr {
                DnAttribute::Country => DnType::CountryName,
                DnAttribute::StateOrProvince => DnType::StateOrProvinceName,
                DnAttribute::Locality => DnType::LocalityName,
                DnAttribute::Organization => DnType::OrganizationName,
                DnAttribute::OrganizationalUnit => DnType::OrganizationalUnitName,
                DnAttribute::CommonName => DnType::CommonName,
                other => DnType::CustomDnType(other.oid().to_vec()),
            };
            let invalid = |_| CaError::InvalidName {
                reason: "value not representable in its ASN.1 string type",
            };
            let value = if attr.is_printable() {
                DnValue::PrintableString(value.as_str().try_into().map_err(invalid)?)
            } else if attr.is_ia5() {
                DnValue::Ia5String(value.as_str().try_into().map_err(invalid)?)
            } else {
                DnValue::Utf8String(value.clone())
            };
            dn.push(ty, value);
        }
        Ok(dn)
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc4514())
    }
}

impl std::str::FromStr for DistinguishedName {
    type Err = CaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DistinguishedName::parse(s)
    }
}

/// RFC 4514 §2.4 escaping, as OpenSSL's ESC_2253 does it.
pub(crate) fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 4);
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn validate_value(attr: DnAttribute, value: &str) -> Result<(), CaError> {
    if value.is_empty() {
        return Err(CaError::InvalidName {
            reason: "empty attribute value",
        });
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(CaError::InvalidName {
            reason: "attribute value too long",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(CaError::InvalidName {
            reason: "control character in attribute value",
        });
    }
    if attr == DnAttribute::Country
        && !(value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(CaError::InvalidName {
            reason: "country must be a two-letter code",
        });
    }
    if attr.is_ia5() && !value.is_ascii() {
        return Err(CaError::InvalidName {
            reason: "emailAddress and DC must be ASCII",
        });
    }
    if attr.is_printable()
        && !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c))
    {
        return Err(CaError::InvalidName {
            reason: "serialNumber must be a PrintableString",
        });
    }
    Ok(())
}
