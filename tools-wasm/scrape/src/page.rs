//! Getting a page's text: over HTTP through the host, from the offline
//! index, or from the workspace; converted by `fathom-reader` (a
//! readability pass for HTML, text per page for PDFs, and so on).

use std::collections::BTreeMap;

use fathom_reader::Limits;
use fathom_sdk::http::{self, Request};
use fathom_sdk::{local, search_index, web};

use crate::Stats;

/// The protocol's cut: the first 409,600 characters go to the model.
pub const MAX_CONTENT_CHARS: usize = 409_600;
/// Characters of a page converted at most, so the statistics can say how
/// much was left out.
const MAX_PAGE_CHARS: usize = 4 << 20;
/// The largest local file read.
const MAX_FILE_BYTES: u64 = 100 << 20;

/// A page's text.
#[derive(Debug)]
pub struct Page {
    pub text: String,
    /// A note about the text the model should see with it (a download cut
    /// at the policy's size).
    pub note: Option<String>,
}

impl Page {
    /// The text the model reads (the first [`MAX_CONTENT_CHARS`]), and
    /// what it is of the whole.
    pub fn for_model(&self) -> (String, Stats) {
        let total_chars = self.text.chars().count();
        let shown: String = self.text.chars().take(MAX_CONTENT_CHARS).collect();
        let stats = Stats {
            line_count: self.text.lines().count(),
            char_count: total_chars,
            last_char_line: shown.lines().count(),
            all_content_displayed: shown.len() == self.text.len() && self.note.is_none(),
            parts: 1,
        };
        let content = match &self.note {
            Some(n) => format!("{shown}\n\n[{n}]"),
            None => shown,
        };
        (content, stats)
    }
}

fn limits() -> Limits {
    Limits { max_chars: MAX_PAGE_CHARS, ..Limits::default() }
}

/// The page at `url`, or why it could not be read (naming the host and
/// the policy key when the network layer refused it).
pub fn load(url: &str, headers: Option<&BTreeMap<String, String>>) -> Result<Page, String> {
    if web::leaks_benchmarks(url) {
        return Err(format!(
            "{url} is not read: Hugging Face datasets and spaces are blocked, as they hold benchmark answers"
        ));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return fetch(url, headers);
    }
    if url.contains("://") && !url.starts_with("file://") {
        return Err(format!("'{url}' has a scheme this tool does not read; use http(s)://, file:// or a path"));
    }
    if url.starts_with("file://") {
        // A result of the offline search: the index has its text.
        match search_index::document(url) {
            Ok(text) => return Ok(Page { text, note: None }),
            Err(indexed) => return local_file(url).map_err(|e| format!("{indexed}; {e}")),
        }
    }
    local_file(url)
}

fn fetch(url: &str, headers: Option<&BTreeMap<String, String>>) -> Result<Page, String> {
    let mut request = Request { method: "GET".into(), url: url.into(), headers: Vec::new(), body: None };
    request.headers.extend(headers.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
    if !request.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
        request.headers.push((
            "Accept".into(),
            "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.5".into(),
        ));
    }
    let response = http::fetch(&request)?;
    if response.status >= 400 {
        return Err(format!("{} answered HTTP {}", response.url, response.status));
    }
    let converted = fathom_reader::convert_download(
        &response.url,
        http::header(&response, "content-type"),
        &response.body,
        &limits(),
    )
    .map_err(|e| format!("{}: {e}", response.url))?;
    let note = response.truncated.then(|| {
        format!(
            "the download was cut after {} bytes, the most this task may download (network.max_download_mb): the \
             text above is of the first part only",
            response.body.len()
        )
    });
    Ok(Page { text: converted.text, note })
}

fn local_file(raw: &str) -> Result<Page, String> {
    let path = local::readable_path(raw)?;
    let bytes = local::read_file(&path, MAX_FILE_BYTES)?;
    let converted =
        fathom_reader::convert(&path.display().to_string(), &bytes, &limits()).map_err(|e| e.to_string())?;
    Ok(Page { text: converted.text, note: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_sees_the_first_part_and_the_stats_say_so() {
        let text = "line\n".repeat(100_000) + &"x".repeat(10);
        let page = Page { text, note: None };
        let (content, stats) = page.for_model();
        assert_eq!(content.chars().count(), MAX_CONTENT_CHARS);
        assert_eq!(stats.char_count, 500_010);
        assert_eq!(stats.line_count, 100_001);
        assert_eq!(stats.last_char_line, MAX_CONTENT_CHARS / 5);
        assert!(!stats.all_content_displayed);
        let small = Page { text: "a\nb".into(), note: None }.for_model().1;
        assert!(small.all_content_displayed && small.last_char_line == 2);
    }
}
