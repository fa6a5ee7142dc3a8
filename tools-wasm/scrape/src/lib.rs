//! `jina_scrape_llm_summary.scrape_and_extract_info`: read a page and have
//! the summary model extract what the task asks for, as MiroThinker's tool
//! does, with two differences that matter: the page is turned into text
//! here, inside the sandbox (`fathom-reader`: a readability pass over HTML,
//! PDFs and office files by format), never by a remote service; and a page
//! longer than the model can read is split into overlapping parts whose
//! extractions are merged, not cut blind.
//!
//! Pages come through the host's network layer (the task's allowlist, on
//! every redirect), from the offline index (`file://` links of the `local`
//! search backend), or from the sandbox workspace. The summary model is a
//! host import: this component never holds its endpoint or key.

mod extract;
mod page;

use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox};
use serde::{Deserialize, Serialize};

pub use extract::{Extraction, Model};
pub use page::Page;

#[derive(Debug, Deserialize, JsonSchema)]
// Unknown arguments are ignored: a model's misspelt optional knob (`h` for
// `hl`) should not cost it the search.
pub struct ScrapeArgs {
    /// The page: an http(s) URL, a `file://` link from the search results, or a path in the sandbox workspace.
    pub url: String,
    /// What to extract from the page, specifically (a fact, a table, a list of names...).
    pub info_to_extract: String,
    /// Extra HTTP request headers, e.g. {"Accept-Language": "de"}.
    pub custom_headers: Option<std::collections::BTreeMap<String, String>>,
    /// The sandbox whose workspace a workspace path is in (default: the task's only sandbox).
    #[allow(dead_code)] // resolved by the host to this instance's workspace
    pub sandbox_id: Option<SandboxId>,
}

/// The tool's result, with the protocol's fields.
#[derive(Debug, Serialize)]
pub struct ScrapeResult {
    pub success: bool,
    pub url: String,
    pub extracted_info: String,
    pub error: String,
    pub scrape_stats: Stats,
    pub model_used: String,
    pub tokens_used: u64,
}

/// What was read of the page.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub line_count: usize,
    pub char_count: usize,
    /// The line of the page's text the last character shown to the model is on.
    pub last_char_line: usize,
    pub all_content_displayed: bool,
    /// How many parts the page was read in (1 unless it was split).
    pub parts: usize,
}

fn check(args: &ScrapeArgs) -> Result<(), ToolError> {
    if args.url.trim().is_empty() {
        return Err(ToolError::invalid("`url` is empty"));
    }
    if args.info_to_extract.trim().is_empty() {
        return Err(ToolError::invalid("`info_to_extract` is empty: say what to look for on the page"));
    }
    for (name, value) in args.custom_headers.iter().flatten() {
        if value.contains("{{") {
            return Err(ToolError::invalid(format!("custom header {name} may not name a secret")));
        }
    }
    Ok(())
}

/// Scrape `args.url` and extract with `model`: the protocol's JSON, with
/// `success: false` and the reason when the page or the model failed.
pub fn scrape(args: &ScrapeArgs, model: &dyn Model) -> Result<String, ToolError> {
    check(args)?;
    let url = args.url.trim();
    let mut result = ScrapeResult {
        success: false,
        url: url.to_owned(),
        extracted_info: String::new(),
        error: String::new(),
        scrape_stats: Stats::default(),
        model_used: String::new(),
        tokens_used: 0,
    };
    match page::load(url, args.custom_headers.as_ref()) {
        Err(e) => result.error = e,
        Ok(page) => {
            let (content, stats) = page.for_model();
            result.scrape_stats = stats;
            let e = extract::extract(model, &content, &args.info_to_extract);
            result.scrape_stats.parts = e.parts;
            result.model_used = e.model;
            result.tokens_used = e.tokens;
            match e.info {
                Ok(info) => {
                    result.success = true;
                    result.extracted_info = info;
                }
                Err(why) => result.error = why,
            }
        }
    }
    Ok(serde_json::to_string(&result).expect("a result always serializes"))
}

fn scrape_and_extract_info(args: ScrapeArgs) -> Result<String, ToolError> {
    scrape(&args, &extract::HostModel)
}

pub fn toolbox() -> Toolbox {
    Toolbox::new("jina_scrape_llm_summary").tool(
        "scrape_and_extract_info",
        "Read a web page (or a PDF, a document, a file:// link from the search results) and extract the \
         information you ask for with a language model: say precisely what to extract. Returns JSON with \
         `extracted_info`, or `success: false` and the `error`.",
        scrape_and_extract_info,
    )
}

fathom_sdk::export!(toolbox);
