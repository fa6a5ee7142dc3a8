//! The offline search index: a folder of documents made searchable with
//! tantivy (BM25 over title and text, snippets with the matched terms), the
//! search backend that needs no internet and no key.
//!
//! `fathom index build DIR` walks the folder and converts each document to
//! text: plain text and Markdown directly, everything else (HTML, PDF,
//! office files...) by the document reader in a sandbox, never in this
//! process. Rebuilds are incremental: a manifest beside the index records
//! each file's size and modification time, so only new and changed files
//! are converted again, and deleted ones are removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, STORED, STRING, Schema, TEXT, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, TantivyDocument, Term, doc};

/// The manifest's file name, inside the index folder.
const MANIFEST: &str = "fathom-manifest.json";
/// Characters of a result's snippet.
const SNIPPET_CHARS: usize = 240;
/// Characters of a document's text that are indexed.
const MAX_TEXT_CHARS: usize = 2_000_000;
/// Memory for the index writer.
const WRITER_BYTES: usize = 64 << 20;

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub title: String,
    /// `file://` and the document's absolute path.
    pub link: String,
    pub snippet: String,
    pub score: f32,
}

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildStats {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Files that could not be converted, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

#[derive(Default, Serialize, Deserialize)]
struct Manifest {
    /// The indexed folder.
    root: PathBuf,
    /// Path -> (size, modification time in ns since the epoch).
    files: BTreeMap<PathBuf, (u64, u128)>,
}

struct Fields {
    path: Field,
    title: Field,
    body: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let path = b.add_text_field("path", STRING | STORED);
    let title = b.add_text_field("title", TEXT | STORED);
    let body = b.add_text_field("body", TEXT | STORED);
    (b.build(), Fields { path, title, body })
}

fn err(what: &str) -> impl Fn(tantivy::TantivyError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// The files of `dir` to index, recursively, skipping hidden ones and
/// following no symbolic link.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64, u128)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = e.path().symlink_metadata()?;
        if meta.is_dir() {
            walk(&e.path(), out)?;
        } else if meta.is_file() {
            let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            out.push((e.path(), meta.len(), mtime.map_or(0, |d| d.as_nanos())));
        }
    }
    Ok(())
}

/// A document's title: its first Markdown heading (of any level: the
/// reader's readability pass makes an article's `h1` an `h2`), else its
/// file name.
fn title_of(text: &str, path: &Path) -> String {
    let heading = text.lines().take(50).find_map(heading).filter(|t| !t.is_empty());
    heading.map(str::to_owned).unwrap_or_else(|| path.file_name().unwrap_or_default().to_string_lossy().into_owned())
}

/// The text of a Markdown heading line (`#` to `######`, then a space).
fn heading(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches('#');
    let level = line.len() - rest.len();
    ((1..=6).contains(&level) && rest.starts_with(' ')).then(|| rest.trim())
}

/// Build or update the index at `out` over `dir`; `convert` turns a file
/// that is not plain text into text (the document reader, in a sandbox).
pub async fn build<F, Fut>(dir: &Path, out: &Path, convert: F) -> Result<BuildStats, String>
where
    F: Fn(PathBuf) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    if !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    let planned = std::path::absolute(out).map_err(|e| format!("{}: {e}", out.display()))?;
    if planned.starts_with(&dir) || out.canonicalize().is_ok_and(|o| o.starts_with(&dir)) {
        return Err(format!("the index {} must not be inside the folder it indexes", planned.display()));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let out = out.canonicalize().map_err(|e| format!("{}: {e}", out.display()))?;
    let (schema, f) = schema();
    let manifest_path = out.join(MANIFEST);
    let mut manifest: Manifest = std::fs::read(&manifest_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|m: &Manifest| m.root == dir)
        .unwrap_or_default();
    let ours = manifest_path.exists();
    let empty = std::fs::read_dir(&out).map_err(|e| e.to_string())?.next().is_none();
    if !ours && !empty {
        return Err(format!(
            "{} is not empty and holds no Fathom index: give --out a new or empty folder",
            out.display()
        ));
    }
    let index = if manifest.root == dir && out.join("meta.json").exists() {
        Index::open_in_dir(&out).map_err(err("cannot open the index"))?
    } else {
        // A new index, or ours of another folder: start afresh.
        manifest = Manifest { root: dir.clone(), files: BTreeMap::new() };
        for e in std::fs::read_dir(&out).map_err(|e| e.to_string())?.flatten() {
            let _ = if e.path().is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
        }
        Index::create_in_dir(&out, schema).map_err(err("cannot create the index"))?
    };
    let mut writer: IndexWriter = index.writer(WRITER_BYTES).map_err(err("cannot write the index"))?;

    let mut files = Vec::new();
    walk(&dir, &mut files).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut stats = BuildStats::default();
    let mut seen = BTreeMap::new();
    for (path, size, mtime) in files {
        seen.insert(path.clone(), (size, mtime));
        let known = manifest.files.get(&path).copied();
        if known == Some((size, mtime)) {
            stats.unchanged += 1;
            continue;
        }
        let plain = matches!(path.extension().and_then(|e| e.to_str()), Some("txt" | "md" | "markdown"));
        let text = if plain {
            std::fs::read(&path).map(|b| String::from_utf8_lossy(&b).into_owned()).map_err(|e| e.to_string())
        } else {
            convert(path.clone()).await
        };
        let path_text = path.display().to_string();
        writer.delete_term(Term::from_field_text(f.path, &path_text));
        match text {
            Ok(text) => {
                let text: String = text.chars().take(MAX_TEXT_CHARS).collect();
                let title = title_of(&text, &path);
                writer
                    .add_document(doc!(f.path => path_text, f.title => title, f.body => text))
                    .map_err(err("cannot add a document"))?;
                if known.is_some() { stats.updated += 1 } else { stats.added += 1 }
            }
            Err(e) => {
                seen.remove(&path);
                stats.skipped.push((path, e));
            }
        }
    }
    for gone in manifest.files.keys().filter(|p| !seen.contains_key(*p)) {
        writer.delete_term(Term::from_field_text(f.path, &gone.display().to_string()));
        stats.removed += 1;
    }
    writer.commit().map_err(err("cannot commit the index"))?;
    writer.wait_merging_threads().map_err(err("cannot finish the index"))?;
    manifest.files = seen;
    let tmp = out.join(format!("{MANIFEST}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(&manifest).unwrap()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &manifest_path).map_err(|e| e.to_string())?;
    Ok(stats)
}

/// An index opened for searching.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Documents in the index.
    pub docs: u64,
}

impl SearchIndex {
    pub fn open(path: &Path) -> Result<SearchIndex, String> {
        if !path.join("meta.json").exists() {
            return Err(format!(
                "no search index at {}: build one with `fathom index build DIR --out {}`",
                path.display(),
                path.display()
            ));
        }
        let index = Index::open_in_dir(path).map_err(err("cannot open the search index"))?;
        let (_, fields) = schema();
        let reader = index.reader().map_err(err("cannot read the search index"))?;
        let docs = reader.searcher().num_docs();
        Ok(SearchIndex { index, reader, fields, docs })
    }

    /// `num` results from `offset`, best first. The query is read
    /// leniently: quoted phrases, `+must`, `-not`, and anything else as words.
    pub fn search(&self, q: &str, num: usize, offset: usize) -> Result<Vec<Hit>, String> {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.body]);
        parser.set_field_boost(f.title, 2.0);
        let (query, _) = parser.parse_query_lenient(q);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&*query, &TopDocs::with_limit(num.max(1)).and_offset(offset).order_by_score())
            .map_err(err("search failed"))?;
        let mut snippets = SnippetGenerator::create(&searcher, &*query, f.body).map_err(err("search failed"))?;
        snippets.set_max_num_chars(SNIPPET_CHARS);
        let mut hits = Vec::new();
        for (score, address) in top {
            let d: TantivyDocument = searcher.doc(address).map_err(err("cannot read a result"))?;
            let text = |field| d.get_first(field).and_then(|v| v.as_value().as_str()).unwrap_or("").to_owned();
            let body = text(f.body);
            let mut snippet = snippets.snippet(&body).fragment().split_whitespace().collect::<Vec<_>>().join(" ");
            if snippet.is_empty() {
                snippet = body.split_whitespace().take(40).collect::<Vec<_>>().join(" ");
            }
            hits.push(Hit { title: text(f.title), link: format!("file://{}", text(f.path)), snippet, score });
        }
        Ok(hits)
    }
}

impl SearchIndex {
    /// The text of the document at `link` (`file://` and its path, as in
    /// [`Hit::link`]), as it was indexed.
    pub fn document(&self, link: &str) -> Result<String, String> {
        let path = link.strip_prefix("file://").unwrap_or(link);
        let term = Term::from_field_text(self.fields.path, path);
        let query = tantivy::query::TermQuery::new(term, tantivy::schema::IndexRecordOption::Basic);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())
            .map_err(err("cannot read the search index"))?;
        let Some((_, address)) = top.into_iter().next() else {
            return Err(format!("{link} is not in the offline search index"));
        };
        let d: TantivyDocument = searcher.doc(address).map_err(err("cannot read a document"))?;
        Ok(d.get_first(self.fields.body).and_then(|v| v.as_value().as_str()).unwrap_or("").to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_headings_or_names() {
        assert_eq!(title_of("intro\n# The Tides\ntext", Path::new("/c/a.md")), "The Tides");
        assert_eq!(title_of("no heading", Path::new("/c/notes.txt")), "notes.txt");
        assert_eq!(title_of("## Sub\n# Main", Path::new("/c/a.html")), "Sub");
        assert_eq!(title_of("#hashtag", Path::new("/c/b.txt")), "b.txt");
    }
}
