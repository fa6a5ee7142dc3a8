//! Document reader benchmark: `cargo bench --bench reader`.
//!
//! For each format, a document the benchmark generates (sized so its text
//! stays under the reader's 200,000-character cut, so the whole document is
//! parsed) is converted by the same parser built two ways, side by side:
//! natively (`fathom-reader` linked into this binary) and as the real
//! `tool-reading` component in a sandbox, through `Session::call` (file read
//! from the workspace, instance, call). Medians of interleaved runs; the
//! ratio is component time over native time.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::docs::{self, Cell, Para};
use fathom::runtime::{Session, SessionOptions};
use serde_json::json;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The benchmark's corpus: (file name, bytes).
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let words =
        |i: usize| format!("Paragraph {i} reports that the tide at station {i} rose by {} centimetres.", i % 97);
    let csv: String = std::iter::once("id,name,value\n".to_owned())
        .chain((0..1_900).map(|i| format!("{i},item {i},{}\n", i * 7)))
        .collect();
    let json =
        serde_json::to_string(&(0..2_000).map(|i| json!({"id": i, "name": format!("n{i}")})).collect::<Vec<_>>())
            .unwrap();
    let paragraphs: String = (0..1_500).map(|i| format!("<p>{}</p>", words(i))).collect();
    let html = format!(
        "<html><head><title>Bench</title><script>var x = 1;</script></head><body><nav>menu</nav><article>\
         <h1>Report</h1>{paragraphs}</article><footer>f</footer></body></html>"
    );
    let xml: String = std::iter::once("<?xml version=\"1.0\"?><items>".to_owned())
        .chain((0..3_000).map(|i| format!("<item id=\"{i}\"><name>n{i}</name><v>{}</v></item>", i * 3)))
        .chain(std::iter::once("</items>".to_owned()))
        .collect();
    let pages: Vec<Vec<String>> = (0..100).map(|p| (0..20).map(|l| words(p * 20 + l)).collect()).collect();
    let texts: Vec<String> = (0..1_500).map(words).collect();
    let paras: Vec<Para> = texts.iter().map(|t| Para::Text(t)).collect();
    let slides_text: Vec<(String, Vec<String>)> =
        (0..300).map(|i| (format!("Slide {i}"), vec![words(i), words(i + 1)])).collect();
    let slides_refs: Vec<Vec<&str>> = slides_text.iter().map(|(_, b)| b.iter().map(String::as_str).collect()).collect();
    let slides: Vec<(&str, &[&str], &str)> =
        slides_text.iter().zip(&slides_refs).map(|((t, _), b)| (t.as_str(), b.as_slice(), "notes")).collect();
    let rows: Vec<Vec<Cell>> = (0..1_900)
        .map(|i| vec![Cell::Num(i as f64), Cell::Str("label"), Cell::Formula("A1*2", (i * 2) as f64)])
        .collect();
    let ods_rows: Vec<[String; 2]> = (0..1_900).map(|i| [format!("r{i}"), format!("{}", i * 5)]).collect();
    let ods_refs: Vec<Vec<&str>> = ods_rows.iter().map(|r| vec![r[0].as_str(), r[1].as_str()]).collect();
    let ods_slices: Vec<&[&str]> = ods_refs.iter().map(Vec::as_slice).collect();
    let chapters_text: Vec<(String, String)> = (0..200).map(|i| (format!("Chapter {i}"), words(i).repeat(5))).collect();
    let chapters: Vec<(&str, &str)> = chapters_text.iter().map(|(h, p)| (h.as_str(), p.as_str())).collect();
    let members: Vec<(String, String)> = (0..200).map(|i| (format!("f{i}.txt"), words(i).repeat(5))).collect();
    let member_refs: Vec<(&str, &[u8])> = members.iter().map(|(n, t)| (n.as_str(), t.as_bytes())).collect();
    vec![
        ("data.csv", csv.into_bytes()),
        ("data.json", json.into_bytes()),
        ("page.html", html.into_bytes()),
        ("items.xml", xml.into_bytes()),
        ("report.pdf", docs::pdf(&pages)),
        ("report.docx", docs::docx(&paras, "")),
        ("deck.pptx", docs::pptx(&slides)),
        ("book.xlsx", docs::xlsx(&[("Data", rows)], None, None)),
        ("book.ods", docs::ods("Data", &ods_slices)),
        ("book.epub", docs::epub("Bench", &chapters)),
        ("files.zip", docs::zip_of(&member_refs)),
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("FATHOM_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let rt = common::runtime().await;
    let policy = common::policy(|p| {
        p.sandbox.output_bytes = 1_000_000;
        p.sandbox.call_timeout_secs = 300.0;
    });
    let session = Session::new(rt, SessionOptions::new(policy)).unwrap();
    let sb = session.call("tool-python", "create_sandbox", "{}").await.output.rsplit(' ').next().unwrap().to_owned();
    let ws = session.sandbox(&sb).unwrap().workspace.clone();
    let limits = fathom_reader::Limits::default();

    println!("document reader: the same parser natively and as the tool-reading component (median of {rounds})");
    println!(
        "{:<12} {:>9} {:>9} {:>11} {:>13} {:>11} {:>7}",
        "format", "input KB", "text KB", "native ms", "component ms", "comp. MB/s", "ratio"
    );
    let mut ratios = Vec::new();
    for (name, bytes) in corpus() {
        std::fs::write(ws.join(name), &bytes).unwrap();
        let args = json!({"uri": name, "sandbox_id": sb}).to_string();
        let native_text = fathom_reader::convert(name, &bytes, &limits).unwrap().text;
        assert!(!native_text.ends_with(fathom_reader::TRUNCATED), "{name}: the corpus must fit under the cut");
        let (mut native, mut component) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            let c = fathom_reader::convert(name, &bytes, &limits).unwrap();
            native.push(t.elapsed());
            assert_eq!(c.text.len(), native_text.len());
            let t = Instant::now();
            let out = session.call("tool-reading", "convert_to_markdown", &args).await;
            component.push(t.elapsed());
            assert!(out.ok && out.output == native_text, "{name}: {}", &out.output[..out.output.len().min(300)]);
        }
        let (n, c) = (median(native), median(component));
        let ratio = c.as_secs_f64() / n.as_secs_f64();
        ratios.push(ratio);
        println!(
            "{:<12} {:>9.1} {:>9.1} {:>11.2} {:>13.2} {:>11.1} {:>6.2}x",
            name,
            bytes.len() as f64 / 1024.0,
            native_text.len() as f64 / 1024.0,
            n.as_secs_f64() * 1e3,
            c.as_secs_f64() * 1e3,
            bytes.len() as f64 / c.as_secs_f64() / 1e6,
            ratio
        );
    }
    let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    println!("geometric mean ratio (component / native): {geo:.2}x");
}
