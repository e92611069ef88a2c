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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `C=US;O=Joe Corp;CN=Joe` — DER order.
    Semicolon,
    /// `CN=Joe,O=Joe Corp,C=US` — reverse DER order.
    Rfc4514,
    /// `C="US" O="Joe Corp" CN="Joe"` — DER order.
    Rec,
}

/// Byte offsets of unescaped characters outside double quotes, in order.
/// Fails on an unterminated quote or a trailing lone backslash.
fn unquoted_positions(s: &str) -> Result<Vec<(usize, char)>, CaError> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            // The guard consumes the escaped character.
            '\\' if chars.next().is_none() => {
                return Err(CaError::InvalidName {
                    reason: "dangling escape character",
                });
            }
            '\\' => {}
            '"' => in_quotes = !in_quotes,
            _ if !in_quotes => out.push((i, c)),
            _ => {}
        }
    }
    if in_quotes {
        return Err(CaError::InvalidName {
            reason: "unterminated quoted value",
        });
    }
    Ok(out)
}

fn detect_form(s: &str) -> Result<Form, CaError> {
    let positions = unquoted_positions(s)?;
    if positions.iter().any(|(_, c)| *c == ';') {
        return Ok(Form::Semicolon);
    }
    if positions.iter().any(|(_, c)| *c == ',') {
        return Ok(Form::Rfc4514);
    }
    if s.contains("=\"") || rec_component_starts(s, &positions).len() > 1 {
        return Ok(Form::Rec);
    }
    Ok(Form::Rfc4514)
}

/// Starts of `KEYWORD=` components in the space-separated REC form: the
/// beginning of the string, or an unquoted position after whitespace where
/// a known keyword is followed by `=`.
fn rec_component_starts(s: &str, positions: &[(usize, char)]) -> Vec<usize> {
    let mut starts = vec![0];
    let mut prev_ws = false;
    for &(i, c) in positions {
        if c.is_whitespace() {
            prev_ws = true;
            continue;
        }
        if prev_ws && i > 0 {
            let rest = &s[i..];
            if let Some(eq) = rest.find('=')
                && DnAttribute::from_keyword(&rest[..eq]).is_some()
            {
                starts.push(i);
            }
        }
        prev_ws = false;
    }
    starts
}

fn split_components(s: &str, form: Form) -> Result<Vec<&str>, CaError> {
    let positions = unquoted_positions(s)?;
    let mut parts = Vec::new();
    match form {
        Form::Semicolon | Form::Rfc4514 => {
            let sep = if form == Form::Semicolon { ';' } else { ',' };
            let mut start = 0;
            for &(i, c) in &positions {
                if c == sep {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
            }
            parts.push(&s[start..]);
            // Tolerate one trailing separator ("C=US;O=X;").
            if parts.len() > 1 && parts.last().is_some_and(|p| p.trim().is_empty()) {
                parts.pop();
            }
        }
        Form::Rec => {
            let starts = rec_component_starts(s, &positions);
            for (n, &start) in starts.iter().enumerate() {
                let end = starts.get(n + 1).copied().unwrap_or(s.len());
                parts.push(&s[start..end]);
            }
        }
    }
    Ok(parts)
}

fn parse_component(component: &str, form: Form) -> Result<(DnAttribute, String), CaError> {
    let eq = component.find('=').ok_or(CaError::InvalidName {
        reason: "component without '='",
    })?;
    let attr = DnAttribute::from_keyword(&component[..eq]).ok_or(CaError::InvalidName {
        reason: "unknown or unsupported attribute type",
    })?;
    let value = parse_value(&component[eq + 1..], form)?;
    Ok((attr, value))
}

/// Unescapes one attribute value: optional surrounding double quotes,
/// backslash escapes of any character, `\XX` hex escapes (UTF-8 bytes).
fn parse_value(raw: &str, form: Form) -> Result<String, CaError> {
    let raw = raw.trim_start();
    let mut bytes: Vec<u8> = Vec::with_capacity(raw.len());
    // Length of `bytes` up to the last character that is not an unescaped
    // trailing space.
    let mut significant = 0;
    let mut chars = raw.chars().peekable();
    let quoted = raw.starts_with('"');
    if quoted {
        chars.next();
    } else if form == Form::Rfc4514 && raw.starts_with('#') {
        return Err(CaError::InvalidName {
            reason: "hex-encoded (#) attribute values are not supported",
        });
    }
    let mut closed = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().ok_or(CaError::InvalidName {
                    reason: "dangling escape character",
                })?;
                let hex_hi = next.to_digit(16);
                let hex_lo = chars.peek().and_then(|c| c.to_digit(16));
                match (hex_hi, hex_lo) {
                    (Some(hi), Some(lo)) => {
                        chars.next();
                        // Two hex digits always fit a byte.
                        bytes.push((hi * 16 + lo) as u8);
                    }
                    _ => push_char(&mut bytes, next),
                }
                significant = bytes.len();
            }
            '"' if quoted => {
                closed = true;
                break;
            }
            '+' if form == Form::Rfc4514 && !quoted => {
                return Err(CaError::InvalidName {
                    reason: "multi-valued RDNs (+) are not supported",
                });
            }
            c => {
                push_char(&mut bytes, c);
                if quoted || !c.is_whitespace() {
                    significant = bytes.len();
                }
            }
        }
    }
    if quoted {
        if !closed {
            return Err(CaError::InvalidName {
                reason: "unterminated quoted value",
            });
        }
        if chars.any(|c| !c.is_whitespace()) {
            return Err(CaError::InvalidName {
                reason: "text after a quoted value",
            });
        }
    }
    bytes.truncate(significant);
    String::from_utf8(bytes).map_err(|_| CaError::InvalidName {
        reason: "escaped bytes are not valid UTF-8",
    })
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joe() -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnAttribute::Country, "US").unwrap();
        dn.push(DnAttribute::StateOrProvince, "VA").unwrap();
        dn.push(DnAttribute::Organization, "Joe Corp").unwrap();
        dn.push(DnAttribute::OrganizationalUnit, "Test").unwrap();
        dn.push(DnAttribute::CommonName, "Joe Doe").unwrap();
        dn
    }

    #[test]
    fn three_forms_agree() {
        let expected = joe();
        for input in [
            "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe",
            "C=US; ST=VA; O=Joe Corp; OU=Test; CN=Joe Doe;",
            "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US",
            "CN=Joe Doe, OU=Test, O=Joe Corp, ST=VA, C=US",
            "cn=Joe Doe,ou=Test,o=Joe Corp,st=VA,c=US",
            "C=\"US\" S=\"VA\" O=\"Joe Corp\" OU=\"Test\" CN=\"Joe Doe\"",
            "C=US ST=VA O=Joe Corp OU=Test CN=Joe Doe",
            "2.5.4.3=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US",
        ] {
            assert_eq!(
                DistinguishedName::parse(input).unwrap(),
                expected,
                "{input}"
            );
        }
        assert_eq!(
            expected.to_rfc4514(),
            "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US"
        );
    }

    #[test]
    fn rec_example() {
        let dn =
            DistinguishedName::parse("C=\"US\" O=\"Alice Corp\" CN=\"Alice Aardvark\"").unwrap();
        assert_eq!(dn.to_rfc4514(), "CN=Alice Aardvark,O=Alice Corp,C=US");
        assert_eq!(dn.rdns()[0].0, DnAttribute::Country);
        // A comma or semicolon inside quotes does not switch the form.
        let dn = DistinguishedName::parse("O=\"Doe, Inc.; Ltd\" CN=\"Joe\"").unwrap();
        assert_eq!(dn.get(DnAttribute::Organization), Some("Doe, Inc.; Ltd"));
        assert_eq!(dn.rdns()[1].0, DnAttribute::CommonName);
    }

    #[test]
    fn rfc4514_escapes() {
        let dn = DistinguishedName::parse(
            r#"CN=Doe\, Joe \+ \"Jr\" \\ x\2C y,O=Caf\C3\A9,OU=\#1\ ,L=\ a"#,
        )
        .unwrap();
        assert_eq!(
            dn.get(DnAttribute::CommonName),
            Some(r#"Doe, Joe + "Jr" \ x, y"#)
        );
        assert_eq!(dn.get(DnAttribute::Organization), Some("Café"));
        assert_eq!(dn.get(DnAttribute::OrganizationalUnit), Some("#1 "));
        assert_eq!(dn.get(DnAttribute::Locality), Some(" a"));
        let printed = dn.to_rfc4514();
        assert_eq!(
            printed,
            r#"CN=Doe\, Joe \+ \"Jr\" \\ x\, y,O=Café,OU=\#1\ ,L=\ a"#
        );
        assert_eq!(DistinguishedName::parse(&printed).unwrap(), dn);
    }

    #[test]
    fn other_attributes() {
        let dn = DistinguishedName::parse(
            "DC=example;E=joe@example.com;SERIALNUMBER=42;STREET=1 Main St;T=Dr;GN=Joe;SN=Doe;L=Here",
        )
        .unwrap();
        assert_eq!(
            dn.to_rfc4514(),
            "L=Here,SN=Doe,GN=Joe,title=Dr,street=1 Main St,serialNumber=42,emailAddress=joe@example.com,DC=example"
        );
        dn.to_rcgen().unwrap();
    }

    #[test]
    fn errors_do_not_echo_input() {
        for bad in [
            "garbage-with-secret",
            "CN=a+OU=secret",
            "XX=secret",
            "CN=\"secret",
            "CN=secret\\",
            "CN=secret,,O=x",
            "C=USA;CN=secret",
            "CN=\"secret\" trailing,O=x",
            "CN=#0403736563726574",
            "CN=\\FF\\FEsecret",
            "CN=dup;CN=secret",
            "CN=a\u{7}secret",
        ] {
            let err = DistinguishedName::parse(bad).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, CaError::InvalidName { .. }), "{bad}");
            assert!(!msg.contains("secret"), "{msg}");
        }
        assert!(DistinguishedName::parse("  ").unwrap().is_empty());
    }
}
