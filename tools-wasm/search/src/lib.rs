//! `search_and_scrape_webpage.google_search`: a web search with the
//! arguments and the Serper-format JSON result MiroThinker was trained on,
//! from whichever backend the operator configured (`FATHOM_SEARCH_BACKEND`,
//! handed to this component by the host with the backend's URLs):
//!
//! - `serper`: a Serper-compatible API, `POST {SERPER_BASE_URL}/search`,
//!   its key named as `{{secrets.SERPER_API_KEY}}` so that the host adds it
//!   for Serper's host alone and this component never holds it;
//! - `searxng`: a SearXNG instance's JSON API, `GET {SEARXNG_URL}/search`;
//! - `local`: the offline index of `fathom index build`, through the host's
//!   `search-index` import.
//!
//! Every backend's answer is parsed here, in the sandbox, and the
//! protocol's rules hold for all: results from benchmark-leak hosts
//! (`huggingface.co/datasets`, `/spaces`) removed, an empty result for a
//! quoted query retried without the quotes, and a zero-result answer that
//! says so.

mod backends;

use fathom_sdk::{JsonSchema, ToolError, Toolbox};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use backends::Backend;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
// Unknown arguments are ignored: a model's misspelt optional knob (`h` for
// `hl`) should not cost it the search.
pub struct SearchArgs {
    /// The search query.
    pub q: String,
    /// Country code of the results, e.g. `us`, `cn`, `de`.
    #[serde(default = "default_gl")]
    pub gl: String,
    /// Language of the results, e.g. `en`, `zh-cn`, `de`.
    #[serde(default = "default_hl")]
    pub hl: String,
    /// Where the search is made from, e.g. `San Francisco, California, United States`.
    pub location: Option<String>,
    /// Number of results (1 to 100).
    #[serde(default = "default_num")]
    pub num: u32,
    /// Time filter: `qdr:h` (past hour), `qdr:d` (day), `qdr:w` (week), `qdr:m` (month), `qdr:y` (year).
    pub tbs: Option<String>,
    /// Page of results, from 1.
    #[serde(default = "default_page")]
    pub page: u32,
    /// Whether the engine may correct the query's spelling.
    pub autocorrect: Option<bool>,
}

fn default_gl() -> String {
    "us".into()
}
fn default_hl() -> String {
    "en".into()
}
fn default_num() -> u32 {
    10
}
fn default_page() -> u32 {
    1
}

/// One organic result, Serper's fields first; whatever else the backend
/// sent about it (Serper's `sitelinks`, say) is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organic {
    pub title: String,
    pub link: String,
    #[serde(default)]
    pub snippet: String,
    #[serde(default)]
    pub position: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a backend found, before the protocol's rules.
#[derive(Debug, Default)]
pub struct Found {
    pub organic: Vec<Organic>,
    /// Serper's other blocks (`answerBox`, `knowledgeGraph`,
    /// `peopleAlsoAsk`, `relatedSearches`), or their SearXNG equivalents.
    pub blocks: Map<String, Value>,
}

/// The result as the model sees it: Serper's JSON.
#[derive(Serialize)]
struct Results {
    #[serde(rename = "searchParameters")]
    search_parameters: Value,
    organic: Vec<Organic>,
    #[serde(flatten)]
    blocks: Map<String, Value>,
    /// Said plainly when nothing was found, or when the quotes were dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn check(args: &SearchArgs) -> Result<(), ToolError> {
    if args.q.trim().is_empty() {
        return Err(ToolError::invalid("`q` is empty: give the words to search for"));
    }
    if !(1..=100).contains(&args.num) {
        return Err(ToolError::invalid(format!("`num` must be from 1 to 100, not {}", args.num)));
    }
    if args.page == 0 || args.page > 100 {
        return Err(ToolError::invalid(format!("`page` must be from 1 to 100, not {}", args.page)));
    }
    if let Some(t) = &args.tbs {
        if backends::time_range(t).is_none() {
            return Err(ToolError::invalid(format!(
                "`tbs` {t:?} is not a time filter: use qdr:h, qdr:d, qdr:w, qdr:m or qdr:y"
            )));
        }
    }
    Ok(())
}

/// `found` after the protocol's filter, positions renumbered.
fn filtered(mut found: Found) -> Found {
    found.organic.retain(|o| !fathom_sdk::web::leaks_benchmarks(&o.link));
    for (i, o) in found.organic.iter_mut().enumerate() {
        o.position = i as u32 + 1;
    }
    found
}

/// Run the search on `backend`, with the protocol's rules.
pub fn search(backend: &Backend, args: &SearchArgs) -> Result<String, ToolError> {
    check(args)?;
    let mut query = args.clone();
    let mut found = filtered(backend.search(&query)?);
    let mut message = None;
    if found.organic.is_empty() && query.q.contains('"') {
        let unquoted = query.q.replace('"', " ").split_whitespace().collect::<Vec<_>>().join(" ");
        if !unquoted.is_empty() {
            query.q = unquoted;
            found = filtered(backend.search(&query)?);
            if !found.organic.is_empty() {
                message = Some(format!(
                    "No results for the exact phrase in '{}'; these are the results without the quotes.",
                    args.q
                ));
            }
        }
    }
    if found.organic.is_empty() {
        message = Some(format!(
            "No results found for '{}' (search backend: {}). Try other or fewer keywords, or a broader query.",
            args.q,
            backend.name()
        ));
    }
    let mut params = serde_json::json!({
        "q": query.q, "gl": args.gl, "hl": args.hl, "num": args.num, "page": args.page,
        "type": "search", "engine": backend.name(),
    });
    for (k, v) in [("location", args.location.clone().map(Value::from)), ("tbs", args.tbs.clone().map(Value::from))] {
        if let Some(v) = v {
            params[k] = v;
        }
    }
    if let Some(a) = args.autocorrect {
        params["autocorrect"] = a.into();
    }
    let results = Results { search_parameters: params, organic: found.organic, blocks: found.blocks, message };
    Ok(serde_json::to_string(&results).expect("results always serialize"))
}

fn google_search(args: SearchArgs) -> Result<String, ToolError> {
    search(&Backend::from_env()?, &args)
}

pub fn toolbox() -> Toolbox {
    Toolbox::new("search_and_scrape_webpage").tool(
        "google_search",
        "Search the web (or the offline document index, as this deployment is configured) and return the results \
         as JSON: organic results with title, link, snippet and position, and an answer box or knowledge graph \
         when the engine has one. Use specific keywords; quote exact phrases. Open a result with \
         scrape_and_extract_info.",
        google_search,
    )
}

fathom_sdk::export!(toolbox);
