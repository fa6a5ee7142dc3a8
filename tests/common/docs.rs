//! Documents made in the tests, one builder per format, with known text:
//! the reader's fixtures and the benchmark's corpus. Office files and EPUB
//! are zips of the XML parts their readers look at; PDFs are written with
//! a correct cross-reference table.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

/// A zip of `(name, bytes)` members, deflated.
pub fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A zip whose one member is `size` zero bytes: a bomb (1 GB deflates to ~1 MB).
pub fn zip_bomb(name: &str, size: u64) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .large_file(size >= 1 << 32);
    z.start_file(name, opts).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        z.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    z.finish().unwrap().into_inner()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A Word paragraph: `style` (e.g. `Heading1`), or a list item with `list`.
pub enum Para<'a> {
    Heading(u8, &'a str),
    Text(&'a str),
    Item(&'a str),
    Link(&'a str, &'a str),
    Table(&'a [&'a [&'a str]]),
}

/// A docx of `body` paragraphs; `doctype` goes before the root element
/// (for a billion-laughs test).
pub fn docx(body: &[Para], doctype: &str) -> Vec<u8> {
    let mut xml = String::new();
    let mut rels = String::new();
    for (i, p) in body.iter().enumerate() {
        let run = |t: &str| format!("<w:r><w:t xml:space=\"preserve\">{}</w:t></w:r>", esc(t));
        match p {
            Para::Heading(n, t) => {
                xml.push_str(&format!("<w:p><w:pPr><w:pStyle w:val=\"Heading{n}\"/></w:pPr>{}</w:p>", run(t)))
            }
            Para::Text(t) => xml.push_str(&format!("<w:p>{}</w:p>", run(t))),
            Para::Item(t) => xml.push_str(&format!(
                "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"1\"/></w:numPr></w:pPr>{}</w:p>",
                run(t)
            )),
            Para::Link(t, url) => {
                rels.push_str(&format!(
                    "<Relationship Id=\"rIdL{i}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink\" Target=\"{}\" TargetMode=\"External\"/>",
                    esc(url)
                ));
                xml.push_str(&format!(
                    "<w:p>{}<w:hyperlink r:id=\"rIdL{i}\">{}</w:hyperlink></w:p>",
                    run("See "),
                    run(t)
                ))
            }
            Para::Table(rows) => {
                xml.push_str("<w:tbl>");
                for row in rows.iter() {
                    xml.push_str("<w:tr>");
                    for cell in row.iter() {
                        xml.push_str(&format!("<w:tc><w:p>{}</w:p></w:tc>", run(cell)));
                    }
                    xml.push_str("</w:tr>");
                }
                xml.push_str("</w:tbl>");
            }
        }
    }
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>{doctype}<w:document \
         xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" \
         xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><w:body>{xml}</w:body></w:document>"
    );
    let rels = format!(
        "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{rels}</Relationships>"
    );
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/document.xml", doc.as_bytes()),
        ("word/_rels/document.xml.rels", rels.as_bytes()),
    ])
}

const CONTENT_TYPES: &str =
    "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>";

/// A pptx: per slide a title, bullet lines and speaker notes.
pub fn pptx(slides: &[(&str, &[&str], &str)]) -> Vec<u8> {
    let mut parts: Vec<(String, String)> =
        vec![("ppt/presentation.xml".into(), "<?xml version=\"1.0\"?><p:presentation xmlns:p=\"p\"/>".into())];
    let sp = |ph: &str, paras: &[&str]| {
        let ps: String = paras.iter().map(|t| format!("<a:p><a:r><a:t>{}</a:t></a:r></a:p>", esc(t))).collect();
        format!("<p:sp><p:nvSpPr><p:nvPr><p:ph type=\"{ph}\"/></p:nvPr></p:nvSpPr><p:txBody>{ps}</p:txBody></p:sp>")
    };
    for (i, (title, bullets, notes)) in slides.iter().enumerate() {
        let n = i + 1;
        let slide = format!(
            "<?xml version=\"1.0\"?><p:sld xmlns:p=\"p\" xmlns:a=\"a\"><p:cSld><p:spTree>{}{}</p:spTree></p:cSld></p:sld>",
            sp("title", &[title]),
            sp("body", bullets)
        );
        parts.push((format!("ppt/slides/slide{n}.xml"), slide));
        if !notes.is_empty() {
            parts.push((
                format!("ppt/slides/_rels/slide{n}.xml.rels"),
                format!(
                    "<?xml version=\"1.0\"?><Relationships xmlns=\"r\"><Relationship Id=\"rId2\" \
                     Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/notesSlide\" \
                     Target=\"../notesSlides/notesSlide{n}.xml\"/></Relationships>"
                ),
            ));
            parts.push((
                format!("ppt/notesSlides/notesSlide{n}.xml"),
                format!(
                    "<?xml version=\"1.0\"?><p:notes xmlns:p=\"p\" xmlns:a=\"a\"><p:cSld><p:spTree>{}{}</p:spTree></p:cSld></p:notes>",
                    sp("sldImg", &[]),
                    sp("body", &[notes])
                ),
            ));
        }
    }
    let members: Vec<(&str, &[u8])> = parts.iter().map(|(n, x)| (n.as_str(), x.as_bytes())).collect();
    zip_of(&members)
}

fn col_name(mut c: usize) -> String {
    let mut s = String::new();
    c += 1;
    while c > 0 {
        s.insert(0, (b'A' + ((c - 1) % 26) as u8) as char);
        c = (c - 1) / 26;
    }
    s
}

/// A cell of a generated sheet.
pub enum Cell<'a> {
    Str(&'a str),
    Num(f64),
    /// A formula with its cached value.
    Formula(&'a str, f64),
}

/// An xlsx with named sheets of rows; `dimension` overrides the sheet's
/// claimed size and `strings_count` the shared strings' claimed count.
pub fn xlsx(sheets: &[(&str, Vec<Vec<Cell>>)], dimension: Option<&str>, strings_count: Option<u64>) -> Vec<u8> {
    let mut strings: Vec<String> = Vec::new();
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut wb_sheets = String::new();
    let mut wb_rels = String::new();
    for (i, (name, rows)) in sheets.iter().enumerate() {
        let n = i + 1;
        wb_sheets.push_str(&format!("<sheet name=\"{}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>", esc(name)));
        wb_rels.push_str(&format!(
            "<Relationship Id=\"rId{n}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"
        ));
        let mut data = String::new();
        for (r, row) in rows.iter().enumerate() {
            data.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{}", col_name(c), r + 1);
                match cell {
                    Cell::Str(s) => {
                        strings.push(s.to_string());
                        data.push_str(&format!("<c r=\"{at}\" t=\"s\"><v>{}</v></c>", strings.len() - 1));
                    }
                    Cell::Num(x) => data.push_str(&format!("<c r=\"{at}\"><v>{x}</v></c>")),
                    Cell::Formula(f, x) => data.push_str(&format!("<c r=\"{at}\"><f>{}</f><v>{x}</v></c>", esc(f))),
                }
            }
            data.push_str("</row>");
        }
        let dim = dimension.map(|d| format!("<dimension ref=\"{d}\"/>")).unwrap_or_default();
        parts.push((
            format!("xl/worksheets/sheet{n}.xml"),
            format!(
                "<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">{dim}<sheetData>{data}</sheetData></worksheet>"
            ),
        ));
    }
    let count = strings_count.unwrap_or(strings.len() as u64);
    let sst: String = strings.iter().map(|s| format!("<si><t>{}</t></si>", esc(s))).collect();
    parts.push((
        "xl/sharedStrings.xml".into(),
        format!(
            "<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"{count}\" uniqueCount=\"{count}\">{sst}</sst>"
        ),
    ));
    parts.push((
        "xl/workbook.xml".into(),
        format!(
            "<?xml version=\"1.0\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>{wb_sheets}</sheets></workbook>"
        ),
    ));
    parts.push((
        "xl/_rels/workbook.xml.rels".into(),
        format!(
            "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{wb_rels}<Relationship Id=\"rIdS\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>"
        ),
    ));
    parts.push((
        "_rels/.rels".into(),
        "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>".into(),
    ));
    parts.push((
        "[Content_Types].xml".into(),
        "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/></Types>".into(),
    ));
    let members: Vec<(&str, &[u8])> = parts.iter().map(|(n, x)| (n.as_str(), x.as_bytes())).collect();
    zip_of(&members)
}

/// An ods with one sheet of string rows.
pub fn ods(sheet: &str, rows: &[&[&str]]) -> Vec<u8> {
    let mut body = String::new();
    for row in rows {
        body.push_str("<table:table-row>");
        for cell in row.iter() {
            match cell.parse::<f64>() {
                Ok(x) => body.push_str(&format!(
                    "<table:table-cell office:value-type=\"float\" office:value=\"{x}\"><text:p>{cell}</text:p></table:table-cell>"
                )),
                Err(_) => body.push_str(&format!(
                    "<table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell>",
                    esc(cell)
                )),
            }
        }
        body.push_str("</table:table-row>");
    }
    let content = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content \
         xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\"><office:body>\
         <office:spreadsheet><table:table table:name=\"{}\">{body}</table:table></office:spreadsheet></office:body></office:document-content>",
        esc(sheet)
    );
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\"><manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/><manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>";
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("mimetype", stored).unwrap();
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
    z.start_file("content.xml", stored).unwrap();
    z.write_all(content.as_bytes()).unwrap();
    z.start_file("META-INF/manifest.xml", stored).unwrap();
    z.write_all(manifest.as_bytes()).unwrap();
    z.finish().unwrap().into_inner()
}

/// An EPUB: a title and chapters of (heading, paragraph).
pub fn epub(title: &str, chapters: &[(&str, &str)]) -> Vec<u8> {
    let mut manifest = String::new();
    let mut spine = String::new();
    let mut parts: Vec<(String, String)> = Vec::new();
    for (i, (h, p)) in chapters.iter().enumerate() {
        let n = i + 1;
        manifest
            .push_str(&format!("<item id=\"c{n}\" href=\"text/ch{n}.xhtml\" media-type=\"application/xhtml+xml\"/>"));
        spine.push_str(&format!("<itemref idref=\"c{n}\"/>"));
        parts.push((
            format!("OEBPS/text/ch{n}.xhtml"),
            format!(
                "<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>{h}</title></head>\
                 <body><h2>{}</h2><p>{}</p></body></html>",
                esc(h),
                esc(p)
            ),
        ));
    }
    let opf = format!(
        "<?xml version=\"1.0\"?><package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\"><metadata \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{}</dc:title></metadata><manifest>{manifest}</manifest>\
         <spine>{spine}</spine></package>",
        esc(title)
    );
    let container = "<?xml version=\"1.0\"?><container version=\"1.0\" xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\"><rootfiles><rootfile full-path=\"OEBPS/content.opf\" media-type=\"application/oebps-package+xml\"/></rootfiles></container>";
    let mut members: Vec<(&str, &[u8])> = vec![
        ("mimetype", b"application/epub+zip"),
        ("META-INF/container.xml", container.as_bytes()),
        ("OEBPS/content.opf", opf.as_bytes()),
    ];
    members.extend(parts.iter().map(|(n, x)| (n.as_str(), x.as_bytes())));
    zip_of(&members)
}

/// A PDF of `pages`, each a list of text lines in Helvetica. `extra`
/// objects are appended and `pages_dict` overrides the page tree root
/// (for hostile trees); object numbers: 1 catalog, 2 pages, 3 font, then
/// per page its page and its content stream.
pub fn pdf(pages: &[Vec<String>]) -> Vec<u8> {
    let n = pages.len();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
    ];
    for (i, lines) in pages.iter().enumerate() {
        let mut stream = String::from("BT /F1 12 Tf 72 720 Td 14 TL\n");
        for l in lines {
            stream.push_str(&format!("({}) Tj T*\n", l.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)")));
        }
        stream.push_str("ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()));
    }
    pdf_from_objects(&objects)
}

/// A PDF file of numbered `objects` (1-based), catalog first.
pub fn pdf_from_objects(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// A valid 1x1 PNG header claiming `w` x `h` pixels.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    b
}
