//! What a file is: its content first (magic numbers, the members of a zip
//! container), its name only when the content cannot say (text formats).

use std::io::Cursor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Csv,
    Tsv,
    Json,
    Jsonl,
    Html,
    Xml,
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    Xls,
    Ods,
    Epub,
    Zip,
    /// An image, by its kind (`PNG`, `JPEG`, ...).
    Image(&'static str),
    /// Anything else, described (`a gzip archive`, `binary data`).
    Unknown(&'static str),
}

impl Format {
    /// The format's usual name, as errors and notes say it.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Text => "text file",
            Format::Markdown => "Markdown file",
            Format::Csv => "CSV file",
            Format::Tsv => "TSV file",
            Format::Json => "JSON file",
            Format::Jsonl => "JSON Lines file",
            Format::Html => "HTML page",
            Format::Xml => "XML file",
            Format::Pdf => "PDF",
            Format::Docx => "Word document (docx)",
            Format::Pptx => "PowerPoint presentation (pptx)",
            Format::Xlsx => "Excel workbook (xlsx)",
            Format::Xls => "Excel workbook (xls)",
            Format::Ods => "OpenDocument spreadsheet (ods)",
            Format::Epub => "EPUB book",
            Format::Zip => "zip archive",
            Format::Image(_) => "image",
            Format::Unknown(what) => what,
        }
    }

    /// "a PDF", "an Excel workbook (xlsx)".
    pub fn article_name(&self) -> String {
        let name = self.name();
        let vowel = name.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']);
        format!("{} {name}", if vowel { "an" } else { "a" })
    }

    /// A short identifier, for the result's header and metrics.
    pub fn id(&self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Html => "html",
            Format::Xml => "xml",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Pptx => "pptx",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
            Format::Epub => "epub",
            Format::Zip => "zip",
            Format::Image(_) => "image",
            Format::Unknown(_) => "unknown",
        }
    }
}

fn extension(name: &str) -> String {
    let path = name.split(['?', '#']).next().unwrap_or(name);
    let file = path.rsplit('/').next().unwrap_or(path);
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// The format of `bytes`, named `name`.
pub fn detect(name: &str, bytes: &[u8]) -> Format {
    let ext = extension(name);
    if let Some(f) = by_magic(bytes, &ext) {
        return f;
    }
    match ext.as_str() {
        "md" | "markdown" => return Format::Markdown,
        "csv" => return Format::Csv,
        "tsv" | "tab" => return Format::Tsv,
        "json" => return Format::Json,
        "jsonl" | "ndjson" => return Format::Jsonl,
        "html" | "htm" | "xhtml" => return Format::Html,
        "xml" | "rss" | "atom" | "svg" => return Format::Xml,
        _ => {}
    }
    if looks_like_text(bytes) {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).trim_start().to_ascii_lowercase();
        if head.starts_with("<!doctype html") || head.starts_with("<html") {
            return Format::Html;
        }
        if head.starts_with("<?xml") {
            return Format::Xml;
        }
        return Format::Text;
    }
    Format::Unknown(match ext.as_str() {
        "doc" => "a legacy Word document (doc), which the reader does not parse: save it as docx",
        "ppt" => "a legacy PowerPoint file (ppt), which the reader does not parse: save it as pptx",
        _ => "binary data of an unknown format",
    })
}

fn by_magic(b: &[u8], ext: &str) -> Option<Format> {
    let starts = |m: &[u8]| b.starts_with(m);
    Some(if starts(b"%PDF-") || (b.len() > 1024 && b[..1024].windows(5).any(|w| w == b"%PDF-")) {
        Format::Pdf
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        zip_kind(b)
    } else if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // An OLE2 compound file: xls, or an old doc/ppt, or an encrypted
        // OOXML file (Office wraps those in OLE2).
        match ext {
            "xls" => Format::Xls,
            "docx" | "xlsx" | "pptx" => return Some(Format::Unknown("an encrypted (password-protected) Office file")),
            "doc" => Format::Unknown("a legacy Word document (doc), which the reader does not parse: save it as docx"),
            "ppt" => {
                Format::Unknown("a legacy PowerPoint file (ppt), which the reader does not parse: save it as pptx")
            }
            _ if b.windows(10).any(|w| w == b"E\0n\0c\0r\0y\0") => {
                Format::Unknown("an encrypted (password-protected) Office file")
            }
            _ => Format::Xls,
        }
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Format::Image("PNG")
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Format::Image("JPEG")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Format::Image("GIF")
    } else if starts(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        Format::Image("WebP")
    } else if starts(b"BM") && ext == "bmp" {
        Format::Image("BMP")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Format::Image("TIFF")
    } else if starts(&[0x1F, 0x8B]) {
        Format::Unknown("a gzip-compressed file: decompress it in a sandbox first (`gunzip` or `tar xzf`)")
    } else if starts(b"7z\xBC\xAF\x27\x1C") {
        Format::Unknown("a 7-Zip archive: extract it in a sandbox first")
    } else if starts(b"Rar!") {
        Format::Unknown("a RAR archive: extract it in a sandbox first")
    } else if b.len() > 262 && &b[257..262] == b"ustar" {
        Format::Unknown("a tar archive: extract it in a sandbox first (`tar xf`)")
    } else {
        return None;
    })
}

/// What a zip container holds: OOXML names its parts, ODF and EPUB store
/// their media type as the first member.
fn zip_kind(b: &[u8]) -> Format {
    let Ok(mut z) = zip::ZipArchive::new(Cursor::new(b)) else {
        return Format::Zip;
    };
    if let Ok(mut f) = z.by_name("mimetype") {
        let mut m = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::Read::take(&mut f, 100), &mut m);
        match m.trim() {
            "application/epub+zip" => return Format::Epub,
            "application/vnd.oasis.opendocument.spreadsheet" => return Format::Ods,
            _ => {}
        }
    }
    let has = |n: &str| z.index_for_name(n).is_some();
    if has("word/document.xml") {
        Format::Docx
    } else if has("ppt/presentation.xml") {
        Format::Pptx
    } else if has("xl/workbook.xml") {
        Format::Xlsx
    } else {
        Format::Zip
    }
}

/// No NUL bytes and mostly printable in its first 8 KB: text, in some encoding.
fn looks_like_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(8192)];
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true; // UTF-16 with a byte-order mark
    }
    if head.contains(&0) {
        return false;
    }
    let control = head.iter().filter(|&&c| c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t' | 0x0C)).count();
    control * 100 <= head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_magic() {
        assert_eq!(detect("a.csv", b"x,y\n1,2"), Format::Csv);
        assert_eq!(detect("https://h/p/report.PDF?x=1", b"%PDF-1.4 ..."), Format::Pdf);
        assert_eq!(detect("noext", b"%PDF-1.7"), Format::Pdf);
        assert_eq!(detect("x.txt", b"<!DOCTYPE html><p>"), Format::Html);
        assert_eq!(detect("x.bin", &[0, 1, 2, 3]), Format::Unknown("binary data of an unknown format"));
        assert_eq!(detect(".bashrc", b"export A=1"), Format::Text);
        assert!(matches!(detect("a.gz", &[0x1F, 0x8B, 8, 0]), Format::Unknown(w) if w.contains("gzip")));
    }
}
