//! Word documents (docx), PowerPoint presentations (pptx) and EPUB books:
//! zip containers of XML, read with the archive budget and the XML walker.
//! Written here rather than taken from a crate: the docx/pptx crates for
//! Rust are writers or full object models that parse far more than the
//! text (and build for wasm only in part); the reading needed is a walk
//! over a few element names.

use std::collections::HashMap;

use crate::archive::{self, Budget, Zip};
use crate::xml::{Node, attr, walk};
use crate::{Format, Out, ReadError, write_table};

/// Relationship ids to targets, from a part's `_rels/*.rels`.
fn relationships(
    z: &mut Zip,
    part: &str,
    format: Format,
    budget: &mut Budget,
) -> Result<HashMap<String, (String, String)>, ReadError> {
    let (dir, file) = part.rsplit_once('/').unwrap_or(("", part));
    let rels = if dir.is_empty() { format!("_rels/{file}.rels") } else { format!("{dir}/_rels/{file}.rels") };
    let mut map = HashMap::new();
    if let Some(xml) = archive::member_text(z, &rels, format, budget)? {
        walk(&xml, format, |n| {
            if let Node::Open("Relationship", e) = n
                && let (Some(id), Some(target)) = (attr(e, "Id"), attr(e, "Target"))
            {
                map.insert(id, (target, attr(e, "Type").unwrap_or_default()));
            }
            true
        })?;
    }
    Ok(map)
}

/// A path relative to a part's folder, `..` resolved.
fn resolve(base_dir: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return abs.to_owned();
    }
    let mut parts: Vec<&str> = base_dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// The state of a docx walk: the paragraph being built, the table rows
/// being gathered (tables nest: a stack).
#[derive(Default)]
struct Docx {
    para: String,
    heading: usize,
    list_level: Option<usize>,
    in_text: bool,
    link: Option<String>,
    link_text: String,
    tables: Vec<Vec<Vec<String>>>,
    cell: Option<String>,
}

impl Docx {
    fn text(&mut self, t: &str) {
        if self.link.is_some() {
            self.link_text.push_str(t);
        } else {
            self.para.push_str(t);
        }
    }

    fn end_paragraph(&mut self, out: &mut Out) {
        let text = std::mem::take(&mut self.para).trim().to_owned();
        let (heading, list) = (std::mem::take(&mut self.heading), self.list_level.take());
        if text.is_empty() {
            return;
        }
        if let Some(cell) = &mut self.cell {
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(&text);
            return;
        }
        if heading > 0 {
            out.para();
            out.line(&format!("{} {text}", "#".repeat(heading.min(6))));
            out.para();
        } else if let Some(level) = list {
            out.line(&format!("{}- {text}", "  ".repeat(level.min(8))));
        } else {
            out.para();
            out.line(&text);
            out.para();
        }
    }
}

/// The heading level a paragraph style means: `Title` 1, `Heading2` 2...
fn heading_level(style: &str) -> usize {
    let s = style.to_ascii_lowercase().replace(' ', "");
    if s == "title" {
        return 1;
    }
    s.strip_prefix("heading").and_then(|n| n.parse::<usize>().ok()).map_or(0, |n| n.clamp(1, 6))
}

pub fn docx(bytes: &[u8], budget: &mut Budget, out: &mut Out) -> Result<(), ReadError> {
    let f = Format::Docx;
    let mut z = archive::open(bytes, f)?;
    let rels = relationships(&mut z, "word/document.xml", f, budget)?;
    let xml = archive::member_text(&mut z, "word/document.xml", f, budget)?
        .ok_or_else(|| ReadError::Corrupt { format: f, detail: "it has no word/document.xml".into() })?;
    let mut d = Docx::default();
    walk(&xml, f, |n| {
        match n {
            Node::Open("pStyle", e) => d.heading = attr(e, "val").map_or(0, |s| heading_level(&s)),
            Node::Open("ilvl", e) => d.list_level = attr(e, "val").and_then(|v| v.parse().ok()).or(Some(0)),
            Node::Open("numPr", _) => d.list_level = d.list_level.or(Some(0)),
            Node::Open("t", _) => d.in_text = true,
            Node::Close("t") => d.in_text = false,
            Node::Open("tab", _) => d.text("\t"),
            Node::Open("br" | "cr", _) => d.text(" "),
            Node::Open("hyperlink", e) => {
                d.link = attr(e, "id").and_then(|id| rels.get(&id).map(|r| r.0.clone())).or(Some(String::new()));
            }
            Node::Close("hyperlink") => {
                let text = std::mem::take(&mut d.link_text);
                match d.link.take() {
                    Some(url) if !url.is_empty() && !text.trim().is_empty() => {
                        d.para.push_str(&format!("[{text}]({url})"))
                    }
                    _ => d.para.push_str(&text),
                }
            }
            Node::Text(t) if d.in_text => d.text(t),
            Node::Close("p") => d.end_paragraph(out),
            Node::Open("tbl", _) => {
                if let Some(cell) = d.cell.take() {
                    // A table inside a cell: its text joins the outer cell.
                    d.tables.last_mut().and_then(|t| t.last_mut()).map(|row| row.push(cell));
                }
                d.tables.push(Vec::new());
            }
            Node::Open("tr", _) => d.tables.last_mut().map(|t| t.push(Vec::new())).unwrap_or(()),
            Node::Open("tc", _) => d.cell = Some(String::new()),
            Node::Close("tc") => {
                let cell = d.cell.take().unwrap_or_default();
                if let Some(row) = d.tables.last_mut().and_then(|t| t.last_mut()) {
                    row.push(cell);
                }
            }
            Node::Close("tbl") => {
                let rows = d.tables.pop().unwrap_or_default();
                if let Some(outer) = d.tables.last_mut().and_then(|t| t.last_mut()) {
                    let flat: Vec<String> = rows.into_iter().map(|r| r.join(" ")).collect();
                    outer.push(flat.join(" / "));
                    d.cell = None;
                } else {
                    out.para();
                    write_table(&rows, out);
                    out.para();
                }
            }
            _ => {}
        }
        !out.full()
    })
}

pub fn pptx(bytes: &[u8], budget: &mut Budget, out: &mut Out) -> Result<(), ReadError> {
    let f = Format::Pptx;
    let mut z = archive::open(bytes, f)?;
    let mut slides: Vec<(u32, String)> = z
        .file_names()
        .filter_map(|n| {
            let n = n.ok()?;
            let num = n.strip_prefix("ppt/slides/slide")?.strip_suffix(".xml")?.parse().ok()?;
            Some((num, n.into_owned()))
        })
        .collect();
    slides.sort();
    if slides.is_empty() && z.index_for_name("ppt/presentation.xml").is_none() {
        return Err(ReadError::Corrupt { format: f, detail: "it has no ppt/presentation.xml".into() });
    }
    for (num, part) in slides {
        let xml = archive::member_text(&mut z, &part, f, budget)?.unwrap_or_default();
        let (title, body) = slide_text(&xml, f)?;
        out.para();
        out.line(&if title.is_empty() { format!("## Slide {num}") } else { format!("## Slide {num}: {title}") });
        for line in body {
            out.line(&line);
        }
        let rels = relationships(&mut z, &part, f, budget)?;
        if let Some((target, _)) = rels.values().find(|(_, kind)| kind.ends_with("/notesSlide")) {
            let notes_part = resolve("ppt/slides", target);
            let xml = archive::member_text(&mut z, &notes_part, f, budget)?.unwrap_or_default();
            let notes = notes_text(&xml, f)?;
            if !notes.is_empty() {
                out.para();
                out.line("Notes:");
                for line in notes {
                    out.line(&line);
                }
            }
        }
        if out.full() {
            break;
        }
    }
    Ok(())
}

/// A slide's title (its title placeholder) and its other paragraphs.
fn slide_text(xml: &str, f: Format) -> Result<(String, Vec<String>), ReadError> {
    let (mut title, mut body) = (String::new(), Vec::new());
    let (mut in_title, mut in_text, mut para) = (false, false, String::new());
    walk(xml, f, |n| {
        match n {
            Node::Open("sp", _) => in_title = false,
            Node::Open("ph", e) => in_title = matches!(attr(e, "type").as_deref(), Some("title" | "ctrTitle")),
            Node::Open("t", _) => in_text = true,
            Node::Close("t") => in_text = false,
            Node::Text(t) if in_text => para.push_str(t),
            Node::Open("br", _) => para.push(' '),
            Node::Close("p") => {
                let p = std::mem::take(&mut para).trim().to_owned();
                if p.is_empty() {
                } else if in_title {
                    if !title.is_empty() {
                        title.push(' ');
                    }
                    title.push_str(&p);
                } else {
                    body.push(format!("- {p}"));
                }
            }
            _ => {}
        }
        true
    })?;
    Ok((title, body))
}

/// The speaker notes of a notes slide: its body placeholder's text (the
/// slide image and the slide number placeholder are not notes).
fn notes_text(xml: &str, f: Format) -> Result<Vec<String>, ReadError> {
    let mut lines = Vec::new();
    let (mut in_body, mut in_text, mut para) = (false, false, String::new());
    walk(xml, f, |n| {
        match n {
            Node::Open("sp", _) => in_body = false,
            Node::Open("ph", e) => in_body = attr(e, "type").as_deref() == Some("body"),
            Node::Open("t", _) => in_text = true,
            Node::Close("t") => in_text = false,
            Node::Text(t) if in_text && in_body => para.push_str(t),
            Node::Close("p") => {
                let p = std::mem::take(&mut para).trim().to_owned();
                if !p.is_empty() {
                    lines.push(p);
                }
            }
            _ => {}
        }
        true
    })?;
    Ok(lines)
}

/// An EPUB: its chapters in reading order (the package's spine), each an
/// XHTML page read like HTML.
pub fn epub(bytes: &[u8], budget: &mut Budget, out: &mut Out) -> Result<(), ReadError> {
    let f = Format::Epub;
    let mut z = archive::open(bytes, f)?;
    let container = archive::member_text(&mut z, "META-INF/container.xml", f, budget)?
        .ok_or_else(|| ReadError::Corrupt { format: f, detail: "it has no META-INF/container.xml".into() })?;
    let mut opf_path = None;
    walk(&container, f, |n| {
        if let Node::Open("rootfile", e) = n {
            opf_path = attr(e, "full-path");
        }
        opf_path.is_none()
    })?;
    let opf_path =
        opf_path.ok_or_else(|| ReadError::Corrupt { format: f, detail: "its container names no package".into() })?;
    let opf = archive::member_text(&mut z, &opf_path, f, budget)?
        .ok_or_else(|| ReadError::Corrupt { format: f, detail: format!("its package {opf_path} is missing") })?;
    let (mut items, mut spine, mut title, mut in_title) = (HashMap::new(), Vec::new(), String::new(), false);
    walk(&opf, f, |n| {
        match n {
            Node::Open("item", e) => {
                if let (Some(id), Some(href)) = (attr(e, "id"), attr(e, "href")) {
                    items.insert(id, href);
                }
            }
            Node::Open("itemref", e) => spine.extend(attr(e, "idref")),
            Node::Open("title", _) => in_title = title.is_empty(),
            Node::Close("title") => in_title = false,
            Node::Text(t) if in_title => title.push_str(t),
            _ => {}
        }
        true
    })?;
    if !title.trim().is_empty() {
        out.line(&format!("# {}", title.trim()));
    }
    let base = opf_path.rsplit_once('/').map_or("", |(d, _)| d);
    for id in spine {
        let Some(href) = items.get(&id) else { continue };
        let part = resolve(base, href.split('#').next().unwrap_or(href));
        if let Some(xhtml) = archive::member_text(&mut z, &part, f, budget)? {
            out.para();
            let page = crate::html::page(&xhtml, None);
            out.push(&page.text);
        }
        if out.full() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_styles_and_paths() {
        assert_eq!(heading_level("Heading1"), 1);
        assert_eq!(heading_level("heading 3"), 3);
        assert_eq!(heading_level("Title"), 1);
        assert_eq!(heading_level("Normal"), 0);
        assert_eq!(resolve("ppt/slides", "../notesSlides/notesSlide1.xml"), "ppt/notesSlides/notesSlide1.xml");
        assert_eq!(resolve("OEBPS", "text/ch1.xhtml"), "OEBPS/text/ch1.xhtml");
    }
}
