//! Zip archives, and the zip containers of office files and EPUB, read
//! member by member through an inflation budget: a member is read through
//! a `take` of what is left, so a bomb is refused while it inflates, never
//! after it filled memory. The sizes a zip's directory claims are not
//! trusted; only bytes actually inflated count.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::{Format, Limits, Out, ReadError, convert_into, detect};

/// What one conversion may still inflate.
pub struct Budget {
    left: u64,
    total: u64,
    per_member: u64,
    depth: u32,
}

impl Budget {
    pub fn new(limits: &Limits) -> Budget {
        Budget {
            left: limits.max_inflated_bytes,
            total: limits.max_inflated_bytes,
            per_member: limits.max_member_bytes,
            depth: limits.max_depth,
        }
    }
}

pub type Zip<'a> = ZipArchive<Cursor<&'a [u8]>>;

pub fn open<'a>(bytes: &'a [u8], format: Format) -> Result<Zip<'a>, ReadError> {
    ZipArchive::new(Cursor::new(bytes)).map_err(|e| ReadError::Corrupt { format, detail: e.to_string() })
}

/// The member `name` inflated, within the budget; `None` if there is none.
pub fn member(z: &mut Zip, name: &str, format: Format, budget: &mut Budget) -> Result<Option<Vec<u8>>, ReadError> {
    let Some(index) = z.index_for_name(name) else {
        return Ok(None);
    };
    member_at(z, index, format, budget).map(Some)
}

/// A member's text (office XML is UTF-8).
pub fn member_text(z: &mut Zip, name: &str, format: Format, budget: &mut Budget) -> Result<Option<String>, ReadError> {
    Ok(member(z, name, format, budget)?.map(|b| crate::text::decode(&b)))
}

fn member_at(z: &mut Zip, index: usize, format: Format, budget: &mut Budget) -> Result<Vec<u8>, ReadError> {
    let mut f = z.by_index(index).map_err(|e| match e {
        zip::result::ZipError::UnsupportedArchive(m) if m.contains("assword") || m.contains("ncrypt") => {
            ReadError::Encrypted { format }
        }
        e => ReadError::Corrupt { format, detail: e.to_string() },
    })?;
    if f.encrypted() {
        return Err(ReadError::Encrypted { format });
    }
    let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
    let cap = budget.per_member.min(budget.left);
    let mut data = Vec::new();
    (&mut f)
        .take(cap + 1)
        .read_to_end(&mut data)
        .map_err(|e| ReadError::Corrupt { format, detail: format!("member {name}: {e}") })?;
    if data.len() as u64 > cap {
        let detail = if cap == budget.per_member {
            format!(
                "its member {name} inflates to more than {} MB (the reader's limit per member: a zip bomb?)",
                budget.per_member >> 20
            )
        } else {
            format!(
                "its members inflate to more than {} MB in all (the reader's limit per file: a zip bomb?)",
                budget.total >> 20
            )
        };
        return Err(ReadError::TooLarge { format, detail });
    }
    budget.left -= data.len() as u64;
    Ok(data)
}

/// A zip: a listing of its members, then each file member converted, nested
/// archives up to [`Limits::max_depth`].
pub fn zip(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    budget: &mut Budget,
    depth: u32,
    out: &mut Out,
) -> Result<(), ReadError> {
    let mut z = open(bytes, Format::Zip)?;
    let entries: Vec<(String, u64, bool)> = (0..z.len())
        .filter_map(|i| {
            z.by_index_raw(i).ok().map(|f| (f.name().map(|n| n.into_owned()).unwrap_or_default(), f.size(), f.is_dir()))
        })
        .collect();
    let files = entries.iter().filter(|e| !e.2).count();
    out.line(&format!("Zip archive {} with {files} files:", display_name(name)));
    for (n, size, dir) in &entries {
        if !dir {
            out.line(&format!("- {n} ({size} bytes)"));
        }
        if out.full() {
            return Ok(());
        }
    }
    for (i, (member_name, _, dir)) in entries.iter().enumerate() {
        if *dir || out.full() {
            continue;
        }
        out.para();
        out.line(&format!("## {member_name}"));
        out.para();
        let data = member_at(&mut z, i, Format::Zip, budget)?;
        let format = detect(member_name, &data);
        if matches!(format, Format::Zip | Format::Docx | Format::Pptx | Format::Xlsx | Format::Ods | Format::Epub)
            && depth + 1 > budget.depth
        {
            out.line(&format!(
                "[not opened: an archive nested {} levels deep; the reader opens {} levels]",
                depth + 1,
                budget.depth
            ));
            continue;
        }
        match convert_into(format, member_name, &data, limits, budget, depth + 1, out) {
            Ok(()) => {}
            // A bomb anywhere stops the whole archive: the budget is spent.
            Err(e @ ReadError::TooLarge { .. }) => return Err(e),
            Err(e) => out.line(&format!("[{e}]")),
        }
    }
    Ok(())
}

fn display_name(name: &str) -> &str {
    let n = name.rsplit('/').next().unwrap_or(name);
    if n.is_empty() { "(unnamed)" } else { n }
}

/// Inflate every member through the budget, keeping nothing: a container
/// handed to another parser (calamine) is checked for bombs first.
pub fn inflate_all(bytes: &[u8], format: Format, budget: &mut Budget) -> Result<(), ReadError> {
    let mut z = open(bytes, format)?;
    for i in 0..z.len() {
        member_at(&mut z, i, format, budget)?;
    }
    Ok(())
}
