//! Reading the three accepted input forms (module docs of `crate::name`) into
//! (attribute, value) components; quoting and escaping per form.

use super::DnAttribute;
use crate::error::CaError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
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

pub(super) fn detect_form(s: &str) -> Result<Form, CaError> {
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

pub(super) fn split_components(s: &str, form: Form) -> Result<Vec<&str>, CaError> {
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

pub(super) fn parse_component(
    component: &str,
    form: Form,
) -> Result<(DnAttribute, String), CaError> {
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
