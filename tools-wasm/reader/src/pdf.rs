//! PDF text per page with pdf-extract (over lopdf, both pure Rust): it
//! places glyphs by their positions and decodes fonts' encodings and CMaps,
//! which lopdf's own `extract_text` does not.
//!
//! Before extraction the page tree is checked for cycles (a page whose
//! parents loop back would send any inherited-attribute lookup round
//! forever); extraction then stops at [`Limits::max_pages`] or when the
//! output is full, whichever comes first.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use lopdf::{Document, Object, ObjectId};
use pdf_extract::{ConvertToFmt, MediaBox, OutputDev, OutputError, PlainTextOutput, Transform};

use crate::{Format, Limits, Out, ReadError};

const F: Format = Format::Pdf;

pub fn convert(bytes: &[u8], limits: &Limits, out: &mut Out) -> Result<(), ReadError> {
    let mut doc = Document::load_mem(bytes).map_err(|e| match e {
        lopdf::Error::Decryption(_) => ReadError::Encrypted { format: F },
        e => ReadError::Corrupt { format: F, detail: e.to_string() },
    })?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(ReadError::Encrypted { format: F });
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        let detail = "its page tree leads to no pages (it is empty, broken, or loops back on itself)".to_owned();
        return Err(ReadError::Corrupt { format: F, detail });
    }
    check_parents(&doc, pages.values().copied())?;
    let total = pages.len();
    let text = Rc::new(RefCell::new(String::new()));
    let mut dev = Pages {
        inner: PlainTextOutput::new(Sink(text.clone())),
        text: text.clone(),
        pages: 0,
        max_pages: limits.max_pages,
        max_bytes: limits.max_chars.saturating_mul(4),
        stopped: false,
    };
    let result = pdf_extract::output_doc(&doc, &mut dev);
    let stopped = dev.stopped;
    let done = dev.pages;
    drop(dev);
    if let Err(e) = result
        && !stopped
    {
        // Text of the pages before the failure is still worth having.
        if text.borrow().trim().is_empty() {
            return Err(ReadError::Corrupt { format: F, detail: e.to_string() });
        }
        text.borrow_mut().push_str(&format!("\n\n[the rest could not be read: {e}]"));
    }
    out.push(&format!("PDF, {total} pages."));
    out.para();
    out.push(&crate::tidy(&text.borrow()));
    if stopped && done >= limits.max_pages && total > done {
        out.para();
        out.line(&format!("[{done} of {total} pages converted: the reader stops at {}]", limits.max_pages));
    }
    if text.borrow().trim().is_empty() || done > 0 && text.borrow().split_whitespace().count() < done {
        out.para();
        out.line("[little or no text: the PDF may be scanned images, and no OCR is configured]");
    }
    Ok(())
}

/// Refuse a page tree whose `Parent` links loop or go absurdly deep.
fn check_parents(doc: &Document, pages: impl Iterator<Item = ObjectId>) -> Result<(), ReadError> {
    let parent = |id: ObjectId| match doc.get_dictionary(id).ok()?.get(b"Parent").ok()? {
        Object::Reference(p) => Some(*p),
        _ => None,
    };
    for page in pages {
        let mut seen = HashSet::new();
        let mut id = page;
        loop {
            if !seen.insert(id) {
                let detail = format!("its page tree has a cycle (object {} {} is its own ancestor)", id.0, id.1);
                return Err(ReadError::Corrupt { format: F, detail });
            }
            if seen.len() > 256 {
                let detail = "its page tree is more than 256 levels deep".to_owned();
                return Err(ReadError::Corrupt { format: F, detail });
            }
            match parent(id) {
                Some(p) => id = p,
                None => break,
            }
        }
    }
    Ok(())
}

/// pdf-extract's text layout into a shared string.
struct Sink(Rc<RefCell<String>>);

impl std::fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.borrow_mut().push_str(s);
        Ok(())
    }
}

impl ConvertToFmt for Sink {
    type Writer = Sink;
    fn convert(self) -> Sink {
        self
    }
}

/// Page markers around pdf-extract's plain-text layout, and the stop.
struct Pages {
    inner: PlainTextOutput<Sink>,
    text: Rc<RefCell<String>>,
    pages: usize,
    max_pages: usize,
    max_bytes: usize,
    stopped: bool,
}

impl Pages {
    fn stop(&mut self) -> Result<(), OutputError> {
        self.stopped = true;
        Err(OutputError::FormatError(std::fmt::Error))
    }
}

impl OutputDev for Pages {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        if self.pages >= self.max_pages || self.text.borrow().len() > self.max_bytes {
            return self.stop();
        }
        self.pages += 1;
        self.text.borrow_mut().push_str(&format!("\n\n--- Page {page_num} ---\n\n"));
        self.inner.begin_page(page_num, media_box, art_box)
    }
    fn end_page(&mut self) -> Result<(), OutputError> {
        self.inner.end_page()
    }
    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        if self.text.borrow().len() > self.max_bytes {
            return self.stop();
        }
        self.inner.output_character(trm, width, spacing, font_size, char)
    }
    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.inner.begin_word()
    }
    fn end_word(&mut self) -> Result<(), OutputError> {
        self.inner.end_word()
    }
    fn end_line(&mut self) -> Result<(), OutputError> {
        self.inner.end_line()
    }
}
