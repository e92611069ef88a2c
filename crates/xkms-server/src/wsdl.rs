//! The service description: `GET /xkms?wsdl` (WSDL 1.1, the W3C XKMS port type with a
//! SOAP 1.1 and a SOAP 1.2 document/literal binding, `soap:address` = the Service URI) and
//! `GET /schema/{name}` (the three W3C schemas it imports, without the DTD that `xkms.xsd`
//! carries — strict toolkits refuse DTDs).

use xkms_proto::Operation;

/// The W3C schemas, verbatim (see `schema/README.md`).
const XKMS_XSD: &str = include_str!("../schema/xkms.xsd");
const XMLDSIG_XSD: &str = include_str!("../schema/xmldsig-core-schema.xsd");
const XENC_XSD: &str = include_str!("../schema/xenc-schema.xsd");

/// A served schema by file name, DTD-free.
pub fn schema(name: &str) -> Option<String> {
    let text = match name {
        "xkms.xsd" => XKMS_XSD,
        "xmldsig-core-schema.xsd" => XMLDSIG_XSD,
        "xenc-schema.xsd" => XENC_XSD,
        _ => return None,
    };
    Some(without_doctype(text))
}

/// `xml` without its document type declaration (the internal subset included).
fn without_doctype(xml: &str) -> String {
    let Some(start) = xml.find("<!DOCTYPE") else {
        return xml.to_owned();
    };
    // The internal subset ends with "]>"; a DOCTYPE without one ends at the first '>'.
    let rest = &xml[start..];
    let end = match (rest.find('['), rest.find('>')) {
        (Some(open), Some(gt)) if open < gt => rest.find("]>").map(|i| i + 2),
        (_, Some(gt)) => Some(gt + 1),
        _ => None,
    };
    match end {
        Some(end) => format!("{}{}", &xml[..start], rest[end..].trim_start()),
        None => xml.to_owned(),
    }
}

/// The WSDL for a service at `service_uri`; schemas are imported from `schema_base`
/// (`…/schema/`).
pub fn wsdl(service_uri: &str, schema_base: &str) -> String {
    let service_uri = escape(service_uri);
    let schema_base = escape(schema_base);
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(&format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap11="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:tns="http://www.w3.org/2002/03/xkms#wsdl"
    xmlns:xkms="http://www.w3.org/2002/03/xkms#"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    name="XMLKeyManagement" targetNamespace="http://www.w3.org/2002/03/xkms#wsdl">
  <wsdl:types>
    <xsd:schema>
      <xsd:import namespace="http://www.w3.org/2002/03/xkms#" schemaLocation="{schema_base}xkms.xsd"/>
    </xsd:schema>
  </wsdl:types>
"#
    ));
    let mut messages: Vec<&str> = Vec::new();
    for op in Operation::ALL {
        for element in [op.request_element(), op.result_element()] {
            if !messages.contains(&element) {
                messages.push(element);
                out.push_str(&format!(
                    "  <wsdl:message name=\"{element}\"><wsdl:part name=\"body\" element=\"xkms:{element}\"/></wsdl:message>\n"
                ));
            }
        }
    }
    out.push_str("  <wsdl:portType name=\"XKMSPortType\">\n");
    for op in Operation::ALL {
        let (request, result) = (op.request_element(), op.result_element());
        out.push_str(&format!(
            "    <wsdl:operation name=\"{op}\"><wsdl:input message=\"tns:{request}\"/><wsdl:output message=\"tns:{result}\"/></wsdl:operation>\n"
        ));
    }
    out.push_str("  </wsdl:portType>\n");
    for (binding, soap) in [("SOAPBinding", "soap11"), ("SOAP12Binding", "soap12")] {
        out.push_str(&format!(
            "  <wsdl:binding name=\"{binding}\" type=\"tns:XKMSPortType\">\n    <{soap}:binding transport=\"http://schemas.xmlsoap.org/soap/http\" style=\"document\"/>\n"
        ));
        for op in Operation::ALL {
            out.push_str(&format!(
                "    <wsdl:operation name=\"{op}\"><{soap}:operation soapAction=\"\"/><wsdl:input><{soap}:body use=\"literal\"/></wsdl:input><wsdl:output><{soap}:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
            ));
        }
        out.push_str("  </wsdl:binding>\n");
    }
    out.push_str(&format!(
        r#"  <wsdl:service name="XKMSService">
    <wsdl:port name="XKMSPort" binding="tns:SOAPBinding"><soap11:address location="{service_uri}"/></wsdl:port>
    <wsdl:port name="XKMSSoap12Port" binding="tns:SOAP12Binding"><soap12:address location="{service_uri}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#
    ));
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_schemas_have_no_dtd_and_are_otherwise_verbatim() {
        let xkms = schema("xkms.xsd").unwrap();
        assert!(!xkms.contains("<!DOCTYPE") && !xkms.contains("<!ENTITY"));
        assert!(xkms.starts_with("<?xml version=\"1.0\"?>\n<schema "));
        let body = &XKMS_XSD[XKMS_XSD.find("<schema ").unwrap()..];
        assert!(xkms.ends_with(body));
        for name in ["xmldsig-core-schema.xsd", "xenc-schema.xsd"] {
            assert!(!schema(name).unwrap().contains("<!DOCTYPE"), "{name}");
        }
        assert!(schema("../Cargo.toml").is_none());
    }

    #[test]
    fn the_wsdl_names_the_service_uri_in_both_bindings() {
        let w = wsdl("http://h:1/xkms?a=1&b=2", "http://h:1/schema/");
        assert_eq!(
            w.matches("location=\"http://h:1/xkms?a=1&amp;b=2\"")
                .count(),
            2
        );
        assert!(w.contains("schemaLocation=\"http://h:1/schema/xkms.xsd\""));
        assert_eq!(w.matches("<wsdl:operation name=\"Locate\">").count(), 3);
    }
}
