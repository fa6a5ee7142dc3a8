//! Web page benchmark: `cargo bench --bench web`.
//!
//! The HTML-to-text pass of `scrape_and_extract_info` (the reader's
//! readability pass and Markdown writer) on pages the benchmark generates,
//! built two ways and run side by side: natively (`fathom-reader` linked
//! into this binary) and inside the real components, as
//! `tool-reading.convert_to_markdown` of the page in the workspace (the
//! conversion alone) and as a whole `scrape_and_extract_info` call (the page
//! fetched from a loopback server through the network layer, converted, and
//! sent to a summary model on loopback that answers at once). Medians of
//! interleaved runs; ratios are component time over native time.

#[path = "../common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::scripted::{Scripted, completion};
use common::web::Web;
use fathom::caps::summary::SummaryModel;
use fathom::llm::LlmConfig;
use fathom::runtime::{Session, SessionOptions};
use serde_json::{Value, json};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn article(paragraphs: usize) -> String {
    let body: String = (0..paragraphs)
        .map(|i| {
            format!(
                "<p>Paragraph {i}: the harbour master said the tide at station {i} rose by {} centimetres, \
                 <a href=\"/stations/{i}\">station {i}</a> reported, and the <em>pumps</em> held.</p>",
                i % 97
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><title>Port news</title><style>p {{ margin: 0 }}</style>\
         <script>var t = 1;</script></head><body><nav><a href=\"/\">Home</a><a href=\"/sport\">Sport</a></nav>\
         <div class=\"cookie-banner\">We use cookies <button>OK</button></div><main><article><h1>Record tide</h1>\
         {body}</article></main><aside>Most read</aside><footer>Copyright</footer></body></html>"
    )
}

fn tables(rows: usize) -> String {
    let body: String = (0..rows)
        .map(|i| format!("<tr><td>Port {i}</td><td>{}.{}</td><td>{}</td></tr>", i % 13, i % 10, i * 3))
        .collect();
    format!(
        "<html><head><title>Tide tables</title></head><body><nav>menu</nav><h1>Ranges</h1>\
         <table><tr><th>Port</th><th>Range (m)</th><th>Id</th></tr>{body}</table></body></html>"
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("FATHOM_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(11);
    let pages: Vec<(&str, String)> =
        vec![("article 40 KB", article(200)), ("tables 100 KB", tables(2_000)), ("article 450 KB", article(2_200))];
    let served: Vec<(String, Vec<u8>)> =
        pages.iter().enumerate().map(|(i, (_, html))| (format!("/p{i}"), html.clone().into_bytes())).collect();
    let web = Web::start(move |path| {
        served
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, body)| (200, vec![("Content-Type".to_owned(), "text/html".to_owned())], body.clone()))
    })
    .await;
    let model = Scripted::responder(|_: &Value| completion("extracted", "stop")).await;

    let rt = common::runtime().await;
    let policy = common::policy(|p| {
        p.network.allow_hosts = vec!["127.0.0.1:*".into()];
        p.network.allow_private = true;
        p.tools.disabled.clear();
        p.sandbox.output_bytes = 1 << 22;
        p.sandbox.call_timeout_secs = 300.0;
    });
    let mut opts = SessionOptions::new(policy);
    opts.summary = Some(Arc::new(SummaryModel::new(LlmConfig::new(model.url.clone(), "bench"), "bench").unwrap()));
    let session = Session::new(rt, opts).unwrap();
    let sb = session.call("tool-python", "create_sandbox", "{}").await.output.rsplit(' ').next().unwrap().to_owned();
    let ws = session.sandbox(&sb).unwrap().workspace.clone();
    let limits = fathom_reader::Limits { max_chars: 4 << 20, ..fathom_reader::Limits::default() };

    println!("HTML to text: the reader natively, as a component, and a whole scrape call (median of {rounds})");
    println!(
        "{:<15} {:>10} {:>11} {:>13} {:>7} {:>10} {:>7} {:>12}",
        "page", "text KB", "native ms", "component ms", "ratio", "scrape ms", "ratio", "comp. MB/s"
    );
    let (mut convert_ratios, mut scrape_ratios) = (Vec::new(), Vec::new());
    for (i, (name, html)) in pages.iter().enumerate() {
        let url = web.url("127.0.0.1", &format!("/p{i}"));
        let file = format!("p{i}.html");
        std::fs::write(ws.join(&file), html).unwrap();
        let text = fathom_reader::convert_download(&url, "text/html", html.as_bytes(), &limits).unwrap().text;
        let convert_args = json!({"uri": file, "sandbox_id": sb}).to_string();
        let scrape_args = json!({"url": url, "info_to_extract": "the tide"}).to_string();
        let (mut native, mut component, mut scrape) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            let c = fathom_reader::convert_download(&url, "text/html", html.as_bytes(), &limits).unwrap();
            native.push(t.elapsed());
            assert_eq!(c.text.len(), text.len());
            let t = Instant::now();
            let out = session.call("tool-reading", "convert_to_markdown", &convert_args).await;
            component.push(t.elapsed());
            assert!(out.ok, "{}", out.output);
            let t = Instant::now();
            let out = session.call("jina_scrape_llm_summary", "scrape_and_extract_info", &scrape_args).await;
            scrape.push(t.elapsed());
            assert!(out.output.contains("\"success\":true"), "{}", &out.output[..out.output.len().min(400)]);
        }
        let (n, c, s) = (median(native), median(component), median(scrape));
        let (rc, rs) = (c.as_secs_f64() / n.as_secs_f64(), s.as_secs_f64() / n.as_secs_f64());
        convert_ratios.push(rc);
        scrape_ratios.push(rs);
        println!(
            "{:<15} {:>10.1} {:>11.2} {:>13.2} {:>6.2}x {:>10.2} {:>6.2}x {:>12.1}",
            name,
            text.len() as f64 / 1024.0,
            n.as_secs_f64() * 1e3,
            c.as_secs_f64() * 1e3,
            rc,
            s.as_secs_f64() * 1e3,
            rs,
            html.len() as f64 / c.as_secs_f64() / 1e6
        );
    }
    let geo = |r: &[f64]| (r.iter().map(|r| r.ln()).sum::<f64>() / r.len() as f64).exp();
    println!(
        "geometric mean ratio: conversion in the component {:.2}x native; whole scrape call {:.2}x native conversion",
        geo(&convert_ratios),
        geo(&scrape_ratios)
    );
}
