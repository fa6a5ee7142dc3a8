//! Spreadsheets (xlsx, xls, ods) with calamine: each sheet as a markdown
//! table of its cells' values (a formula shows its cached result).
//!
//! xlsx is streamed cell by cell (calamine's cell reader), so a sheet that
//! claims, or really has, a million rows costs the rows shown plus a count,
//! never a dense grid; its container is inflated through the archive budget
//! first, so a bomb is refused before calamine reads it. xls and ods are
//! read by calamine as ranges.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Ods, Reader, Xls, Xlsx, open_workbook_from_rs};

use crate::archive::{self, Budget};
use crate::{Format, Limits, Out, ReadError, write_table};

/// Columns shown per sheet; wider sheets say how many were cut.
const MAX_COLS: u32 = 100;
/// Rows counted past the ones shown before the count gives up.
const MAX_COUNTED: u64 = 5_000_000;

pub fn convert(format: Format, bytes: &[u8], limits: &Limits, out: &mut Out) -> Result<(), ReadError> {
    let corrupt = |e: &dyn std::fmt::Display| {
        let detail = e.to_string();
        if detail.to_ascii_lowercase().contains("password") || detail.contains("ncrypt") {
            ReadError::Encrypted { format }
        } else {
            ReadError::Corrupt { format, detail }
        }
    };
    match format {
        Format::Xlsx => {
            let mut budget = Budget::new(limits);
            archive::inflate_all(bytes, format, &mut budget)?;
            let fixed = drop_false_claims(bytes, &mut budget)?;
            let bytes = fixed.as_deref().unwrap_or(bytes);
            let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
            for name in wb.sheet_names() {
                let mut cells = wb.worksheet_cells_reader(&name).map_err(|e| corrupt(&e))?;
                let mut grid = Grid::new(limits.max_rows);
                while let Some(cell) = cells.next_cell().map_err(|e| corrupt(&e))? {
                    let (r, c) = cell.get_position();
                    if !grid.add(r, c, || show(&Data::from(cell.get_value().clone()))) {
                        break;
                    }
                }
                grid.write(&name, out);
                if out.full() {
                    break;
                }
            }
        }
        Format::Ods => {
            let mut budget = Budget::new(limits);
            archive::inflate_all(bytes, format, &mut budget)?;
            let wb: Ods<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
            ranges(wb, limits, out, &corrupt)?;
        }
        _ => {
            let wb: Xls<_> = open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
            ranges(wb, limits, out, &corrupt)?;
        }
    }
    Ok(())
}

/// Shared strings are stored from `xl/sharedStrings.xml`, which states its
/// count up front, and calamine reserves that much: a file claiming a
/// billion strings would ask for tens of gigabytes. A claim the part is far
/// too small to hold is dropped (the workbook rewritten without it, the
/// other parts copied as they are compressed); an honest file is untouched.
fn drop_false_claims(bytes: &[u8], budget: &mut Budget) -> Result<Option<Vec<u8>>, ReadError> {
    const PART: &str = "xl/sharedStrings.xml";
    let f = Format::Xlsx;
    let mut z = archive::open(bytes, f)?;
    let Some(xml) = archive::member_text(&mut z, PART, f, budget)? else {
        return Ok(None);
    };
    let head_end = xml.find("<si").or_else(|| xml.find("/>")).unwrap_or(xml.len().min(4096));
    let head = &xml[..head_end];
    let claims = ["count=\"", "uniqueCount=\""].iter().filter_map(|attr| {
        let at = head.find(attr)? + attr.len();
        head[at..].split('"').next()?.parse::<u64>().ok()
    });
    // Each string takes at least `<si><t/></si>`, 12 bytes.
    if claims.max().is_none_or(|n| n <= xml.len() as u64 / 12 + 16) {
        return Ok(None);
    }
    let honest =
        head.replace(" count=\"", " fathom-dropped-count=\"").replace(" uniqueCount=\"", " fathom-dropped-unique=\"");
    let patched = format!("{honest}{}", &xml[head_end..]);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let rewrite = |e: zip::result::ZipError| ReadError::Corrupt { format: f, detail: e.to_string() };
    for i in 0..z.len() {
        let member = z.by_index_raw(i).map_err(rewrite)?;
        if member.name().is_ok_and(|n| n == PART) {
            continue;
        }
        w.raw_copy_file(member).map_err(rewrite)?;
    }
    w.start_file(PART, zip::write::SimpleFileOptions::default()).map_err(rewrite)?;
    std::io::Write::write_all(&mut w, patched.as_bytes())
        .map_err(|e| ReadError::Corrupt { format: f, detail: e.to_string() })?;
    Ok(Some(w.finish().map_err(rewrite)?.into_inner()))
}

fn ranges<RS: std::io::Read + std::io::Seek, R: Reader<RS>>(
    mut wb: R,
    limits: &Limits,
    out: &mut Out,
    corrupt: &dyn Fn(&dyn std::fmt::Display) -> ReadError,
) -> Result<(), ReadError>
where
    R::Error: std::fmt::Display,
{
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).map_err(|e| corrupt(&e))?;
        let mut grid = Grid::new(limits.max_rows);
        let (r0, c0) = range.start().unwrap_or((0, 0));
        for (i, row) in range.rows().enumerate() {
            for (j, v) in row.iter().enumerate() {
                if *v != Data::Empty && !grid.add(r0 + i as u32, c0 + j as u32, || show(v)) {
                    break;
                }
            }
        }
        grid.write(&name, out);
        if out.full() {
            break;
        }
    }
    Ok(())
}

/// The cells of one sheet: the first `max_rows` rows kept, the rest counted.
struct Grid {
    rows: BTreeMap<u32, BTreeMap<u32, String>>,
    max_rows: usize,
    last_row: Option<u32>,
    rows_seen: u64,
    cols_cut: bool,
}

impl Grid {
    fn new(max_rows: usize) -> Grid {
        Grid { rows: BTreeMap::new(), max_rows: max_rows + 1, last_row: None, rows_seen: 0, cols_cut: false }
    }

    /// Add a cell; false once counting should stop.
    fn add(&mut self, r: u32, c: u32, value: impl FnOnce() -> String) -> bool {
        if self.last_row != Some(r) {
            self.last_row = Some(r);
            self.rows_seen += 1;
        }
        if self.rows.len() >= self.max_rows && !self.rows.contains_key(&r) {
            return self.rows_seen < MAX_COUNTED;
        }
        if c >= MAX_COLS {
            self.cols_cut = true;
            return true;
        }
        let v = value();
        if !v.is_empty() {
            self.rows.entry(r).or_default().insert(c, v);
        }
        true
    }

    fn write(self, name: &str, out: &mut Out) {
        out.para();
        out.line(&format!("## Sheet: {name}"));
        out.para();
        if self.rows.is_empty() {
            out.line("(empty)");
            return;
        }
        let first_col = self.rows.values().filter_map(|r| r.keys().next().copied()).min().unwrap_or(0);
        let last_col = self.rows.values().filter_map(|r| r.keys().last().copied()).max().unwrap_or(0);
        let table: Vec<Vec<String>> = self
            .rows
            .values()
            .map(|r| (first_col..=last_col).map(|c| r.get(&c).cloned().unwrap_or_default()).collect())
            .collect();
        write_table(&table, out);
        let shown = self.rows.len() as u64;
        if self.rows_seen > shown {
            out.para();
            let more = if self.rows_seen >= MAX_COUNTED { "at least " } else { "" };
            out.line(&format!(
                "[{} of {more}{} rows shown; upload the file to a sandbox to process all of it]",
                shown.saturating_sub(1),
                self.rows_seen.saturating_sub(1)
            ));
        }
        if self.cols_cut {
            out.line(&format!("[only the first {MAX_COLS} columns shown]"));
        }
    }
}

/// A cell as text; dates as ISO 8601 rather than Excel's day numbers.
fn show(v: &Data) -> String {
    match v {
        Data::DateTime(d) if d.is_datetime() => excel_date(d.as_f64()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// An Excel serial date (days since 1899-12-30) as `YYYY-MM-DD[ HH:MM:SS]`.
fn excel_date(serial: f64) -> String {
    let days = serial.floor() as i64 - 25_569; // to days since 1970-01-01
    let secs = ((serial - serial.floor()) * 86_400.0).round() as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if secs == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_dates() {
        assert_eq!(excel_date(45_292.0), "2024-01-01");
        assert_eq!(excel_date(45_292.5), "2024-01-01 12:00:00");
        assert_eq!(excel_date(1.0), "1899-12-31");
    }
}
