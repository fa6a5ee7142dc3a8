//! XML: a pull parser (quick-xml) shared by the generic XML reader and the
//! office formats. Entities a document type defines are never expanded (a
//! "billion laughs" file stays as small as it is): only XML's five and
//! character references are resolved; any other `&name;` is kept as written.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::{Format, Out, ReadError};

/// One step of a walk over an XML document.
pub enum Node<'a, 'e> {
    /// An element opens (an empty element is an `Open` then a `Close`).
    Open(&'a str, &'a BytesStart<'e>),
    Close(&'a str),
    Text(&'a str),
}

/// The local name of a qualified name: `w:p` → `p`.
pub fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// An attribute's value by local name (`w:val` matches `val`).
pub fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| local(a.key.as_ref()) == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

/// Walk `xml`, handing each node to `f`; `f` returns false to stop early.
pub fn walk(xml: &str, format: Format, mut f: impl FnMut(Node) -> bool) -> Result<(), ReadError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = false;
    let corrupt = |e: String, pos: u64| ReadError::Corrupt { format, detail: format!("bad XML at byte {pos}: {e}") };
    loop {
        let go = match reader.read_event() {
            Err(e) => return Err(corrupt(e.to_string(), reader.error_position())),
            Ok(Event::Eof) => return Ok(()),
            Ok(Event::Start(e)) => {
                let name = e.name();
                f(Node::Open(local(name.as_ref()), &e))
            }
            Ok(Event::Empty(e)) => {
                let name = e.name();
                let n = local(name.as_ref());
                f(Node::Open(n, &e)) && f(Node::Close(n))
            }
            Ok(Event::End(e)) => {
                let name = e.name();
                f(Node::Close(local(name.as_ref())))
            }
            Ok(Event::Text(t)) => f(Node::Text(&t.xml_content(XmlVersion::Implicit1_0))),
            Ok(Event::CData(t)) => f(Node::Text(&t.xml_content(XmlVersion::Implicit1_0))),
            Ok(Event::GeneralRef(r)) => {
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match &*r.xml10_content() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => format!("&{other};"),
                    },
                };
                f(Node::Text(&text))
            }
            // A DOCTYPE (and its entity definitions), comments, processing
            // instructions: not content, never interpreted.
            Ok(_) => true,
        };
        if !go {
            return Ok(());
        }
    }
}

/// Generic XML as an outline: each element's direct text on a line, under
/// its name, indented by depth (up to 8 levels of indentation).
pub fn text(bytes: &[u8], out: &mut Out) -> Result<(), ReadError> {
    let xml = crate::text::decode(bytes);
    let mut path: Vec<String> = Vec::new();
    let mut pending = String::new();
    let flush = |path: &[String], pending: &mut String, out: &mut Out| {
        let t = pending.split_whitespace().collect::<Vec<_>>().join(" ");
        pending.clear();
        if !t.is_empty() {
            let depth = path.len().saturating_sub(1).min(8);
            let name = path.last().map(String::as_str).unwrap_or("");
            out.line(&format!("{}{name}: {t}", "  ".repeat(depth)));
        }
    };
    walk(&xml, Format::Xml, |n| {
        match n {
            Node::Open(name, _) => {
                flush(&path, &mut pending, out);
                path.push(name.to_owned());
            }
            Node::Close(_) => {
                flush(&path, &mut pending, out);
                path.pop();
            }
            Node::Text(t) => pending.push_str(t),
        }
        !out.full()
    })?;
    flush(&path, &mut pending, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outline_of_elements_and_text() {
        let mut out = Out::new(10_000);
        text(b"<?xml version='1.0'?><feed><entry><title>A &amp; B</title><n>1&#x41;</n></entry></feed>", &mut out)
            .unwrap();
        assert_eq!(out.text, "    title: A & B\n    n: 1A\n");
    }

    #[test]
    fn defined_entities_are_not_expanded() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">
            <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"#;
        let mut out = Out::new(10_000);
        text(laughs.as_bytes(), &mut out).unwrap();
        assert_eq!(out.text.trim(), "lolz: &lol3;");
    }
}
