//! DOM → model for the XML Signature and XML Encryption subset XKMS carries.
//! Open content (`xs:any` slots, ds:Object, XPath transforms…) is skipped, not refused:
//! signatures are verified over the original document, this model is descriptive.

use super::values::{decode_crypto_binary, parse_u32};
use super::xml::{self, Seq, attr, base64_text, invalid, req_attr, text};
use super::{DecodeErrorKind, XML_WS};
use crate::model::*;
use crate::vocab::{DS_NS, EC_NS, XENC_NS};
use uppsala::{Document, NodeId};

type R<T> = Result<T, DecodeErrorKind>;
type Doc<'d, 'a> = &'d Document<'a>;

/// `ds:Signature`: SignedInfo, SignatureValue, KeyInfo?, Object*.
pub(crate) fn signature(doc: Doc<'_, '_>, node: NodeId) -> R<Signature> {
    const N: &str = "Signature";
    let mut seq = Seq::new(doc, node, N)?;
    let signed_info = signed_info(doc, seq.req(DS_NS, "SignedInfo")?)?;
    let signature_value = base64_text(doc, seq.req(DS_NS, "SignatureValue")?, "SignatureValue")?;
    let key_info = seq
        .opt(DS_NS, "KeyInfo")
        .map(|n| key_info(doc, n))
        .transpose()?;
    seq.many(DS_NS, "Object");
    seq.finish()?;
    Ok(Signature {
        id: attr(doc, node, "Id").map(str::to_owned),
        signed_info,
        signature_value,
        key_info,
    })
}

fn signed_info(doc: Doc<'_, '_>, node: NodeId) -> R<SignedInfo> {
    const N: &str = "SignedInfo";
    let mut seq = Seq::new(doc, node, N)?;
    let canonicalization_method = transform(
        doc,
        seq.req(DS_NS, "CanonicalizationMethod")?,
        "CanonicalizationMethod",
    )?;
    let sm = seq.req(DS_NS, "SignatureMethod")?;
    let signature_method = req_attr(doc, sm, "SignatureMethod", "Algorithm")?
        .trim_matches(XML_WS)
        .to_owned();
    let mut hmac_output_length = None;
    let mut sm_children = Seq::lenient(doc, sm, "SignatureMethod");
    if let Some(h) = sm_children.opt(DS_NS, "HMACOutputLength") {
        let len = parse_u32(&text(doc, h, "HMACOutputLength")?)
            .ok_or_else(|| invalid("HMACOutputLength", "not a non-negative integer"))?;
        hmac_output_length = Some(len);
    }
    let references = seq
        .many(DS_NS, "Reference")
        .into_iter()
        .map(|n| reference(doc, n))
        .collect::<R<Vec<_>>>()?;
    if references.is_empty() {
        return Err(DecodeErrorKind::MissingElement {
            parent: N.to_owned(),
            child: "Reference".to_owned(),
        });
    }
    seq.finish()?;
    Ok(SignedInfo {
        canonicalization_method,
        signature_method,
        hmac_output_length,
        references,
    })
}

fn reference(doc: Doc<'_, '_>, node: NodeId) -> R<Reference> {
    const N: &str = "Reference";
    let mut seq = Seq::new(doc, node, N)?;
    let transforms = match seq.opt(DS_NS, "Transforms") {
        None => Vec::new(),
        Some(t) => transforms(doc, t)?,
    };
    let dm = seq.req(DS_NS, "DigestMethod")?;
    let digest_method = req_attr(doc, dm, "DigestMethod", "Algorithm")?
        .trim_matches(XML_WS)
        .to_owned();
    let digest_value = base64_text(doc, seq.req(DS_NS, "DigestValue")?, "DigestValue")?;
    seq.finish()?;
    Ok(Reference {
        uri: attr(doc, node, "URI").map(str::to_owned),
        transforms,
        digest_method,
        digest_value,
    })
}

fn transforms(doc: Doc<'_, '_>, node: NodeId) -> R<Vec<Transform>> {
    const N: &str = "Transforms";
    let mut seq = Seq::new(doc, node, N)?;
    let out = seq
        .many(DS_NS, "Transform")
        .into_iter()
        .map(|n| transform(doc, n, "Transform"))
        .collect::<R<Vec<_>>>()?;
    if out.is_empty() {
        return Err(DecodeErrorKind::MissingElement {
            parent: N.to_owned(),
            child: "Transform".to_owned(),
        });
    }
    seq.finish()?;
    Ok(out)
}

/// `ds:Transform` / `ds:CanonicalizationMethod`: Algorithm plus an optional
/// `ec:InclusiveNamespaces`; other content (XPath, foreign parameters) is skipped.
fn transform(doc: Doc<'_, '_>, node: NodeId, name: &'static str) -> R<Transform> {
    let algorithm = req_attr(doc, node, name, "Algorithm")?
        .trim_matches(XML_WS)
        .to_owned();
    let mut inclusive_namespaces = None;
    for child in Seq::lenient(doc, node, name).many_any() {
        if xml::is(doc, child, EC_NS, "InclusiveNamespaces") {
            let list = req_attr(doc, child, "InclusiveNamespaces", "PrefixList")?;
            inclusive_namespaces = Some(list.to_owned());
        }
    }
    Ok(Transform {
        algorithm,
        inclusive_namespaces,
    })
}

/// `ds:KeyInfo`: children in any order, grouped by kind.
pub(crate) fn key_info(doc: Doc<'_, '_>, node: NodeId) -> R<KeyInfo> {
    const N: &str = "KeyInfo";
    let mut out = KeyInfo {
        id: attr(doc, node, "Id").map(str::to_owned),
        ..KeyInfo::default()
    };
    let seq = Seq::lenient(doc, node, N);
    for child in seq.many_any() {
        if xml::namespace(doc, child) != Some(DS_NS) {
            // xs:any namespace="##other" (e.g. xenc:EncryptedKey): not modelled.
            out.unsupported_children += 1;
            continue;
        }
        match xml::local_name(doc, child) {
            "KeyName" => out.key_names.push(text(doc, child, "KeyName")?),
            "KeyValue" => out.key_values.push(key_value(doc, child)?),
            "RetrievalMethod" => {
                const M: &str = "RetrievalMethod";
                out.retrieval_methods.push(RetrievalMethod {
                    uri: req_attr(doc, child, M, "URI")?.to_owned(),
                    type_: attr(doc, child, "Type").map(str::to_owned),
                });
            }
            "X509Data" => out.x509_data.push(x509_data(doc, child)?),
            "PGPData" | "SPKIData" | "MgmtData" => out.unsupported_children += 1,
            _ => return Err(Seq::lenient(doc, node, N).unexpected(child)),
        }
    }
    Ok(out)
}

fn key_value(doc: Doc<'_, '_>, node: NodeId) -> R<KeyValue> {
    const N: &str = "KeyValue";
    let mut seq = Seq::lenient(doc, node, N);
    let Some(child) = seq.take() else {
        return Err(DecodeErrorKind::MissingElement {
            parent: N.to_owned(),
            child: "RSAKeyValue".to_owned(),
        });
    };
    seq.finish()?;
    if !xml::is(doc, child, DS_NS, "RSAKeyValue") {
        // DSAKeyValue, ECKeyValue, foreign key values.
        return Ok(KeyValue::Unsupported);
    }
    const K: &str = "RSAKeyValue";
    let mut inner = Seq::new(doc, child, K)?;
    let modulus = crypto_binary(doc, inner.req(DS_NS, "Modulus")?, "Modulus")?;
    let exponent = crypto_binary(doc, inner.req(DS_NS, "Exponent")?, "Exponent")?;
    inner.finish()?;
    Ok(KeyValue::Rsa(RsaKeyValue { modulus, exponent }))
}

fn x509_data(doc: Doc<'_, '_>, node: NodeId) -> R<X509Data> {
    let mut out = X509Data::default();
    for child in Seq::lenient(doc, node, "X509Data").many_any() {
        if xml::namespace(doc, child) != Some(DS_NS) {
            continue;
        }
        match xml::local_name(doc, child) {
            "X509IssuerSerial" => {
                const N: &str = "X509IssuerSerial";
                let mut seq = Seq::new(doc, child, N)?;
                let issuer = seq.req(DS_NS, "X509IssuerName")?;
                let serial = seq.req(DS_NS, "X509SerialNumber")?;
                seq.finish()?;
                let serial_number = text(doc, serial, "X509SerialNumber")?
                    .trim_matches(XML_WS)
                    .to_owned();
                let digits = serial_number.strip_prefix('-').unwrap_or(&serial_number);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("X509SerialNumber", "not an integer"));
                }
                out.issuer_serials.push(X509IssuerSerial {
                    issuer_name: text(doc, issuer, "X509IssuerName")?,
                    serial_number,
                });
            }
            "X509SKI" => out.skis.push(base64_text(doc, child, "X509SKI")?),
            "X509SubjectName" => out.subject_names.push(text(doc, child, "X509SubjectName")?),
            "X509Certificate" => out
                .certificates
                .push(base64_text(doc, child, "X509Certificate")?),
            "X509CRL" => out.crls.push(base64_text(doc, child, "X509CRL")?),
            // Later XML-DSig additions (X509Digest…) are not modelled.
            _ => {}
        }
    }
    Ok(out)
}

/// `xenc:EncryptedData`: EncryptionMethod?, ds:KeyInfo?, CipherData, EncryptionProperties?.
pub(crate) fn encrypted_data(doc: Doc<'_, '_>, node: NodeId) -> R<EncryptedData> {
    const N: &str = "EncryptedData";
    let mut seq = Seq::new(doc, node, N)?;
    let encryption_method = seq
        .opt(XENC_NS, "EncryptionMethod")
        .map(|n| {
            req_attr(doc, n, "EncryptionMethod", "Algorithm")
                .map(|a| a.trim_matches(XML_WS).to_owned())
        })
        .transpose()?;
    let key_info = seq
        .opt(DS_NS, "KeyInfo")
        .map(|n| key_info(doc, n))
        .transpose()?;
    let cd = seq.req(XENC_NS, "CipherData")?;
    seq.opt(XENC_NS, "EncryptionProperties");
    seq.finish()?;
    let mut cipher = Seq::new(doc, cd, "CipherData")?;
    if cipher.next_is(XENC_NS, "CipherReference") {
        return Err(invalid("CipherData", "CipherReference is not supported"));
    }
    let cipher_value = base64_text(doc, cipher.req(XENC_NS, "CipherValue")?, "CipherValue")?;
    cipher.finish()?;
    let a = |name: &str| attr(doc, node, name).map(str::to_owned);
    Ok(EncryptedData {
        id: a("Id"),
        type_: a("Type"),
        mime_type: a("MimeType"),
        encoding: a("Encoding"),
        encryption_method,
        key_info,
        cipher_value,
    })
}

fn crypto_binary(doc: Doc<'_, '_>, node: NodeId, name: &str) -> R<Vec<u8>> {
    decode_crypto_binary(&text(doc, node, name)?).ok_or_else(|| invalid(name, "not base64"))
}
