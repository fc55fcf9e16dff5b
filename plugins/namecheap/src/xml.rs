//! A small, strict element tree over quick-xml's event reader: enough for
//! Namecheap's `ApiResponse` documents, and an error for anything it does
//! not understand (malformed XML, an unknown entity, a stray end tag, text
//! after the root), so no caller ever acts on half a document.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

/// One element: local name (namespace prefix dropped), attributes in
/// document order, child elements and concatenated text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The value of attribute `name` (exact case).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `name` (ASCII case-insensitive).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

fn element(start: &BytesStart) -> Result<Element, String> {
    let name = start.local_name().as_ref().to_string();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("attribute of <{name}>: {e}"))?;
        let key = attr.key.local_name().as_ref().to_string();
        // `xmlns` declarations are not data.
        let qualified: &str = attr.key.as_ref();
        if qualified == "xmlns" || qualified.starts_with("xmlns:") {
            continue;
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("attribute {key} of <{name}>: {e}"))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

/// Parses a whole document into its root element.
pub fn parse(document: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(document);
    // Text is kept whole (entities split it into several events); callers
    // trim what they read.
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err("a second root element".into());
                }
                stack.push(element(&start)?);
            }
            Event::Empty(start) => {
                let e = element(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(e),
                    None if root.is_none() => root = Some(e),
                    None => return Err("a second root element".into()),
                }
            }
            Event::End(_) => {
                // The reader checks that end tags match their start tags.
                let done = stack.pop().ok_or("an end tag without a start tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                match stack.last_mut() {
                    Some(e) => e.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(data) => {
                let content = data.into_inner().into_owned();
                match stack.last_mut() {
                    Some(e) => e.text.push_str(&content),
                    None => return Err("CDATA outside the root element".into()),
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|e| format!("character reference: {e}"))?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name = reference.xml10_content();
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?
                            .to_string()
                    }
                };
                match stack.last_mut() {
                    Some(e) => e.text.push_str(&resolved),
                    None => return Err("an entity outside the root element".into()),
                }
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err("a DOCTYPE is not expected here".into()),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(format!("the document ends inside <{}>", stack[0].name));
    }
    root.ok_or_else(|| "no root element".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_elements_attributes_text_and_entities() {
        let root = parse(
            r#"<?xml version="1.0" encoding="utf-8"?>
<a xmlns="http://x" k="v &amp; &quot;w&quot;"><b/><c n="1">t &lt; u&#33;</c></a>"#,
        )
        .unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(root.attrs, [("k".to_string(), "v & \"w\"".to_string())]);
        assert_eq!(root.children.len(), 2);
        let c = root.child("C").unwrap();
        assert_eq!(c.attr("n"), Some("1"));
        assert_eq!(c.text, "t < u!");
    }

    #[test]
    fn rejects_what_it_cannot_read_whole() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "<a/><b/>",
            "<a>&nbsp;</a>",
            "<a x=\"1\" x=\"2\"/>",
            "",
            "just text",
            "<a></a>trailing",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
