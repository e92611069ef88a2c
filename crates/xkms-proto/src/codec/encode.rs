//! Model → XML. XKMS elements go in the default namespace declared on the root, together
//! with `xmlns:ds` and `xmlns:xenc`; `ec:` is declared on each InclusiveNamespaces.
//! Absent optional fields produce no element/attribute. Output is compact (no
//! indentation) so signatures computed over it are not disturbed by reformatting.

use super::values::{encode_base64, encode_base64_into, format_datetime};
use crate::model::*;
use crate::vocab::{DS_NS, EC_NS, XENC_NS, XKMS_NS};
use zeroize::Zeroizing;

pub(crate) fn write_message(msg: &Message) -> String {
    let mut w = Writer::new(true);
    match msg {
        Message::Request(r) => match r {
            Request::Locate(r) => locate_request(&mut w, r),
            Request::Validate(r) => validate_request(&mut w, r),
            Request::Register(r) => register_request(&mut w, r),
            Request::Reissue(r) => reissue_request(&mut w, r),
            Request::Recover(r) => recover_request(&mut w, r),
            Request::Revoke(r) => revoke_request(&mut w, r),
            Request::Compound(r) => {
                request_start(&mut w, "CompoundRequest", &r.request, None);
                for inner in &r.requests {
                    inner_request(&mut w, inner);
                }
                w.end("CompoundRequest");
            }
            Request::Status(r) => {
                request_start(&mut w, "StatusRequest", &r.request, Some(&r.response_id));
                w.end("StatusRequest");
            }
            Request::Pending(r) => {
                request_start(&mut w, "PendingRequest", &r.request, Some(&r.response_id));
                w.end("PendingRequest");
            }
        },
        Message::Result(r) => match r {
            ResultMessage::Locate(r) => locate_result(&mut w, r),
            ResultMessage::Validate(r) => validate_result(&mut w, r),
            ResultMessage::Register(r) => register_result(&mut w, r),
            ResultMessage::Reissue(r) => reissue_result(&mut w, r),
            ResultMessage::Recover(r) => recover_result(&mut w, r),
            ResultMessage::Revoke(r) => revoke_result(&mut w, r),
            ResultMessage::Compound(r) => {
                result_start(&mut w, "CompoundResult", &r.result, &[]);
                for inner in &r.results {
                    inner_result(&mut w, inner);
                }
                w.end("CompoundResult");
            }
            ResultMessage::Status(r) => {
                let counters = [
                    ("Success", r.success),
                    ("Failure", r.failure),
                    ("Pending", r.pending),
                ];
                result_start(&mut w, "StatusResult", &r.result, &counters);
                w.end("StatusResult");
            }
            ResultMessage::Result(r) => {
                result_start(&mut w, "Result", r, &[]);
                w.end("Result");
            }
        },
    }
    w.out
}

pub(crate) fn write_rsa_key_pair(pair: &RsaKeyPair) -> String {
    let mut w = Writer::new(false);
    w.out.push_str("<RSAKeyPair xmlns=\"");
    w.out.push_str(XKMS_NS);
    w.out.push_str("\">");
    for (name, value) in [
        ("Modulus", &pair.modulus),
        ("Exponent", &pair.exponent),
        ("P", &pair.p),
        ("Q", &pair.q),
        ("DP", &pair.dp),
        ("DQ", &pair.dq),
        ("InverseQ", &pair.inverse_q),
        ("D", &pair.d),
    ] {
        let b64 = Zeroizing::new(encode_base64(value));
        w.text_element(name, &b64);
    }
    w.end("RSAKeyPair");
    w.out
}

fn inner_request(w: &mut Writer, r: &InnerRequest) {
    match r {
        InnerRequest::Locate(r) => locate_request(w, r),
        InnerRequest::Validate(r) => validate_request(w, r),
        InnerRequest::Register(r) => register_request(w, r),
        InnerRequest::Reissue(r) => reissue_request(w, r),
        InnerRequest::Recover(r) => recover_request(w, r),
        InnerRequest::Revoke(r) => revoke_request(w, r),
    }
}

fn inner_result(w: &mut Writer, r: &InnerResult) {
    match r {
        InnerResult::Locate(r) => locate_result(w, r),
        InnerResult::Validate(r) => validate_result(w, r),
        InnerResult::Register(r) => register_result(w, r),
        InnerResult::Reissue(r) => reissue_result(w, r),
        InnerResult::Recover(r) => recover_result(w, r),
        InnerResult::Revoke(r) => revoke_result(w, r),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

fn locate_request(w: &mut Writer, r: &LocateRequest) {
    request_start(w, "LocateRequest", &r.request, None);
    query_key_binding(w, &r.query_key_binding);
    w.end("LocateRequest");
}

fn validate_request(w: &mut Writer, r: &ValidateRequest) {
    request_start(w, "ValidateRequest", &r.request, None);
    query_key_binding(w, &r.query_key_binding);
    w.end("ValidateRequest");
}

fn register_request(w: &mut Writer, r: &RegisterRequest) {
    request_start(w, "RegisterRequest", &r.request, None);
    let p = &r.prototype_key_binding;
    key_binding_start(w, "PrototypeKeyBinding", &p.core);
    validity_interval(w, p.validity_interval.as_ref());
    if let Some(rci) = &p.revocation_code_identifier {
        w.base64_element("RevocationCodeIdentifier", rci);
    }
    w.end("PrototypeKeyBinding");
    authentication(w, &r.authentication);
    proof_of_possession(w, r.proof_of_possession.as_ref());
    w.end("RegisterRequest");
}

fn reissue_request(w: &mut Writer, r: &ReissueRequest) {
    request_start(w, "ReissueRequest", &r.request, None);
    key_binding(w, "ReissueKeyBinding", &r.reissue_key_binding);
    authentication(w, &r.authentication);
    proof_of_possession(w, r.proof_of_possession.as_ref());
    w.end("ReissueRequest");
}

fn revoke_request(w: &mut Writer, r: &RevokeRequest) {
    request_start(w, "RevokeRequest", &r.request, None);
    key_binding(w, "RevokeKeyBinding", &r.revoke_key_binding);
    match &r.authorization {
        RevokeAuthorization::Authentication(a) => authentication(w, a),
        RevokeAuthorization::RevocationCode(code) => {
            w.base64_element("RevocationCode", code);
        }
    }
    w.end("RevokeRequest");
}

fn recover_request(w: &mut Writer, r: &RecoverRequest) {
    request_start(w, "RecoverRequest", &r.request, None);
    key_binding(w, "RecoverKeyBinding", &r.recover_key_binding);
    authentication(w, &r.authentication);
    w.end("RecoverRequest");
}

/// Start tag and RequestAbstractType children; the caller writes the rest and the end tag.
fn request_start(w: &mut Writer, name: &str, r: &RequestAbstract, response_id: Option<&str>) {
    w.start(name);
    message_attrs(w, &r.message);
    w.attr_opt("OriginalRequestId", r.original_request_id.as_deref());
    if let Some(limit) = r.response_limit {
        w.attr("ResponseLimit", &limit.to_string());
    }
    w.attr_opt("ResponseId", response_id);
    w.close_start();
    message_children(w, &r.message);
    for m in &r.response_mechanism {
        w.text_element("ResponseMechanism", m.as_uri());
    }
    for rw in &r.respond_with {
        w.text_element("RespondWith", rw.as_uri());
    }
    if let Some(p) = &r.pending_notification {
        w.start("PendingNotification");
        w.attr("Mechanism", &p.mechanism);
        w.attr("Identifier", &p.identifier);
        w.end_empty();
    }
}

// ---------------------------------------------------------------------------------------------
// Results

fn locate_result(w: &mut Writer, r: &LocateResult) {
    result_start(w, "LocateResult", &r.result, &[]);
    for kb in &r.unverified_key_bindings {
        key_binding_start(w, "UnverifiedKeyBinding", &kb.core);
        validity_interval(w, kb.validity_interval.as_ref());
        w.end("UnverifiedKeyBinding");
    }
    w.end("LocateResult");
}

fn validate_result(w: &mut Writer, r: &ValidateResult) {
    key_bindings_result(w, "ValidateResult", &r.result, &r.key_bindings, None);
}

fn register_result(w: &mut Writer, r: &RegisterResult) {
    key_bindings_result(
        w,
        "RegisterResult",
        &r.result,
        &r.key_bindings,
        r.private_key.as_ref(),
    );
}

fn reissue_result(w: &mut Writer, r: &ReissueResult) {
    key_bindings_result(w, "ReissueResult", &r.result, &r.key_bindings, None);
}

fn revoke_result(w: &mut Writer, r: &RevokeResult) {
    key_bindings_result(w, "RevokeResult", &r.result, &r.key_bindings, None);
}

fn recover_result(w: &mut Writer, r: &RecoverResult) {
    key_bindings_result(
        w,
        "RecoverResult",
        &r.result,
        &r.key_bindings,
        r.private_key.as_ref(),
    );
}

fn key_bindings_result(
    w: &mut Writer,
    name: &str,
    result: &ResultAbstract,
    key_bindings: &[KeyBinding],
    private_key: Option<&PrivateKey>,
) {
    result_start(w, name, result, &[]);
    for kb in key_bindings {
        key_binding(w, "KeyBinding", kb);
    }
    if let Some(pk) = private_key {
        w.open("PrivateKey");
        encrypted_data(w, &pk.encrypted_data);
        w.end("PrivateKey");
    }
    w.end(name);
}

/// Start tag and ResultType children.
fn result_start(w: &mut Writer, name: &str, r: &ResultAbstract, counters: &[(&str, Option<u32>)]) {
    w.start(name);
    message_attrs(w, &r.message);
    w.attr("ResultMajor", r.result_major.as_uri());
    w.attr_opt("ResultMinor", r.result_minor.as_ref().map(|m| m.as_uri()));
    w.attr_opt("RequestId", r.request_id.as_deref());
    for (attr, value) in counters {
        if let Some(v) = value {
            w.attr(attr, &v.to_string());
        }
    }
    w.close_start();
    message_children(w, &r.message);
    if let Some(rsv) = &r.request_signature_value {
        w.base64_element("RequestSignatureValue", rsv);
    }
}

fn message_attrs(w: &mut Writer, m: &MessageAbstract) {
    w.attr("Id", &m.id);
    w.attr("Service", &m.service);
    if let Some(nonce) = &m.nonce {
        w.attr("Nonce", &encode_base64(nonce));
    }
}

/// ds:Signature?, OpaqueClientData?. MessageExtension content is not modelled, so a
/// count of extensions is not written back.
fn message_children(w: &mut Writer, m: &MessageAbstract) {
    if let Some(sig) = &m.signature {
        signature(w, sig);
    }
    if let Some(data) = &m.opaque_client_data {
        if data.is_empty() {
            w.start("OpaqueClientData");
            w.end_empty();
        } else {
            w.open("OpaqueClientData");
            for d in data {
                w.base64_element("OpaqueData", d);
            }
            w.end("OpaqueClientData");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Key bindings

/// Start tag and KeyBindingAbstractType children.
fn key_binding_start(w: &mut Writer, name: &str, core: &KeyBindingAbstract) {
    w.start(name);
    w.attr_opt("Id", core.id.as_deref());
    w.close_start();
    if let Some(ki) = &core.key_info {
        key_info(w, ki);
    }
    for u in &core.key_usage {
        w.text_element("KeyUsage", u.as_uri());
    }
    for u in &core.use_key_with {
        w.start("UseKeyWith");
        w.attr("Application", u.application.as_uri());
        w.attr("Identifier", &u.identifier);
        w.end_empty();
    }
}

fn key_binding(w: &mut Writer, name: &str, kb: &KeyBinding) {
    key_binding_start(w, name, &kb.core);
    validity_interval(w, kb.validity_interval.as_ref());
    let s = &kb.status;
    w.start("Status");
    w.attr("StatusValue", s.status_value.as_uri());
    w.close_start();
    for r in &s.valid_reasons {
        w.text_element("ValidReason", r.as_uri());
    }
    for r in &s.indeterminate_reasons {
        w.text_element("IndeterminateReason", r.as_uri());
    }
    for r in &s.invalid_reasons {
        w.text_element("InvalidReason", r.as_uri());
    }
    w.end("Status");
    w.end(name);
}

fn query_key_binding(w: &mut Writer, q: &QueryKeyBinding) {
    key_binding_start(w, "QueryKeyBinding", &q.core);
    if let Some(t) = &q.time_instant {
        w.start("TimeInstant");
        w.attr("Time", &format_datetime(t));
        w.end_empty();
    }
    w.end("QueryKeyBinding");
}

fn validity_interval(w: &mut Writer, vi: Option<&ValidityInterval>) {
    let Some(vi) = vi else { return };
    w.start("ValidityInterval");
    if let Some(t) = &vi.not_before {
        w.attr("NotBefore", &format_datetime(t));
    }
    if let Some(t) = &vi.not_on_or_after {
        w.attr("NotOnOrAfter", &format_datetime(t));
    }
    w.end_empty();
}

fn authentication(w: &mut Writer, a: &Authentication) {
    w.open("Authentication");
    if let Some(kba) = &a.key_binding_authentication {
        w.open("KeyBindingAuthentication");
        signature(w, &kba.signature);
        w.end("KeyBindingAuthentication");
    }
    if let Some(nba) = &a.not_bound_authentication {
        w.start("NotBoundAuthentication");
        w.attr("Protocol", &nba.protocol);
        w.attr("Value", &encode_base64(&nba.value));
        w.end_empty();
    }
    w.end("Authentication");
}

fn proof_of_possession(w: &mut Writer, pop: Option<&ProofOfPossession>) {
    if let Some(pop) = pop {
        w.open("ProofOfPossession");
        signature(w, &pop.signature);
        w.end("ProofOfPossession");
    }
}

// ---------------------------------------------------------------------------------------------
// ds: and xenc:

fn signature(w: &mut Writer, s: &Signature) {
    w.start("ds:Signature");
    w.attr_opt("Id", s.id.as_deref());
    w.close_start();
    let si = &s.signed_info;
    w.open("ds:SignedInfo");
    transform(w, "ds:CanonicalizationMethod", &si.canonicalization_method);
    w.start("ds:SignatureMethod");
    w.attr("Algorithm", &si.signature_method);
    match si.hmac_output_length {
        Some(len) => {
            w.close_start();
            w.text_element("ds:HMACOutputLength", &len.to_string());
            w.end("ds:SignatureMethod");
        }
        None => w.end_empty(),
    }
    for r in &si.references {
        w.start("ds:Reference");
        w.attr_opt("URI", r.uri.as_deref());
        w.close_start();
        if !r.transforms.is_empty() {
            w.open("ds:Transforms");
            for t in &r.transforms {
                transform(w, "ds:Transform", t);
            }
            w.end("ds:Transforms");
        }
        w.start("ds:DigestMethod");
        w.attr("Algorithm", &r.digest_method);
        w.end_empty();
        w.base64_element("ds:DigestValue", &r.digest_value);
        w.end("ds:Reference");
    }
    w.end("ds:SignedInfo");
    w.base64_element("ds:SignatureValue", &s.signature_value);
    if let Some(ki) = &s.key_info {
        key_info(w, ki);
    }
    w.end("ds:Signature");
}

fn transform(w: &mut Writer, name: &str, t: &Transform) {
    w.start(name);
    w.attr("Algorithm", &t.algorithm);
    match &t.inclusive_namespaces {
        Some(list) => {
            w.close_start();
            w.start("ec:InclusiveNamespaces");
            w.attr("xmlns:ec", EC_NS);
            w.attr("PrefixList", list);
            w.end_empty();
            w.end(name);
        }
        None => w.end_empty(),
    }
}

/// Children grouped by kind in field order. `KeyValue::Unsupported` and the count of
/// unsupported children carry no content and are not written.
fn key_info(w: &mut Writer, ki: &KeyInfo) {
    w.start("ds:KeyInfo");
    w.attr_opt("Id", ki.id.as_deref());
    w.close_start();
    for name in &ki.key_names {
        w.text_element("ds:KeyName", name);
    }
    for kv in &ki.key_values {
        if let KeyValue::Rsa(rsa) = kv {
            w.open("ds:KeyValue");
            w.open("ds:RSAKeyValue");
            w.base64_element("ds:Modulus", &rsa.modulus);
            w.base64_element("ds:Exponent", &rsa.exponent);
            w.end("ds:RSAKeyValue");
            w.end("ds:KeyValue");
        }
    }
    for rm in &ki.retrieval_methods {
        w.start("ds:RetrievalMethod");
        w.attr("URI", &rm.uri);
        w.attr_opt("Type", rm.type_.as_deref());
        w.end_empty();
    }
    for x in &ki.x509_data {
        w.open("ds:X509Data");
        for is in &x.issuer_serials {
            w.open("ds:X509IssuerSerial");
            w.text_element("ds:X509IssuerName", &is.issuer_name);
            w.text_element("ds:X509SerialNumber", &is.serial_number);
            w.end("ds:X509IssuerSerial");
        }
        for ski in &x.skis {
            w.base64_element("ds:X509SKI", ski);
        }
        for name in &x.subject_names {
            w.text_element("ds:X509SubjectName", name);
        }
        for cert in &x.certificates {
            w.base64_element("ds:X509Certificate", cert);
        }
        for crl in &x.crls {
            w.base64_element("ds:X509CRL", crl);
        }
        w.end("ds:X509Data");
    }
    w.end("ds:KeyInfo");
}

fn encrypted_data(w: &mut Writer, e: &EncryptedData) {
    w.start("xenc:EncryptedData");
    w.attr_opt("Id", e.id.as_deref());
    w.attr_opt("Type", e.type_.as_deref());
    w.attr_opt("MimeType", e.mime_type.as_deref());
    w.attr_opt("Encoding", e.encoding.as_deref());
    w.close_start();
    if let Some(alg) = &e.encryption_method {
        w.start("xenc:EncryptionMethod");
        w.attr("Algorithm", alg);
        w.end_empty();
    }
    if let Some(ki) = &e.key_info {
        key_info(w, ki);
    }
    w.open("xenc:CipherData");
    w.base64_element("xenc:CipherValue", &e.cipher_value);
    w.end("xenc:CipherData");
    w.end("xenc:EncryptedData");
}

// ---------------------------------------------------------------------------------------------
// Low-level writer

struct Writer {
    out: String,
    /// The next start tag is the root: it gets the namespace declarations.
    root_pending: bool,
}

impl Writer {
    fn new(root_pending: bool) -> Self {
        Writer {
            out: String::with_capacity(1024),
            root_pending,
        }
    }

    /// `<name` (attributes may follow).
    fn start(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        if self.root_pending {
            self.root_pending = false;
            self.attr("xmlns", XKMS_NS);
            self.attr("xmlns:ds", DS_NS);
            self.attr("xmlns:xenc", XENC_NS);
        }
    }

    /// `<name>`
    fn open(&mut self, name: &str) {
        self.start(name);
        self.close_start();
    }

    fn attr(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value, true);
        self.out.push('"');
    }

    fn attr_opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.attr(name, v);
        }
    }

    fn close_start(&mut self) {
        self.out.push('>');
    }

    fn end_empty(&mut self) {
        self.out.push_str("/>");
    }

    fn end(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>base64 of bytes</name>`, encoded straight into the output (base64 needs
    /// no escaping).
    fn base64_element(&mut self, name: &str, bytes: &[u8]) {
        self.open(name);
        encode_base64_into(bytes, &mut self.out);
        self.end(name);
    }

    /// `<name>text</name>`, also when empty, so a signer can fill a template value in.
    fn text_element(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(&mut self.out, text, false);
        self.end(name);
    }
}

/// Escapes character data; in attributes also `"` and the whitespace characters that
/// attribute-value normalization would otherwise turn into spaces. A character XML 1.0
/// does not allow at all (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF), not even
/// as a character reference, is written as U+FFFD: the output is always well-formed, and
/// a string of our own model holding one (a certificate name, an echoed value) cannot make
/// an answer that no peer can parse.
pub(crate) fn escape_into(out: &mut String, text: &str, attribute: bool) {
    // Runs of characters that need nothing are copied whole (certificates and keys are
    // long base64 runs: this was 8 % of Locate's CPU char by char). Only a few bytes can
    // start a character that needs a look: the ASCII specials, C0 controls, and 0xEF, the
    // first byte of U+FFFE and U+FFFF; every other byte is passed over without decoding.
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b >= 0x20 && !matches!(b, b'&' | b'<' | b'>' | b'"' | 0xEF) {
            i += 1;
            continue;
        }
        // `i` is on a character boundary: an ASCII byte or a lead byte.
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let replacement = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' if attribute => "&quot;",
            '\t' if attribute => "&#9;",
            '\n' if attribute => "&#10;",
            '\r' => "&#13;",
            c if !is_xml_char(c) => "\u{FFFD}",
            _ => {
                i += c.len_utf8();
                continue;
            }
        };
        out.push_str(&text[start..i]);
        out.push_str(replacement);
        i += c.len_utf8();
        start = i;
    }
    out.push_str(&text[start..]);
}

/// XML 1.0 `Char`: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
/// (a `char` is never a surrogate).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run-copying escaper writes exactly what escaping one character at a time does.
    #[test]
    fn escaping_runs_matches_escaping_each_character() {
        // The rule, character by character, written independently of the escaper.
        fn one_by_one(text: &str, attribute: bool) -> String {
            let mut out = String::new();
            for c in text.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' if attribute => out.push_str("&quot;"),
                    '\t' if attribute => out.push_str("&#9;"),
                    '\n' if attribute => out.push_str("&#10;"),
                    '\r' => out.push_str("&#13;"),
                    c if !is_xml_char(c) => out.push('\u{FFFD}'),
                    c => out.push(c),
                }
            }
            out
        }
        for text in [
            "",
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
            "&",
            "a&b<c>\"d\"\te\nf\r",
            "é\u{FFFE}x\u{1}\u{FFFF}ü€\u{10000}<",
            "\u{0}\u{0}end",
            "\u{FFFD}\u{FEFF}\u{EFFF}\u{F000}ﬀ\u{FFFE}",
            "\u{7F}\u{1F}\u{20}é\"'&&",
        ] {
            for attribute in [false, true] {
                let mut whole = String::new();
                escape_into(&mut whole, text, attribute);
                assert_eq!(whole, one_by_one(text, attribute), "{text:?} {attribute}");
            }
        }
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        escape_into(&mut s, "a&b<c>\"d\"\te\nf\r", true);
        assert_eq!(s, "a&amp;b&lt;c&gt;&quot;d&quot;&#9;e&#10;f&#13;");
        let mut s = String::new();
        escape_into(&mut s, "a&b<c>\"d\"\te\nf\r", false);
        assert_eq!(s, "a&amp;b&lt;c&gt;\"d\"\te\nf&#13;");
    }

    #[test]
    fn characters_xml_forbids_become_the_replacement_character() {
        for attribute in [false, true] {
            let mut s = String::new();
            escape_into(
                &mut s,
                "a\u{0}b\u{1}c\u{1F}d\u{FFFE}e\u{FFFF}f\u{7F}\u{A0}\u{10FFFF}",
                attribute,
            );
            assert_eq!(
                s,
                "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{7F}\u{A0}\u{10FFFF}"
            );
        }
    }

    #[test]
    fn root_declares_namespaces_once() {
        let msg = Message::Result(ResultMessage::Result(ResultAbstract {
            message: MessageAbstract {
                id: "I1".into(),
                service: "http://x/".into(),
                ..MessageAbstract::default()
            },
            ..ResultAbstract::default()
        }));
        let xml = write_message(&msg);
        assert!(xml.starts_with(
            "<Result xmlns=\"http://www.w3.org/2002/03/xkms#\" \
             xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" \
             xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Id=\"I1\""
        ));
        assert_eq!(xml.matches("xmlns=").count(), 1);
    }

    #[test]
    fn empty_opaque_client_data_is_written() {
        let mut m = ResultAbstract::default();
        m.message.opaque_client_data = Some(Vec::new());
        let xml = write_message(&Message::Result(ResultMessage::Result(m)));
        assert!(xml.contains("<OpaqueClientData/>"));
    }
}
