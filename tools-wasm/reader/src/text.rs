//! Text formats: plain text and Markdown, CSV/TSV as tables, JSON pretty.

use crate::{Format, Limits, Out, ReadError, write_table};

/// Bytes as text: UTF-8 (a BOM dropped), UTF-16 with a BOM, and anything
/// else as Windows-1252, the web's fallback, so no byte is ever refused.
pub fn decode(bytes: &[u8]) -> String {
    let (enc, bom) = encoding_rs::Encoding::for_bom(bytes).unwrap_or((encoding_rs::UTF_8, 0));
    let body = &bytes[bom..];
    if enc == encoding_rs::UTF_8 {
        if let Ok(s) = std::str::from_utf8(body) {
            return s.to_owned();
        }
        return encoding_rs::WINDOWS_1252.decode_without_bom_handling(body).0.into_owned();
    }
    enc.decode_without_bom_handling(body).0.into_owned()
}

pub fn plain(bytes: &[u8], out: &mut Out) -> Result<(), ReadError> {
    out.push(&decode(bytes).replace("\r\n", "\n"));
    Ok(())
}

/// A CSV or TSV file as a markdown table, the first row as the header; at
/// most `max_rows` rows, then a note of how many were left out.
pub fn table(bytes: &[u8], delimiter: u8, limits: &Limits, out: &mut Out) -> Result<(), ReadError> {
    let format = if delimiter == b'\t' { Format::Tsv } else { Format::Csv };
    let text = decode(bytes);
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut total = 0usize;
    for record in reader.records() {
        let record = record.map_err(|e| ReadError::Corrupt { format, detail: e.to_string() })?;
        total += 1;
        if rows.len() <= limits.max_rows {
            rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
        }
    }
    write_table(&rows, out);
    let shown = rows.len().saturating_sub(1);
    let data_rows = total.saturating_sub(1);
    if data_rows > shown {
        out.para();
        out.line(&format!(
            "[{shown} of {data_rows} rows shown; the other {} rows were cut. Upload the file to a sandbox to \
             process all of it.]",
            data_rows - shown
        ));
    }
    Ok(())
}

/// JSON pretty-printed. Nesting deeper than serde_json's 128 levels is
/// refused by the parser itself, so hostile depth never reaches the stack.
pub fn json(bytes: &[u8], out: &mut Out) -> Result<(), ReadError> {
    let text = decode(bytes);
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| json_error(Format::Json, e))?;
    out.push(&serde_json::to_string_pretty(&value).unwrap_or_default());
    Ok(())
}

/// JSON Lines: each record pretty on its own, numbered; blank lines skipped.
pub fn jsonl(bytes: &[u8], limits: &Limits, out: &mut Out) -> Result<(), ReadError> {
    let text = decode(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, line) in lines.iter().enumerate() {
        if i >= limits.max_rows || out.full() {
            out.para();
            out.line(&format!("[{i} of {} records shown]", lines.len()));
            break;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            let ReadError::Corrupt { format, detail } = json_error(Format::Jsonl, e) else { unreachable!() };
            ReadError::Corrupt { format, detail: format!("record {}: {detail}", i + 1) }
        })?;
        out.line(&format!("Record {}:", i + 1));
        out.line(&serde_json::to_string_pretty(&value).unwrap_or_default());
        out.para();
    }
    Ok(())
}

fn json_error(format: Format, e: serde_json::Error) -> ReadError {
    let detail = if e.to_string().contains("recursion limit") {
        format!("it nests deeper than 128 levels, which the reader refuses (line {})", e.line())
    } else {
        e.to_string()
    };
    ReadError::Corrupt { format, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl FnOnce(&mut Out) -> Result<(), ReadError>) -> Result<String, ReadError> {
        let mut out = Out::new(100_000);
        f(&mut out)?;
        Ok(out.text)
    }

    #[test]
    fn csv_becomes_a_table_with_a_row_cap() {
        let limits = Limits { max_rows: 2, ..Limits::default() };
        let t = run(|o| table(b"name,n\n\"a, b\",1\nc,2\nd,3\n", b',', &limits, o)).unwrap();
        assert!(t.starts_with("| name | n |\n| --- | --- |\n| a, b | 1 |\n| c | 2 |\n"), "{t}");
        assert!(t.contains("[2 of 3 rows shown; the other 1 rows were cut."), "{t}");
    }

    #[test]
    fn deep_json_is_refused_by_name() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let e = run(|o| json(deep.as_bytes(), o)).unwrap_err();
        assert!(e.to_string().contains("deeper than 128 levels"), "{e}");
    }

    #[test]
    fn latin1_and_utf16_decode() {
        assert_eq!(decode(b"caf\xe9"), "café");
        assert_eq!(decode(&[0xFF, 0xFE, b'h', 0, b'i', 0]), "hi");
    }
}
