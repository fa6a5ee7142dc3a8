//! # fathom-reader: documents to markdown-ish text
//!
//! The parsers behind `tool-reading.convert_to_markdown`. File parsers are a
//! classic attack surface, so this crate runs inside a sandbox (the
//! `reading` component) under the task's fuel, deadline and memory limits;
//! it also compiles natively, for its tests and for the benchmark that
//! compares the two.
//!
//! Every format writes into one [`Out`], which stops at [`Limits::max_chars`]:
//! a converter checks [`Out::full`] and stops early, so a huge document costs
//! the work of its first part only. Archives (zip, and the zip containers of
//! docx, pptx, xlsx, epub) are read member by member through a cap on the
//! inflated size, so a bomb is refused while it inflates, not after.

mod archive;
mod detect;
pub mod html;
mod image;
mod office;
mod pdf;
mod sheet;
mod text;
mod xml;

pub use detect::Format;

/// How much a conversion may produce and inflate.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Characters of output; the rest is cut with [`TRUNCATED`].
    pub max_chars: usize,
    /// Rows of a table (csv, a sheet) shown; a note says how many were cut.
    pub max_rows: usize,
    /// Bytes one archive member may inflate to.
    pub max_member_bytes: u64,
    /// Bytes all members of one archive (nested ones included) may inflate to.
    pub max_inflated_bytes: u64,
    /// Archives inside archives followed this deep.
    pub max_depth: u32,
    /// Pages of a PDF converted.
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_chars: 200_000,
            max_rows: 2_000,
            max_member_bytes: 64 << 20,
            max_inflated_bytes: 256 << 20,
            max_depth: 3,
            max_pages: 2_000,
        }
    }
}

/// The marker a cut output ends with, as the MiroThinker protocol has it.
pub const TRUNCATED: &str = "\n... [File truncated]";

/// A converted document.
#[derive(Debug)]
pub struct Converted {
    /// The format it was read as.
    pub format: Format,
    pub text: String,
    /// The text was cut at [`Limits::max_chars`].
    pub truncated: bool,
}

/// Why a document could not be converted: always naming the format
/// detected, and what the user can do.
#[derive(Debug, PartialEq)]
pub enum ReadError {
    /// Not a format this reader knows.
    Unsupported { detected: String },
    /// Password-protected or encrypted.
    Encrypted { format: Format },
    /// The file does not parse as the format it claims.
    Corrupt { format: Format, detail: String },
    /// A size limit refused it (an archive bomb, too deep a nesting).
    TooLarge { format: Format, detail: String },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // A description that carries its own advice ("…: save it as docx").
            ReadError::Unsupported { detected } if detected.contains(':') => {
                write!(f, "cannot convert this file: it looks like {detected}")
            }
            ReadError::Unsupported { detected } if detected.contains("encrypted") => {
                write!(f, "cannot convert this file: it looks like {detected}; ask for an unprotected copy")
            }
            ReadError::Unsupported { detected } => write!(
                f,
                "cannot convert this file: it looks like {detected}, which the reader does not know; \
                 upload it to a sandbox and inspect it there (e.g. `file`, `xxd | head`, or Python)"
            ),
            ReadError::Encrypted { format } => write!(
                f,
                "cannot convert this {}: it is encrypted or password-protected; ask for an unprotected copy",
                format.name()
            ),
            ReadError::Corrupt { format, detail } => write!(
                f,
                "cannot convert this {}: it is damaged or not really {} ({detail}); check the file, or upload it \
                 to a sandbox and inspect it there",
                format.name(),
                format.article_name()
            ),
            ReadError::TooLarge { format, detail } => {
                write!(f, "stopped converting this {}: {detail}", format.name())
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// Output with a cap: writes past [`Limits::max_chars`] are dropped and the
/// cut is remembered.
pub struct Out {
    text: String,
    max: usize,
    chars: usize,
    cut: bool,
}

impl Out {
    pub fn new(max_chars: usize) -> Out {
        Out { text: String::new(), max: max_chars, chars: 0, cut: false }
    }

    /// Whether nothing more fits: converters stop their work here.
    pub fn full(&self) -> bool {
        self.cut
    }

    pub fn push(&mut self, s: &str) {
        if self.cut {
            return;
        }
        let n = s.chars().count();
        if self.chars + n <= self.max {
            self.text.push_str(s);
            self.chars += n;
            return;
        }
        let room = self.max - self.chars;
        self.text.extend(s.chars().take(room));
        self.chars = self.max;
        self.cut = true;
    }

    pub fn line(&mut self, s: &str) {
        self.push(s);
        self.push("\n");
    }

    /// A blank line between blocks, without piling them up.
    pub fn para(&mut self) {
        if self.text.is_empty() || self.text.ends_with("\n\n") {
            return;
        }
        self.push(if self.text.ends_with('\n') { "\n" } else { "\n\n" });
    }

    fn finish(self, format: Format) -> Converted {
        let mut text = self.text.trim_end().to_owned();
        if self.cut {
            text.push_str(TRUNCATED);
        }
        Converted { format, text, truncated: self.cut }
    }
}

/// Convert `bytes`, named `name` (a file name or URL path, used for the
/// extension when the content does not say what it is), to text.
pub fn convert(name: &str, bytes: &[u8], limits: &Limits) -> Result<Converted, ReadError> {
    convert_as(detect::detect(name, bytes), name, bytes, limits)
}

/// Convert `bytes` as `format`, detected or declared (an HTTP content type).
pub fn convert_as(format: Format, name: &str, bytes: &[u8], limits: &Limits) -> Result<Converted, ReadError> {
    let mut out = Out::new(limits.max_chars);
    let mut budget = archive::Budget::new(limits);
    convert_into(format, name, bytes, limits, &mut budget, 0, &mut out)?;
    Ok(out.finish(format))
}

/// Convert a download: its bytes' own format when they say what they are,
/// else the one its HTTP `content_type` declares (HTML without a doctype,
/// CSV, JSON), else what its URL's extension says.
pub fn convert_download(url: &str, content_type: &str, bytes: &[u8], limits: &Limits) -> Result<Converted, ReadError> {
    let format = match (detect::detect(url, bytes), declared(content_type)) {
        (Format::Text | Format::Unknown(_), Some(d)) => d,
        (sniffed, _) => sniffed,
    };
    convert_as(format, url, bytes, limits)
}

/// The format an HTTP content type declares, if it names one.
fn declared(content_type: &str) -> Option<Format> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    Some(match ct.as_str() {
        "text/html" | "application/xhtml+xml" => Format::Html,
        "text/csv" => Format::Csv,
        "text/tab-separated-values" => Format::Tsv,
        "application/json" => Format::Json,
        "application/x-ndjson" | "application/jsonl" => Format::Jsonl,
        "text/markdown" => Format::Markdown,
        "application/xml" | "text/xml" | "application/rss+xml" | "application/atom+xml" => Format::Xml,
        _ => return None,
    })
}

/// The detected format of `bytes`, as [`convert`] would read them.
pub fn detect(name: &str, bytes: &[u8]) -> Format {
    detect::detect(name, bytes)
}

fn convert_into(
    format: Format,
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    budget: &mut archive::Budget,
    depth: u32,
    out: &mut Out,
) -> Result<(), ReadError> {
    match format {
        Format::Text | Format::Markdown => text::plain(bytes, out),
        Format::Csv => text::table(bytes, b',', limits, out),
        Format::Tsv => text::table(bytes, b'\t', limits, out),
        Format::Json => text::json(bytes, out),
        Format::Jsonl => text::jsonl(bytes, limits, out),
        Format::Html => {
            html::to_markdown(&text::decode(bytes), None, out);
            Ok(())
        }
        Format::Xml => xml::text(bytes, out),
        Format::Pdf => pdf::convert(bytes, limits, out),
        Format::Docx => office::docx(bytes, budget, out),
        Format::Pptx => office::pptx(bytes, budget, out),
        Format::Epub => office::epub(bytes, budget, out),
        Format::Xlsx | Format::Xls | Format::Ods => sheet::convert(format, bytes, limits, out),
        Format::Zip => archive::zip(name, bytes, limits, budget, depth, out),
        Format::Image(_) => image::describe(format, bytes, out),
        Format::Unknown(detected) => Err(ReadError::Unsupported { detected: detected.to_owned() }),
    }
}

/// Lines with their trailing spaces dropped and runs of blank lines folded
/// to one: what parsers' layouts leave behind.
pub(crate) fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// A markdown table: the first row is the header. Cells have `|` escaped
/// and line breaks folded, so a cell can never break the table.
pub(crate) fn write_table(rows: &[Vec<String>], out: &mut Out) {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 {
        return;
    }
    let cell = |s: &str| s.replace('|', "\\|").replace("\r\n", " ").replace(['\n', '\r'], " ").trim().to_owned();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::from("|");
        for c in 0..width {
            line.push(' ');
            line.push_str(&cell(row.get(c).map(String::as_str).unwrap_or("")));
            line.push_str(" |");
        }
        out.line(&line);
        if i == 0 {
            out.line(&format!("|{}", " --- |".repeat(width)));
        }
        if out.full() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_cuts_at_the_cap_with_the_protocol_marker() {
        let mut out = Out::new(5);
        out.push("abc");
        out.push("défgh");
        assert!(out.full());
        let c = out.finish(Format::Text);
        assert_eq!(c.text, format!("abcdé{TRUNCATED}"));
    }

    #[test]
    fn tables_escape_pipes_and_newlines() {
        let mut out = Out::new(1000);
        write_table(&[vec!["a|b".into(), "c".into()], vec!["x\ny".into()]], &mut out);
        assert_eq!(out.text, "| a\\|b | c |\n| --- | --- |\n| x y |  |\n");
    }
}
