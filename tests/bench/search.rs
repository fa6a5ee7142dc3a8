//! Offline index benchmark: `cargo bench --bench search`.
//!
//! Generates a corpus of 10,000 plain-text documents (a few hundred words
//! each, from a vocabulary of 5,000 words with a Zipf-like spread), builds
//! the index over it, rebuilds it unchanged (the incremental path), and
//! times 1,000 two- and three-word queries: p50 and p99.

use std::time::{Duration, Instant};

use fathom::search::index::{SearchIndex, build};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let docs: usize = std::env::var("FATHOM_BENCH_DOCS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let vocab: Vec<String> = (0..5_000).map(|i| format!("w{i:x}{}", ["a", "e", "o", "u"][i % 4])).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Zipf-like: small indices far more often.
    let word = |next: &mut dyn FnMut() -> u64| {
        let r = (next() % 1_000_000) as f64 / 1_000_000.0;
        &vocab[((r * r * r) * vocab.len() as f64) as usize % vocab.len()]
    };
    let mut bytes = 0usize;
    for d in 0..docs {
        let n = 150 + (next() % 350) as usize;
        let text: Vec<&str> = (0..n).map(|_| word(&mut next).as_str()).collect();
        let body = format!("# Document {d}\n\n{}\n", text.join(" "));
        bytes += body.len();
        let sub = dir.path().join(format!("d{:02}", d % 50));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("doc{d}.txt")), body).unwrap();
    }
    let never = async |p: std::path::PathBuf| Err::<String, String>(format!("{} is not text", p.display()));

    let t = Instant::now();
    let stats = build(dir.path(), out.path(), never).await.unwrap();
    let built = t.elapsed();
    assert_eq!(stats.added, docs);
    let t = Instant::now();
    let again = build(dir.path(), out.path(), never).await.unwrap();
    let rebuilt = t.elapsed();
    assert_eq!(again.unchanged, docs);

    let idx = SearchIndex::open(out.path()).unwrap();
    let mut times = Vec::new();
    let mut found = 0usize;
    for i in 0..1_000 {
        let k = 2 + i % 2;
        let q: Vec<&str> = (0..k).map(|_| word(&mut next).as_str()).collect();
        let t = Instant::now();
        let hits = idx.search(&q.join(" "), 10, 0).unwrap();
        times.push(t.elapsed());
        found += hits.len();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("offline index: {docs} documents, {:.1} MB of text", bytes as f64 / 1e6);
    println!(
        "build: {:.2} s ({:.0} docs/s); unchanged rebuild: {:.2} s",
        built.as_secs_f64(),
        docs as f64 / built.as_secs_f64(),
        rebuilt.as_secs_f64()
    );
    println!(
        "query (top 10 with snippets, 1,000 queries): p50 {:.3} ms, p99 {:.3} ms, {:.1} results on average",
        ms(pct(&mut times, 0.5)),
        ms(pct(&mut times, 0.99)),
        found as f64 / 1_000.0
    );
}
