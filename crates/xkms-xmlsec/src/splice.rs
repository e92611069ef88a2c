//! Edits of a well-formed document's text that keep everything else byte for byte: a
//! value into an empty element, a fragment as an element's first child, declarations at
//! the end of a start tag. Signing works on our parse of the text, but what leaves this
//! crate is the caller's text with only these edits, so no re-serialization can change
//! what another party's signature covers.

/// Where element `node` stands in the text `doc` was parsed from, and its qualified name.
pub(crate) fn element_span(
    doc: &uppsala::Document<'_>,
    node: uppsala::NodeId,
) -> Option<(std::ops::Range<usize>, String)> {
    let range = doc.node_range(node)?;
    let name = doc.element(node)?.name.prefixed_name().into_owned();
    Some((range, name))
}

/// `<x></x>`, `<x> </x>` or `<x/>` (source text of an empty element) with `value` as content.
pub(crate) fn fill_empty_element(
    source: &str,
    name: &str,
    value: &str,
) -> Result<String, crate::XmlSecError> {
    if let Some(head) = source.strip_suffix("/>") {
        return Ok(format!("{head}>{value}</{name}>"));
    }
    let end_tag = source.rfind("</").ok_or(crate::XmlSecError::Template)?;
    let head = source[..end_tag].trim_end();
    if !head.ends_with('>') {
        return Err(crate::XmlSecError::Template);
    }
    Ok(format!("{head}{value}{}", &source[end_tag..]))
}

/// `xml` with `fragment` inserted as the first child of the element whose start tag begins at
/// byte `start` (qualified name `name`); a self-closing tag is opened up.
pub(crate) fn insert_first_child(
    xml: &str,
    start: usize,
    name: &str,
    fragment: &str,
) -> Result<String, crate::XmlSecError> {
    let tag = xml.get(start..).ok_or(crate::XmlSecError::Backend)?;
    let (end, self_closing) = start_tag_end(tag).ok_or(crate::XmlSecError::Backend)?;
    let end = start + end;
    let mut out = String::with_capacity(xml.len() + fragment.len() + name.len() + 3);
    out.push_str(&xml[..end]);
    out.push('>');
    out.push_str(fragment);
    if self_closing {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
        out.push_str(&xml[end + 2..]);
    } else {
        out.push_str(&xml[end + 1..]);
    }
    Ok(out)
}

/// `source` (an element's text) with `declarations` added at the end of its start tag.
pub(crate) fn with_declarations(
    source: &str,
    declarations: &str,
) -> Result<String, crate::XmlSecError> {
    if declarations.is_empty() {
        return Ok(source.to_owned());
    }
    let (end, _) = start_tag_end(source).ok_or(crate::XmlSecError::Backend)?;
    let mut out = String::with_capacity(source.len() + declarations.len());
    out.push_str(&source[..end]);
    out.push_str(declarations);
    out.push_str(&source[end..]);
    Ok(out)
}

/// Where the first start tag of `source` ends: the byte of its `>`, or of the `/` of `/>`,
/// and whether it is self-closing. Inside a start tag of a well-formed document, `>` occurs
/// only in quoted attribute values.
fn start_tag_end(source: &str) -> Option<(usize, bool)> {
    let mut quote = None;
    for (i, c) in source.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => {
                let slash = i > 0 && source.as_bytes().get(i - 1) == Some(&b'/');
                return Some(if slash { (i - 1, true) } else { (i, false) });
            }
            _ => {}
        }
    }
    None
}

/// `s` as an attribute value between double quotes.
pub(crate) fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_handles_all_empty_forms() {
        assert_eq!(fill_empty_element("<a></a>", "a", "X").unwrap(), "<a>X</a>");
        assert_eq!(
            fill_empty_element("<a>\n </a>", "a", "X").unwrap(),
            "<a>X</a>"
        );
        assert_eq!(
            fill_empty_element("<ds:a/>", "ds:a", "X").unwrap(),
            "<ds:a>X</ds:a>"
        );
        assert_eq!(
            fill_empty_element("<a xmlns=\"u\" />", "a", "X").unwrap(),
            "<a xmlns=\"u\" >X</a>"
        );
    }

    #[test]
    fn insertion_handles_open_and_self_closing_tags() {
        let xml = "<a><b x='>' Id=\"m\">t</b></a>";
        let start = xml.find("<b").unwrap();
        assert_eq!(
            insert_first_child(xml, start, "b", "<S/>").unwrap(),
            "<a><b x='>' Id=\"m\"><S/>t</b></a>"
        );
        let xml = "<p:b xmlns:p=\"u\" y=\"/\"/>";
        assert_eq!(
            insert_first_child(xml, 0, "p:b", "<S/>").unwrap(),
            "<p:b xmlns:p=\"u\" y=\"/\"><S/></p:b>"
        );
    }

    #[test]
    fn declarations_go_before_the_end_of_the_start_tag() {
        assert_eq!(
            with_declarations("<a x='>'/>", " xmlns:b=\"u\"").unwrap(),
            "<a x='>' xmlns:b=\"u\"/>"
        );
        assert_eq!(
            with_declarations("<a>t</a>", " xmlns=\"u\"").unwrap(),
            "<a xmlns=\"u\">t</a>"
        );
        assert_eq!(escape_attr("a&<\"'>"), "a&amp;&lt;&quot;'>");
    }
}
