//! The web research tools against real servers on loopback: a
//! Serper-compatible API and a SearXNG instance serving recorded JSON (a
//! 403 and empty results included), fixture pages (a news article wrapped
//! in navigation, scripts and a cookie banner, a table page, a very long
//! page, a redirect to a private address), a scripted summary model that
//! records what it is sent, and the offline index; then the agent loop
//! through the daemon, search → scrape → boxed answer.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::scripted::{Scripted, completion, status};
use common::web::{Route, Web, redirect};
use fathom::caps::summary::SummaryModel;
use fathom::llm::LlmConfig;
use fathom::policy::Policy;
use fathom::runtime::{CallOutcome, Session, SessionOptions};
use fathom::search::{Backend, Settings};
use serde_json::{Value, json};

const KEY: &str = "serper-key-8c1f0e";

fn loopback(edit: impl FnOnce(&mut Policy)) -> Policy {
    common::policy(|p| {
        p.network.allow_hosts = vec!["127.0.0.1:*".into()];
        p.network.allow_private = true;
        p.tools.disabled.clear();
        edit(p);
    })
}

fn settings(backend: Backend) -> Settings {
    Settings {
        backend,
        serper_base_url: "http://127.0.0.1:9".into(),
        serper_key: None,
        searxng_url: None,
        index: PathBuf::from("/nonexistent/fathom-index"),
    }
}

/// A summary model on loopback: answers with `answer(prompt)`, or a
/// context-length error for a prompt over `context` characters; every
/// prompt is kept.
struct Summary {
    server: Scripted,
    prompts: Arc<Mutex<Vec<String>>>,
}

async fn summary(context: usize, answer: fn(&str) -> String) -> Summary {
    let prompts: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = prompts.clone();
    let server = Scripted::responder(move |body| {
        let prompt = body["messages"][0]["content"].as_str().unwrap_or("").to_owned();
        seen.lock().unwrap().push(prompt.clone());
        if prompt.chars().count() > context {
            return status(400, r#"{"error":{"message":"This model's maximum context length is 32768 tokens"}}"#);
        }
        completion(&answer(&prompt), "stop")
    })
    .await;
    Summary { server, prompts }
}

impl Summary {
    fn prompts(&self) -> Vec<String> {
        self.prompts.lock().unwrap().clone()
    }
}

async fn session(policy: Policy, search: Settings, model: Option<&Summary>) -> Session {
    let rt = common::runtime().await;
    let mut opts = SessionOptions::new(policy);
    opts.search = Some(Arc::new(search));
    opts.summary = model.map(|m| {
        let mut cfg = LlmConfig::new(m.server.url.clone(), "summary-m");
        cfg.max_attempts = 2;
        cfg.backoff = Duration::from_millis(10);
        Arc::new(SummaryModel::new(cfg, "task-web").unwrap())
    });
    Session::new(rt, opts).unwrap()
}

async fn call(s: &Session, tool: &str, args: Value) -> CallOutcome {
    let (server, name) = tool.rsplit_once('.').unwrap();
    s.call(server, name, &args.to_string()).await
}

async fn search(s: &Session, args: Value) -> Value {
    let out = call(s, "search_and_scrape_webpage.google_search", args).await;
    assert!(out.ok, "{}", out.output);
    serde_json::from_str(&out.output).unwrap_or_else(|e| panic!("{e}: {}", out.output))
}

async fn scrape(s: &Session, url: &str, info: &str) -> (Value, CallOutcome) {
    let out =
        call(s, "jina_scrape_llm_summary.scrape_and_extract_info", json!({"url": url, "info_to_extract": info})).await;
    let v = serde_json::from_str(&out.output).unwrap_or_else(|e| panic!("{e}: {}", out.output));
    (v, out)
}

fn links(v: &Value) -> Vec<String> {
    v["organic"].as_array().unwrap().iter().map(|o| o["link"].as_str().unwrap().to_owned()).collect()
}

fn json_route(body: &Value) -> Option<Route> {
    Some((200, vec![("Content-Type".into(), "application/json".into())], body.to_string().into_bytes()))
}

fn serper_answer() -> Value {
    json!({
        "searchParameters": {"q": "tidal range brest", "type": "search", "engine": "google"},
        "answerBox": {"title": "Tides in Brest", "answer": "up to 7.2 m"},
        "organic": [
            {"title": "Tides of Brest", "link": "https://tides.example/brest", "snippet": "The range reaches 7.2 m.", "position": 1, "date": "Mar 3, 2026"},
            {"title": "GAIA answers", "link": "https://huggingface.co/datasets/gaia-benchmark/GAIA", "snippet": "leak", "position": 2},
            {"title": "Ocean atlas", "link": "https://atlas.example/tides", "snippet": "Tidal ranges of the Atlantic coast.", "position": 3, "sitelinks": [{"title": "Brittany", "link": "https://atlas.example/tides/brittany"}]}
        ],
        "relatedSearches": [{"query": "brest tide times"}],
        "credits": 1
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serper_results_keep_their_shape_and_the_key_goes_to_serper_alone() {
    let elsewhere = Web::start(|_| json_route(&json!({}))).await;
    let moved_to = elsewhere.url("127.0.0.1", "/search");
    let serper = Web::start(move |path| match path {
        "/search" => json_route(&serper_answer()),
        "/moved/search" => redirect(&moved_to),
        _ => None,
    })
    .await;
    let mut st = settings(Backend::Serper);
    st.serper_base_url = serper.url("127.0.0.1", "");
    st.serper_key = Some(KEY.into());
    // A task policy naming the key for another host changes nothing.
    let policy = loopback(|p| {
        p.secrets.insert("SERPER_API_KEY".into(), fathom::policy::Secret { hosts: vec!["elsewhere.example".into()] });
    });
    let s = session(policy, st.clone(), None).await;

    let v = search(&s, json!({"q": "tidal range brest", "num": 5, "tbs": "qdr:m"})).await;
    assert_eq!(
        links(&v),
        ["https://tides.example/brest", "https://atlas.example/tides"],
        "the dataset link is filtered"
    );
    assert_eq!(v["organic"][1]["position"], 2, "positions are renumbered");
    assert_eq!(v["organic"][0]["date"], "Mar 3, 2026");
    assert!(v["organic"][1]["sitelinks"].is_array(), "the backend's extra fields stay");
    assert_eq!(v["answerBox"]["answer"], "up to 7.2 m");
    assert_eq!(v["relatedSearches"][0]["query"], "brest tide times");
    assert_eq!(
        (&v["searchParameters"]["q"], &v["searchParameters"]["tbs"]),
        (&json!("tidal range brest"), &json!("qdr:m"))
    );
    assert!(v.get("credits").is_none() && v.get("message").is_none());
    let sent = serper.headers_of("/search");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains(&("x-api-key".into(), KEY.into())), "{:?}", sent[0]);
    let body: Value = serde_json::from_slice(&serper.bodies.lock().unwrap()[0].1).unwrap();
    assert_eq!(body, json!({"q": "tidal range brest", "gl": "us", "hl": "en", "num": 5, "page": 1, "tbs": "qdr:m"}));

    // The shell of the same task cannot send the key, even to Serper.
    let curl = format!("curl -s -H 'X-API-KEY: {{{{secrets.SERPER_API_KEY}}}}' {}", serper.url("127.0.0.1", "/search"));
    let out = call(&s, "tool-python.run_command", json!({ "command": curl })).await;
    assert!(!out.output.contains("7.2 m"), "{}", out.output);
    assert_eq!(serper.headers_of("/search").iter().filter(|h| h.iter().any(|(_, v)| v == KEY)).count(), 1);

    // A redirect off Serper's host and port drops the key.
    st.serper_base_url = serper.url("127.0.0.1", "/moved");
    let s = session(loopback(|_| {}), st, None).await;
    let v = search(&s, json!({"q": "moved"})).await;
    assert_eq!(v["organic"], json!([]));
    let followed = elsewhere.headers_of("/search");
    assert_eq!(followed.len(), 1, "the redirect was followed");
    assert!(followed[0].iter().all(|(_, v)| !v.contains(KEY)), "{:?}", followed[0]);
}

fn searxng_answer() -> Value {
    json!({
        "query": "brest tides",
        "number_of_results": 2,
        "results": [
            {"url": "https://tides.example/brest", "title": "Tides of Brest", "content": "The range reaches 7.2 m.", "engine": "duckduckgo", "publishedDate": "2026-03-03T00:00:00"},
            {"url": "https://hf.co/spaces/someone/answers", "title": "leak", "content": "x"},
            {"url": "https://atlas.example/tides", "title": "Ocean atlas", "content": "Tidal ranges.", "engine": "bing"}
        ],
        "answers": [{"answer": "7.2 m", "url": "https://tides.example/brest"}],
        "infoboxes": [{"infobox": "Brest", "content": "A port city in Brittany.", "urls": [{"title": "site", "url": "https://brest.example"}]}],
        "suggestions": ["brest tide times"],
        "unresponsive_engines": []
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searxng_is_mapped_to_serpers_shape_and_its_403_says_how_to_enable_json() {
    let searx = Web::start(|path| {
        let empty = json!({"query": "", "results": [], "answers": [], "infoboxes": [], "suggestions": []});
        if !path.starts_with("/search?") || !path.contains("format=json") {
            None
        } else if path.contains("nothing+at+all") || path.contains("%22") {
            // Nothing for a quoted phrase; results for the same words.
            json_route(&empty)
        } else {
            json_route(&searxng_answer())
        }
    })
    .await;
    let mut st = settings(Backend::Searxng);
    st.searxng_url = Some(searx.url("127.0.0.1", "/"));
    let s = session(loopback(|_| {}), st, None).await;

    let v = search(&s, json!({"q": "brest tides", "tbs": "qdr:w", "hl": "fr", "gl": "fr", "page": 2})).await;
    assert_eq!(links(&v), ["https://tides.example/brest", "https://atlas.example/tides"]);
    assert_eq!(v["organic"][0]["date"], "2026-03-03T00:00:00");
    assert_eq!(v["answerBox"]["answer"], "7.2 m");
    assert_eq!(v["knowledgeGraph"]["title"], "Brest");
    assert_eq!(v["searchParameters"]["engine"], "searxng");
    let asked = searx.seen.lock().unwrap()[0].0.clone();
    for part in ["q=brest+tides", "time_range=week", "language=fr-FR", "pageno=2"] {
        assert!(asked.contains(part), "{asked} lacks {part}");
    }

    // A misspelt optional argument (a small model's `h` for `hl`) is ignored.
    let v = search(&s, json!({"q": "brest tides", "h": "en"})).await;
    assert_eq!(links(&v).len(), 2);

    // A quoted phrase with no results is searched again without quotes.
    let v = search(&s, json!({"q": "\"brest tides\" atlas"})).await;
    assert_eq!(links(&v).len(), 2);
    assert_eq!(v["searchParameters"]["q"], "brest tides atlas");
    assert!(v["message"].as_str().unwrap().contains("without the quotes"), "{v}");
    // Zero results are said plainly, in Serper's shape.
    let v = search(&s, json!({"q": "nothing at all"})).await;
    assert_eq!(v["organic"], json!([]));
    assert!(v["message"].as_str().unwrap().starts_with("No results found for 'nothing at all'"), "{v}");

    // An instance without the JSON API.
    let html_only = Web::start(|_| Some((403, vec![], b"Forbidden".to_vec()))).await;
    let mut st = settings(Backend::Searxng);
    st.searxng_url = Some(html_only.url("127.0.0.1", ""));
    let s = session(loopback(|_| {}), st, None).await;
    let out = call(&s, "search_and_scrape_webpage.google_search", json!({"q": "x"})).await;
    assert!(!out.ok);
    let e = out.error.unwrap();
    assert!(e.contains("HTTP 403") && e.contains("settings.yml") && e.contains("json"), "{e}");

    // Arguments the schema cannot hold.
    let s = session(loopback(|_| {}), settings(Backend::Local), None).await;
    for (args, want) in [
        (json!({"q": " "}), "`q` is empty"),
        (json!({"q": "a", "num": 0}), "`num` must be from 1 to 100"),
        (json!({"q": "a", "tbs": "last week"}), "qdr:h"),
    ] {
        let out = call(&s, "search_and_scrape_webpage.google_search", args.clone()).await;
        assert!(!out.ok && out.output.contains(want), "{args}: {}", out.output);
    }
}

/// Builds the offline index over `corpus` with the real CLI.
fn build_index(state: &Path, corpus: &Path, out: &Path) {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(["index", "build"])
        .arg(corpus)
        .arg("--out")
        .arg(out)
        .env("FATHOM_STATE_DIR", state)
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
}

fn echo_answer(prompt: &str) -> String {
    if prompt.contains("MERGED INFORMATION:") {
        "the merged extraction".into()
    } else {
        "The spring tidal range is the largest.".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_index_answers_searches_and_its_links_can_be_scraped() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(
        corpus.join("tides.md"),
        "# Spring tides\n\nSpring tides happen near new and full moon; the tidal range is then at its largest.",
    )
    .unwrap();
    std::fs::write(corpus.join("neap.txt"), "Neap tides come at the quarter moons, when the tidal range is smallest.")
        .unwrap();
    std::fs::write(corpus.join("etna.md"), "# Etna\n\nMount Etna is a volcano in Sicily.").unwrap();
    let index = dir.path().join("index");
    build_index(&dir.path().join("state"), &corpus, &index);

    let model = summary(1_000_000, echo_answer).await;
    // The daemon is configured for Serper; the task pins the offline index,
    // as the `offline` preset does.
    let mut st = settings(Backend::Serper);
    st.index = index.clone();
    let policy = fathom::policy::PolicyStore::default().load("offline").unwrap();
    assert_eq!(policy.search.backend, Some(Backend::Local));
    let s = session(policy, st, Some(&model)).await;

    let v = search(&s, json!({"q": "spring tidal range"})).await;
    let found = links(&v);
    assert_eq!(found[0], format!("file://{}", corpus.join("tides.md").display()), "{v}");
    assert!(!found.iter().any(|l| l.ends_with("etna.md")));
    assert!(v["organic"][0]["snippet"].as_str().unwrap().to_lowercase().contains("tid"), "{v}");
    assert_eq!(v["searchParameters"]["engine"], "local");
    let second = search(&s, json!({"q": "tidal range", "num": 1, "page": 2})).await;
    assert_eq!(links(&second).len(), 1);
    assert_ne!(links(&second)[0], links(&search(&s, json!({"q": "tidal range", "num": 1})).await)[0]);

    let (r, out) = scrape(&s, &found[0], "how large is the spring tidal range").await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["extracted_info"], "The spring tidal range is the largest.");
    assert_eq!(r["model_used"], "summary-m");
    assert_eq!(r["tokens_used"], 18);
    assert_eq!(out.usage, Some(fathom::llm::Usage { prompt_tokens: 11, completion_tokens: 7 }));
    let prompt = &model.prompts()[0];
    assert!(prompt.contains("INFORMATION TO EXTRACT:\nhow large is the spring tidal range"), "{prompt}");
    assert!(prompt.contains("Spring tides happen near new and full moon"), "{prompt}");
    assert!(prompt.trim_end().ends_with("EXTRACTED INFORMATION:"));

    // A file:// link outside the index and the workspace is refused.
    let (r, _) = scrape(&s, "file:///etc/passwd", "users").await;
    assert_eq!(r["success"], false);
    assert!(r["error"].as_str().unwrap().contains("not in the offline search index"), "{r}");
}

const NEWS: &str = r#"<!doctype html><html><head><title>Port news</title>
<style>.x { color: red } /* STYLE_NOISE */</style>
<script>var tracking = "SCRIPT_NOISE";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/sport">NAV_NOISE sport</a></nav>
<div class="cookie-banner">COOKIE_NOISE We use cookies. <button>Accept</button></div>
<header><h2>The Brest Gazette</h2></header>
<main><article>
<h1>Record tide floods the old harbour</h1>
<p>Brest, 3 March. The highest tide of the decade reached 7.2 metres on Tuesday morning, the harbour master said,
flooding the quays of the old port for two hours before the water went down again.</p>
<p>Engineers had raised the northern sea wall by forty centimetres last year; it held, and the new pumping station
cleared the lower streets by noon. The city will publish a full report on the surge next month.</p>
<p>Fishermen moved their boats to the outer basin on Monday evening after the warning from the weather service.</p>
</article></main>
<footer>Copyright FOOTER_NOISE</footer>
</body></html>"#;

const TABLES: &str = r#"<html><head><title>Tide tables</title></head><body>
<nav>NAV_NOISE</nav>
<h1>Tidal ranges of Atlantic ports</h1>
<table><tr><th>Port</th><th>Spring range (m)</th><th>Neap range (m)</th></tr>
<tr><td>Brest</td><td>7.2</td><td>3.1</td></tr>
<tr><td>Saint-Malo</td><td>12.0</td><td>5.2</td></tr>
<tr><td>Bordeaux</td><td>5.0</td><td>2.4</td></tr></table>
</body></html>"#;

fn long_page() -> String {
    let para: String = (0..50).map(|i| format!("Sentence {i} about the long page and its many tides. ")).collect();
    let body: String = (0..180).map(|i| format!("<p>Section {i}. {para}</p>\n")).collect();
    format!(
        "<html><head><title>Long</title></head><body><article><h1>A very long page</h1>{body}</article></body></html>"
    )
}

fn html(body: &str) -> Option<Route> {
    Some((200, vec![("Content-Type".into(), "text/html; charset=utf-8".into())], body.as_bytes().to_vec()))
}

async fn pages() -> Web {
    let long = long_page();
    Web::start(move |path| match path {
        "/news" => html(NEWS),
        "/tables" => html(TABLES),
        "/long" => html(&long),
        "/plain" => Some((200, vec![("Content-Type".into(), "text/plain".into())], "@".repeat(100_000).into_bytes())),
        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_reach_the_summary_model_as_clean_text_and_long_ones_in_parts() {
    let web = pages().await;
    let model = summary(1_000_000, echo_answer).await;
    let s = session(loopback(|_| {}), settings(Backend::Local), Some(&model)).await;

    let (r, _) = scrape(&s, &web.url("127.0.0.1", "/news"), "the height of the record tide").await;
    assert_eq!(r["success"], true, "{r}");
    let prompt = model.prompts().pop().unwrap();
    for kept in ["Record tide floods the old harbour", "reached 7.2 metres on Tuesday", "outer basin"] {
        assert!(prompt.contains(kept), "{kept} missing from {prompt}");
    }
    for noise in ["SCRIPT_NOISE", "STYLE_NOISE", "NAV_NOISE", "COOKIE_NOISE", "FOOTER_NOISE"] {
        assert!(!prompt.contains(noise), "{noise} reached the model: {prompt}");
    }
    assert_eq!(r["scrape_stats"]["all_content_displayed"], true);

    scrape(&s, &web.url("127.0.0.1", "/tables"), "the spring range of Saint-Malo").await;
    let prompt = model.prompts().pop().unwrap();
    assert!(prompt.contains("| Saint-Malo | 12.0 | 5.2 |"), "{prompt}");
    assert!(!prompt.contains("NAV_NOISE"));

    // Over 409,600 characters: the first 409,600, in overlapping parts,
    // each extracted, then merged.
    let before = model.prompts().len();
    let (r, out) = scrape(&s, &web.url("127.0.0.1", "/long"), "how many sections there are").await;
    assert_eq!(r["success"], true, "{r}");
    let sent = &model.prompts()[before..];
    let stats = &r["scrape_stats"];
    assert!(stats["char_count"].as_u64().unwrap() > 409_600, "{stats}");
    assert_eq!(stats["all_content_displayed"], false);
    assert_eq!(stats["parts"], 5, "{stats}");
    assert_eq!(sent.len(), 6, "five parts and the merge");
    assert!(sent[..5].iter().all(|p| p.contains("This is part ") && p.chars().count() < 102_000));
    assert!(sent[0].contains("Section 0.") && !sent[0].contains("Section 170."));
    assert!(sent[5].contains("MERGED INFORMATION:") && sent[5].contains("[Part 5]"));
    assert_eq!(r["extracted_info"], "the merged extraction");
    assert_eq!(r["tokens_used"], 6 * 18);
    assert_eq!(out.usage.unwrap().prompt_tokens, 6 * 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_overflow_cuts_the_page_from_its_end_by_the_protocols_steps() {
    let web = pages().await;
    let model = summary(60_000, |_| "found it".into()).await;
    let s = session(loopback(|_| {}), settings(Backend::Local), Some(&model)).await;
    let (r, _) = scrape(&s, &web.url("127.0.0.1", "/plain"), "anything").await;
    assert_eq!(r["success"], true, "{r}");
    let sizes: Vec<usize> = model.prompts().iter().map(|p| p.matches('@').count()).collect();
    assert_eq!(sizes, [100_000, 100_000 - 40_960], "the second attempt drops 40,960 characters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_host_and_the_policy_key() {
    let web = pages().await;
    let model = summary(1_000_000, echo_answer).await;
    let news = web.url("127.0.0.1", "/news");

    // No network for the task.
    let offline = || common::policy(|p| p.tools.disabled.clear());
    let s = session(offline(), settings(Backend::Local), Some(&model)).await;
    let (r, _) = scrape(&s, &news, "x").await;
    let e = r["error"].as_str().unwrap();
    assert!(r["success"] == false && e.contains("127.0.0.1") && e.contains("network.allow_hosts"), "{r}");
    let mut st = settings(Backend::Serper);
    st.serper_key = Some(KEY.into());
    let s = session(offline(), st, None).await;
    let out = call(&s, "search_and_scrape_webpage.google_search", json!({"q": "x"})).await;
    assert!(
        !out.ok && out.output.contains("127.0.0.1") && out.output.contains("network.allow_hosts"),
        "{}",
        out.output
    );

    // A page that redirects to the cloud metadata address.
    let s = session(loopback(|_| {}), settings(Backend::Local), Some(&model)).await;
    let (r, _) = scrape(&s, &web.url("127.0.0.1", "/to-metadata"), "x").await;
    let e = r["error"].as_str().unwrap();
    assert!(e.contains("169.254.169.254") && e.contains("network."), "{r}");
    // Even with every host and private addresses allowed, the metadata
    // address a redirect leads to is refused.
    let open = loopback(|p| p.network.allow_hosts = vec!["*:*".into()]);
    let s_open = session(open, settings(Backend::Local), Some(&model)).await;
    let (r, _) = scrape(&s_open, &web.url("127.0.0.1", "/to-metadata"), "x").await;
    assert_eq!(r["success"], false, "{r}");
    assert!(r["error"].as_str().unwrap().contains("169.254.169.254"), "{r}");
    // Benchmark leaks are not read at all.
    let (r, _) = scrape(&s, "https://huggingface.co/datasets/gaia-benchmark/GAIA", "answers").await;
    assert!(r["error"].as_str().unwrap().contains("benchmark"), "{r}");
    // A secret cannot be smuggled into a header.
    let out = call(
        &s,
        "jina_scrape_llm_summary.scrape_and_extract_info",
        json!({"url": news, "info_to_extract": "x", "custom_headers": {"X-Key": "{{secrets.SERPER_API_KEY}}"}}),
    )
    .await;
    assert!(!out.ok && out.output.contains("may not name a secret"), "{}", out.output);

    // No summary model for this server, or none configured.
    let s = session(loopback(|p| p.tools.summary_model.clear()), settings(Backend::Local), Some(&model)).await;
    let (r, _) = scrape(&s, &news, "x").await;
    assert!(r["error"].as_str().unwrap().contains("tools.summary_model"), "{r}");
    let s = session(loopback(|_| {}), settings(Backend::Local), None).await;
    let (r, _) = scrape(&s, &news, "x").await;
    assert!(r["error"].as_str().unwrap().contains("FATHOM_SUMMARY_LLM_BASE_URL"), "{r}");
    // No search backend for this server.
    let s = session(loopback(|p| p.tools.search.clear()), settings(Backend::Local), None).await;
    let out = call(&s, "search_and_scrape_webpage.google_search", json!({"q": "x"})).await;
    assert!(!out.ok && out.output.contains("tools.search"), "{}", out.output);

    // The strict and default presets have neither tool.
    let strict = fathom::policy::PolicyStore::default().load("strict").unwrap();
    let s = session(strict, settings(Backend::Local), Some(&model)).await;
    let tools = s.tools();
    assert!(tools.iter().all(|t| !t.server.contains("search") && !t.server.contains("jina")), "not shown to the model");
    for tool in ["search_and_scrape_webpage.google_search", "jina_scrape_llm_summary.scrape_and_extract_info"] {
        let out = call(&s, tool, json!({"q": "x", "url": news, "info_to_extract": "x"})).await;
        assert!(!out.ok && out.output.contains("tools.disabled"), "{tool}: {}", out.output);
    }
}

fn mcp(server: &str, tool: &str, args: Value) -> String {
    format!(
        "<use_mcp_tool>\n<server_name>{server}</server_name>\n<tool_name>{tool}</tool_name>\n<arguments>\n{args}\n</arguments>\n</use_mcp_tool>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_searches_scrapes_and_answers_through_the_daemon() {
    let web = pages().await;
    let news = web.url("127.0.0.1", "/news");
    let results = json!({"results": [{"url": news, "title": "Record tide floods the old harbour", "content": "Brest, 3 March."}]});
    let searx = Web::start(move |path| path.starts_with("/search?").then(|| json_route(&results)).flatten()).await;
    let searxng_url = searx.url("127.0.0.1", "");
    let model = summary(1_000_000, |_| "The record tide reached 7.2 metres.".into()).await;
    let news_for_model = news.clone();
    let main = Scripted::responder(move |body| {
        let msgs = body["messages"].as_array().cloned().unwrap_or_default();
        let last = msgs.last().and_then(|m| m["content"].as_str()).unwrap_or("").to_owned();
        let turn = msgs.iter().filter(|m| m["role"] == "assistant").count();
        let reply = if last.starts_with("Summarize the above conversation") {
            "The record tide was \\boxed{7.2 metres}.".to_owned()
        } else if turn == 0 {
            mcp("search_and_scrape_webpage", "google_search", json!({"q": "Brest record tide height"}))
        } else if turn == 1 {
            assert!(last.contains(&news_for_model), "the search result reaches the model: {last}");
            let args = json!({"url": news_for_model, "info_to_extract": "the height of the record tide"});
            mcp("jina_scrape_llm_summary", "scrape_and_extract_info", args)
        } else {
            assert!(last.contains("7.2 metres"), "the extraction reaches the model: {last}");
            "The page says 7.2 metres: \\boxed{7.2 metres}".to_owned()
        };
        completion(&reply, "stop")
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let env = [
        ("FATHOM_LLM_BASE_URL", main.url.as_str()),
        ("FATHOM_LLM_MODEL", "scripted"),
        ("FATHOM_SUMMARY_LLM_BASE_URL", model.server.url.as_str()),
        ("FATHOM_SUMMARY_LLM_MODEL", "summary-m"),
        ("FATHOM_SEARCH_BACKEND", "searxng"),
        ("SEARXNG_URL", searxng_url.as_str()),
    ];
    let mut d = common::daemon::Daemon::start(state.path(), &env, &[]).await;
    let policy = json!({"extends": "research", "network": {"allow_hosts": ["127.0.0.1:*"], "allow_private": true}});
    let id = d.submit(json!({"question": "How high was the record tide in Brest?", "policy": policy})).await;
    let record = d.wait_for(&id, &["succeeded", "failed"], Duration::from_secs(120)).await;
    assert_eq!(record["status"], "succeeded", "{record}\n{}", d.log());
    assert_eq!(record["answer"], "7.2 metres");
    assert_eq!(record["tool_calls"], 2);

    let events = d.events(&id, None).await;
    let calls: Vec<&str> =
        events.iter().filter(|(_, e)| e["type"] == "tool_call").map(|(_, e)| e["tool"].as_str().unwrap()).collect();
    assert_eq!(calls, ["google_search", "scrape_and_extract_info"]);
    let scraped = events.iter().find(|(_, e)| e["type"] == "tool_result" && e["tool"] == "scrape_and_extract_info");
    let scraped = &scraped.expect("a scrape result event").1;
    assert_eq!(scraped["ok"], true);
    assert_eq!(scraped["usage"], json!({"prompt_tokens": 11, "completion_tokens": 7}), "{scraped}");
    let main_calls = main.count() as u64;
    assert_eq!(record["usage"]["prompt_tokens"], 11 * (main_calls + 1), "the summary model's tokens count too");

    let trace = d.get(&format!("/v1/tasks/{id}/trace")).await.body;
    let text = trace.to_string();
    assert!(text.contains("google_search") && text.contains("scrape_and_extract_info") && text.contains("7.2 metres"));
    assert!(model.prompts()[0].contains("reached 7.2 metres on Tuesday"));
    d.terminate();
}

/// MiroThinker 1.7's rule with a real search: a search without results is
/// not answered but sampled again (the reply dropped), and the next
/// search's results reach the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_without_results_is_rolled_back_and_sampled_again() {
    use fathom::agent::run::{Agent, AgentConfig, Event};
    let searx = Web::start(|path| {
        if path.contains("nothing") {
            json_route(&json!({"query": "", "results": []}))
        } else {
            json_route(&searxng_answer())
        }
    })
    .await;
    let mut st = settings(Backend::Searxng);
    st.searxng_url = Some(searx.url("127.0.0.1", ""));
    let s = session(loopback(|_| {}), st, None).await;
    let search = |q: &str| completion(&mcp("search_and_scrape_webpage", "google_search", json!({ "q": q })), "stop");
    let main = Scripted::start(vec![
        search("nothing here"),
        search("brest tides"),
        completion("The range is \\boxed{7.2 m}", "stop"),
        completion("\\boxed{7.2 m}", "stop"),
    ])
    .await;
    let llm = main.client(|_| {});
    let agent = Agent { llm: &llm, session: &s, config: AgentConfig::from_policy(s.policy()), on_event: None };
    let out = agent.run("task-empty", "How high is the tidal range at Brest?", "2026-12-02").await;
    assert_eq!(out.answer, "7.2 m", "{:?}", out.error);
    assert!(
        out.events.iter().any(|e| matches!(e, Event::Rollback { reason, .. } if reason.contains("no results"))),
        "{:?}",
        out.events
    );
    let reqs = main.requests.lock().unwrap();
    assert_eq!(reqs[1].body["messages"].as_array().unwrap().len(), 2, "the empty search's reply was dropped");
    let third = reqs[2].body["messages"].as_array().unwrap();
    assert!(third.last().unwrap()["content"].as_str().unwrap().contains("tides.example/brest"));
    assert_eq!(out.turns, 2, "a rollback is not a turn");
}
