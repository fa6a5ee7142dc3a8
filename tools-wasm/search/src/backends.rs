//! The search backends: each turns the arguments into a request, and what
//! comes back into [`Found`]. Parsing is strict about the shape the
//! protocol needs (a title and a link per result) and lenient about the
//! rest, since every engine adds fields of its own.

use fathom_sdk::http::{self, Request};
use fathom_sdk::{ToolError, search_index};
use serde_json::{Map, Value};

use crate::{Found, Organic, SearchArgs};

/// The backend this instance was configured with.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    Serper { base: String },
    Searxng { base: String },
    Local,
}

/// Attempts at a backend that fails on its side (5xx, 429, no answer).
const ATTEMPTS: u32 = 3;

impl Backend {
    /// From the operator's settings the host passes in.
    pub fn from_env() -> Result<Backend, ToolError> {
        if let Ok(why) = std::env::var("FATHOM_SEARCH_UNAVAILABLE") {
            return Err(ToolError::failed(why));
        }
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        match var("FATHOM_SEARCH_BACKEND").as_deref() {
            Some("serper") => Ok(Backend::Serper {
                base: var("SERPER_BASE_URL").unwrap_or_else(|| "https://google.serper.dev".into()),
            }),
            Some("searxng") => match var("SEARXNG_URL") {
                Some(base) => Ok(Backend::Searxng { base }),
                None => Err(ToolError::failed("the searxng search backend has no SEARXNG_URL")),
            },
            Some("local") => Ok(Backend::Local),
            Some(other) => Err(ToolError::failed(format!("unknown search backend {other:?}"))),
            None => Err(ToolError::failed(
                "this tool has no search backend: the task's policy does not give it to this tool's server (tools.search)",
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Serper { .. } => "serper",
            Backend::Searxng { .. } => "searxng",
            Backend::Local => "local",
        }
    }

    pub fn search(&self, args: &SearchArgs) -> Result<Found, ToolError> {
        match self {
            Backend::Serper { base } => {
                let body = serper_body(args);
                let request = Request {
                    method: "POST".into(),
                    url: format!("{}/search", base.trim_end_matches('/')),
                    headers: vec![
                        ("X-API-KEY".into(), "{{secrets.SERPER_API_KEY}}".into()),
                        ("Content-Type".into(), "application/json".into()),
                    ],
                    body: Some(body.to_string().into_bytes()),
                };
                parse_serper(&answer("Serper", &request)?)
            }
            Backend::Searxng { base } => {
                let url = searxng_url(base, args);
                let request = Request {
                    method: "GET".into(),
                    url,
                    headers: vec![("Accept".into(), "application/json".into())],
                    body: None,
                };
                parse_searxng(&answer("SearXNG", &request)?, args.num as usize)
            }
            Backend::Local => {
                let offset = (args.page - 1) * args.num;
                let hits = search_index::query(&args.q, args.num, offset).map_err(ToolError::failed)?;
                let organic = hits
                    .into_iter()
                    .map(|h| Organic {
                        title: h.title,
                        link: h.link,
                        snippet: h.snippet,
                        position: 0,
                        date: None,
                        extra: Map::new(),
                    })
                    .collect();
                Ok(Found { organic, blocks: Map::new() })
            }
        }
    }
}

/// Serper's request body: the arguments as its API names them.
fn serper_body(args: &SearchArgs) -> Value {
    let mut body = serde_json::json!({ "q": args.q, "gl": args.gl, "hl": args.hl, "num": args.num, "page": args.page });
    if let Some(l) = &args.location {
        body["location"] = l.clone().into();
    }
    if let Some(t) = &args.tbs {
        body["tbs"] = t.clone().into();
    }
    if let Some(a) = args.autocorrect {
        body["autocorrect"] = a.into();
    }
    body
}

/// SearXNG's search URL: `language` from `hl` and `gl`, `time_range` from
/// `tbs`, `pageno` from `page`.
pub fn searxng_url(base: &str, args: &SearchArgs) -> String {
    let mut url =
        format!("{}/search?format=json&q={}&pageno={}", base.trim_end_matches('/'), encode(&args.q), args.page);
    let hl = args.hl.trim();
    if !hl.is_empty() {
        let language = match (hl.contains('-'), args.gl.trim()) {
            (false, gl) if !gl.is_empty() => format!("{hl}-{}", gl.to_ascii_uppercase()),
            _ => hl.to_owned(),
        };
        url.push_str(&format!("&language={}", encode(&language)));
    }
    if let Some(range) = args.tbs.as_deref().and_then(time_range) {
        url.push_str(&format!("&time_range={range}"));
    }
    url
}

/// SearXNG's `time_range` for a Google `tbs` time filter. SearXNG has no
/// hour: the past hour is searched as the past day.
pub fn time_range(tbs: &str) -> Option<&'static str> {
    match tbs.trim() {
        "qdr:h" | "qdr:d" => Some("day"),
        "qdr:w" => Some("week"),
        "qdr:m" => Some("month"),
        "qdr:y" => Some("year"),
        _ => None,
    }
}

/// Percent-encoding for a query string value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The backend's JSON answer to `request`, retried when the backend
/// fails on its side; every failure in one sentence naming the backend.
fn answer(engine: &str, request: &Request) -> Result<Value, ToolError> {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            std::thread::sleep(std::time::Duration::from_millis(500 << (attempt - 2)));
        }
        let response = match http::fetch(request) {
            Ok(r) => r,
            // A refusal by the policy will not change on a retry.
            Err(e) if e.contains("policy") || e.contains("network.") || e.contains("secrets.") => {
                return Err(ToolError::failed(e));
            }
            Err(e) => {
                last = e;
                continue;
            }
        };
        let status = response.status;
        if status == 429 || status >= 500 {
            last = format!("{engine} answered HTTP {status}");
            continue;
        }
        if status != 200 {
            return Err(ToolError::failed(refusal(engine, status, &response.url, &response.body)));
        }
        return serde_json::from_slice(&response.body).map_err(|e| {
            ToolError::failed(format!("{engine} answered with something that is not JSON ({e}) from {}", response.url))
        });
    }
    Err(ToolError::failed(format!("{engine} failed after {ATTEMPTS} attempts: {last}")))
}

/// A 4xx answer in words.
fn refusal(engine: &str, status: u16, url: &str, body: &[u8]) -> String {
    let detail: String = String::from_utf8_lossy(body).chars().take(200).collect();
    match (engine, status) {
        ("SearXNG", 403) => format!(
            "SearXNG at {url} refused the JSON API (HTTP 403): its settings.yml does not enable it; add `json` to \
             `search.formats` there (formats: [html, json]) and restart SearXNG"
        ),
        ("Serper", 401 | 403) => format!(
            "Serper refused the API key (HTTP {status}): the daemon's SERPER_API_KEY is wrong or out of credits ({detail})"
        ),
        _ => format!("{engine} refused the search with HTTP {status}: {detail}"),
    }
}

/// Serper's answer: its `organic` list and the blocks the protocol keeps.
pub fn parse_serper(v: &Value) -> Result<Found, ToolError> {
    let Some(obj) = v.as_object() else {
        return Err(ToolError::failed("Serper answered JSON that is not an object"));
    };
    if let Some(message) = obj.get("message").and_then(Value::as_str).filter(|_| !obj.contains_key("organic")) {
        return Err(ToolError::failed(format!("Serper: {message}")));
    }
    let organic = obj
        .get("organic")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| serde_json::from_value::<Organic>(o.clone()).ok())
        .collect();
    let blocks = ["answerBox", "knowledgeGraph", "peopleAlsoAsk", "relatedSearches"]
        .into_iter()
        .filter_map(|k| obj.get(k).map(|b| (k.to_owned(), b.clone())))
        .collect();
    Ok(Found { organic, blocks })
}

/// SearXNG's answer in Serper's shape: `results` as organic results,
/// its first answer as the answer box, its first infobox as the knowledge
/// graph, its suggestions as related searches.
pub fn parse_searxng(v: &Value, num: usize) -> Result<Found, ToolError> {
    let text = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").trim().to_owned();
    let organic = v
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| !text(r, "url").is_empty())
        .take(num)
        .map(|r| {
            let mut extra = Map::new();
            if let Some(e) = r.get("engine").and_then(Value::as_str) {
                extra.insert("source".into(), e.into());
            }
            let date = r.get("publishedDate").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_owned);
            Organic {
                title: text(r, "title"),
                link: text(r, "url"),
                snippet: text(r, "content"),
                position: 0,
                date,
                extra,
            }
        })
        .collect();
    let mut blocks = Map::new();
    let first_answer = v.get("answers").and_then(Value::as_array).and_then(|a| a.first()).and_then(|a| match a {
        Value::String(s) => Some(serde_json::json!({ "answer": s })),
        Value::Object(o) => o.get("answer").map(|ans| {
            let mut b = serde_json::json!({ "answer": ans });
            if let Some(u) = o.get("url") {
                b["link"] = u.clone();
            }
            b
        }),
        _ => None,
    });
    if let Some(a) = first_answer {
        blocks.insert("answerBox".into(), a);
    }
    if let Some(ib) = v.get("infoboxes").and_then(Value::as_array).and_then(|a| a.first()) {
        let mut kg = serde_json::json!({ "title": text(ib, "infobox"), "description": text(ib, "content") });
        if let Some(u) = ib.get("urls").and_then(Value::as_array).and_then(|u| u.first()).and_then(|u| u.get("url")) {
            kg["website"] = u.clone();
        }
        blocks.insert("knowledgeGraph".into(), kg);
    }
    if let Some(s) = v.get("suggestions").and_then(Value::as_array).filter(|s| !s.is_empty()) {
        let related: Vec<Value> =
            s.iter().filter_map(Value::as_str).map(|q| serde_json::json!({ "query": q })).collect();
        blocks.insert("relatedSearches".into(), related.into());
    }
    Ok(Found { organic, blocks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(q: &str) -> SearchArgs {
        serde_json::from_value(serde_json::json!({ "q": q })).unwrap()
    }

    #[test]
    fn searxng_urls_carry_language_time_and_page() {
        let mut a = args("tide tables \"Brest\"");
        a.tbs = Some("qdr:w".into());
        a.page = 2;
        assert_eq!(
            searxng_url("http://127.0.0.1:8888/", &a),
            "http://127.0.0.1:8888/search?format=json&q=tide+tables+%22Brest%22&pageno=2&language=en-US&time_range=week"
        );
        assert_eq!(time_range("qdr:h"), Some("day"));
        assert_eq!(time_range("qdr:x"), None);
    }

    #[test]
    fn serper_answers_keep_their_blocks_and_extra_fields() {
        let v = serde_json::json!({
            "searchParameters": {"q": "x"},
            "organic": [
                {"title": "A", "link": "https://a.org", "snippet": "s", "position": 1, "sitelinks": [{"title": "t"}]},
                {"title": "no link"}
            ],
            "answerBox": {"answer": "42"},
            "credits": 1
        });
        let f = parse_serper(&v).unwrap();
        assert_eq!(f.organic.len(), 1);
        assert!(f.organic[0].extra.contains_key("sitelinks"));
        assert_eq!(f.blocks.keys().collect::<Vec<_>>(), ["answerBox"]);
        assert!(parse_serper(&serde_json::json!({"message": "Unauthorized.", "statusCode": 403})).is_err());
    }

    #[test]
    fn searxng_answers_become_serper_shaped() {
        let v = serde_json::json!({
            "results": [
                {"url": "https://a.org/x", "title": "A", "content": "about a", "engine": "duckduckgo", "publishedDate": null},
                {"url": "", "title": "empty"},
                {"url": "https://b.org", "title": "B", "content": "about b"}
            ],
            "answers": ["forty-two"],
            "infoboxes": [{"infobox": "Brest", "content": "A port city", "urls": [{"url": "https://brest.fr"}]}],
            "suggestions": ["brest tides"]
        });
        let f = parse_searxng(&v, 10).unwrap();
        assert_eq!(f.organic.iter().map(|o| o.link.as_str()).collect::<Vec<_>>(), ["https://a.org/x", "https://b.org"]);
        assert_eq!(f.organic[0].date, None);
        assert_eq!(f.blocks["answerBox"]["answer"], "forty-two");
        assert_eq!(f.blocks["knowledgeGraph"]["website"], "https://brest.fr");
        assert_eq!(f.blocks["relatedSearches"][0]["query"], "brest tides");
    }
}
