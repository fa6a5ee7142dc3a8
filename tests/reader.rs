//! The document reader, `tool-reading.convert_to_markdown`, as the real
//! component under real policies: the expected text for each format, files
//! from the workspace, attachments and loopback URLs, and hostile files
//! stopped with a clear error while the runtime goes on serving.

mod common;

use common::Fixture;
use common::docs::{self, Cell, Para};
use common::web::Web;
use fathom::policy::Policy;
use fathom::runtime::{CallOutcome, SessionOptions};
use serde_json::json;

/// The default policy, with results long enough to see the reader's own
/// cuts (the 200,000-character one, the row and page caps) rather than the
/// sandbox's `output_bytes`.
async fn fixture() -> Fixture {
    Fixture::new(common::policy(|p| p.sandbox.output_bytes = 1_000_000)).await
}

/// Write `bytes` as `name` in the workspace and read it.
async fn read(f: &Fixture, name: &str, bytes: &[u8]) -> CallOutcome {
    let path = f.workspace.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    f.call("tool-reading.convert_to_markdown", json!({"uri": name})).await
}

async fn text_of(f: &Fixture, name: &str, bytes: &[u8]) -> String {
    let out = read(f, name, bytes).await;
    assert!(out.ok, "{name}: {}", out.output);
    out.output
}

fn contains_all(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "missing {w:?} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_formats() {
    let f = fixture().await;
    assert_eq!(text_of(&f, "notes.md", b"# Notes\n\n- one\n- two\n").await, "# Notes\n\n- one\n- two");
    assert_eq!(text_of(&f, "latin1.txt", b"caf\xe9 cr\xe8me").await, "café crème");

    let csv =
        text_of(&f, "data/scores.csv", b"name,score,comment\nann,3,\"likes | pipes\"\nbob,5,\"two\nlines\"\n").await;
    assert_eq!(
        csv,
        "| name | score | comment |\n| --- | --- | --- |\n| ann | 3 | likes \\| pipes |\n| bob | 5 | two lines |"
    );
    let tsv = text_of(&f, "t.tsv", b"a\tb\n1\t2\n").await;
    assert_eq!(tsv, "| a | b |\n| --- | --- |\n| 1 | 2 |");
    // A long CSV: the row cap, and a note of what was cut.
    let long: String =
        std::iter::once("i,sq\n".to_owned()).chain((0..5000).map(|i| format!("{i},{}\n", i * i))).collect();
    let t = text_of(&f, "long.csv", long.as_bytes()).await;
    contains_all(&t, &["| 1999 | 3996001 |", "[2000 of 5000 rows shown; the other 3000 rows were cut."]);
    assert!(!t.contains("| 2000 |"), "{t}");

    let j = text_of(&f, "x.json", br#"{"a":[1,2],"b":{"c":"d"}}"#).await;
    assert_eq!(j, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {\n    \"c\": \"d\"\n  }\n}");
    let jl = text_of(&f, "x.jsonl", b"{\"q\":1}\n\n{\"q\":2}\n").await;
    assert_eq!(jl, "Record 1:\n{\n  \"q\": 1\n}\n\nRecord 2:\n{\n  \"q\": 2\n}");
    let bad = read(&f, "bad.jsonl", b"{\"q\":1}\n{oops\n").await;
    assert!(!bad.ok && bad.output.contains("JSON Lines file") && bad.output.contains("record 2"), "{}", bad.output);

    let xml = text_of(&f, "feed.xml", b"<?xml version=\"1.0\"?><rss><channel><title>Tides</title><item><title>High &amp; low</title></item></channel></rss>").await;
    assert_eq!(xml, "    title: Tides\n      title: High & low");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_keeps_content_and_drops_chrome() {
    let f = fixture().await;
    let page = br#"<!doctype html><html><head><title>Tide report</title><script>var SCRIPT_NOISE=1;</script>
        <style>body{STYLE_NOISE:1}</style></head><body>
        <nav><ul><li><a href="/">Home</a></li><li>NAV_NOISE</li></ul></nav>
        <div id="cookie-consent">We use cookies COOKIE_NOISE</div>
        <main><article><h1>High tides expected</h1>
        <p>The harbour authority said on Monday that tides would reach 4.2 metres, the highest this year, and
        advised boat owners to check their moorings before the weekend storms arrive on the coast.</p>
        <h2>Forecast</h2><ul><li>Friday: 4.0 m</li><li>Saturday: 4.2 m</li></ul>
        <table><tr><th>Port</th><th>Height</th></tr><tr><td>Dover</td><td>6.7</td></tr></table>
        <p>Read the <a href="https://met.example/tides">full forecast</a>.</p></article></main>
        <footer>FOOTER_NOISE</footer></body></html>"#;
    let t = text_of(&f, "page.html", page).await;
    contains_all(
        &t,
        &[
            "High tides expected",
            "4.2 metres",
            "## Forecast",
            "Saturday: 4.2 m",
            "| Dover | 6.7 |",
            "[full forecast](https://met.example/tides)",
        ],
    );
    for noise in ["SCRIPT_NOISE", "STYLE_NOISE", "NAV_NOISE", "COOKIE_NOISE", "FOOTER_NOISE"] {
        assert!(!t.contains(noise), "kept {noise}:\n{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_formats() {
    let f = fixture().await;
    let docx = docs::docx(
        &[
            Para::Heading(1, "Quarterly report"),
            Para::Text("Revenue grew by 12 percent."),
            Para::Item("first point"),
            Para::Item("second point"),
            Para::Table(&[&["Region", "Sales"], &["North", "120"], &["South", "95"]]),
            Para::Link("the appendix", "https://example.org/appendix"),
        ],
        "",
    );
    let t = text_of(&f, "report.docx", &docx).await;
    assert_eq!(
        t,
        "# Quarterly report\n\nRevenue grew by 12 percent.\n\n- first point\n- second point\n\n| Region | Sales |\n\
         | --- | --- |\n| North | 120 |\n| South | 95 |\n\nSee [the appendix](https://example.org/appendix)"
    );

    let pptx = docs::pptx(&[("Welcome", &["Agenda", "Goals"], "Greet the audience"), ("Results", &["Up 12%"], "")]);
    let t = text_of(&f, "deck.pptx", &pptx).await;
    assert_eq!(
        t,
        "## Slide 1: Welcome\n- Agenda\n- Goals\n\nNotes:\nGreet the audience\n\n## Slide 2: Results\n- Up 12%"
    );

    let xlsx = docs::xlsx(
        &[
            (
                "Sales",
                vec![
                    vec![Cell::Str("Item"), Cell::Str("Qty")],
                    vec![Cell::Str("pens"), Cell::Num(3.0)],
                    vec![Cell::Str("total"), Cell::Formula("SUM(B2:B2)", 3.0)],
                ],
            ),
            ("Empty", vec![]),
        ],
        None,
        None,
    );
    let t = text_of(&f, "book.xlsx", &xlsx).await;
    assert_eq!(
        t,
        "## Sheet: Sales\n\n| Item | Qty |\n| --- | --- |\n| pens | 3 |\n| total | 3 |\n\n## Sheet: Empty\n\n(empty)"
    );

    let ods = docs::ods("Stock", &[&["fruit", "count"], &["apple", "7"]]);
    let t = text_of(&f, "stock.ods", &ods).await;
    assert_eq!(t, "## Sheet: Stock\n\n| fruit | count |\n| --- | --- |\n| apple | 7 |");

    let epub = docs::epub("Sea Tales", &[("Chapter One", "The ship left at dawn."), ("Chapter Two", "A storm rose.")]);
    let t = text_of(&f, "book.epub", &epub).await;
    contains_all(&t, &["# Sea Tales", "Chapter One", "The ship left at dawn.", "Chapter Two", "A storm rose."]);
    assert!(t.find("dawn").unwrap() < t.find("storm").unwrap(), "spine order: {t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdf_zip_and_images() {
    let f = fixture().await;
    let pdf = docs::pdf(&[vec!["Annual summary".into(), "Profit 42".into()], vec!["Second page here".into()]]);
    let t = text_of(&f, "a.pdf", &pdf).await;
    contains_all(
        &t,
        &["PDF, 2 pages.", "--- Page 1 ---", "Annual summary", "Profit 42", "--- Page 2 ---", "Second page here"],
    );
    assert!(t.find("Profit 42").unwrap() < t.find("--- Page 2 ---").unwrap(), "{t}");

    let inner = docs::zip_of(&[("deep.txt", b"inside the inner zip")]);
    let zip =
        docs::zip_of(&[("readme.txt", b"hello from the zip"), ("data.csv", b"k,v\nx,1\n"), ("inner.zip", &inner)]);
    let t = text_of(&f, "bundle.zip", &zip).await;
    contains_all(
        &t,
        &[
            "Zip archive bundle.zip with 3 files:",
            "- readme.txt (18 bytes)",
            "## readme.txt",
            "hello from the zip",
            "| x | 1 |",
            "Zip archive inner.zip with 1 files:",
            "inside the inner zip",
        ],
    );

    let t = text_of(&f, "pic.png", &docs::png(640, 480)).await;
    assert!(t.starts_with("PNG image, 640 x 480 pixels,") && t.contains("No vision model is configured"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_encrypted_and_corrupt_files_say_what_they_are() {
    let f = fixture().await;
    let cases: &[(&str, &[u8], &[&str])] = &[
        ("blob.bin", &[0, 159, 146, 150, 0, 1, 2, 3], &["binary data of an unknown format", "upload it to a sandbox"]),
        ("a.tar.gz", &[0x1F, 0x8B, 8, 0, 0, 0], &["gzip-compressed", "gunzip"]),
        ("broken.pdf", b"%PDF-1.4\nthis is not a pdf at all", &["cannot convert this PDF: it is damaged"]),
        ("broken.docx", b"PK\x03\x04garbage", &["zip archive", "damaged"]),
        (
            "old.doc",
            &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0],
            &["legacy Word document", "save it as docx"],
        ),
        ("locked.xlsx", &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0], &["encrypted (password-protected)"]),
        ("bad.png", b"\x89PNG\r\n\x1a\n", &["image", "header does not parse"]),
    ];
    for (name, bytes, wanted) in cases {
        let out = read(&f, name, bytes).await;
        assert!(!out.ok, "{name}: {}", out.output);
        contains_all(&out.output, wanted);
        assert!(out.limit.is_none(), "{name}: a clean error, not a limit: {}", out.output);
    }
    // A path outside what the tool may read, and one that is missing.
    let out = f.call("tool-reading.convert_to_markdown", json!({"uri": "/etc/passwd"})).await;
    assert!(!out.ok && out.output.contains("outside what this tool may read"), "{}", out.output);
    let out = f.call("tool-reading.convert_to_markdown", json!({"uri": "nope.pdf"})).await;
    assert!(!out.ok && out.output.contains("no such file: /home/user/nope.pdf"), "{}", out.output);
    let out = f.call("tool-reading.convert_to_markdown", json!({"uri": "ftp://example.org/x"})).await;
    assert!(!out.ok && out.output.contains("scheme the reader does not fetch"), "{}", out.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_and_urls_under_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("brief.csv"), "city,pop\nOslo,709000\n").unwrap();
    let mut opts = SessionOptions::new(common::policy(|p| {
        p.network.allow_hosts = vec!["localhost:*".into()];
        p.network.allow_private = true;
    }));
    opts.attachments = Some(dir.path().to_path_buf());
    let f = Fixture::with_options(opts).await;
    let attached = dir.path().join("brief.csv").display().to_string();
    for uri in [attached.clone(), format!("file://{attached}")] {
        let out = f.call("tool-reading.convert_to_markdown", json!({"uri": uri})).await;
        assert!(out.ok && out.output.contains("| Oslo | 709000 |"), "{}", out.output);
    }

    let web = Web::start(|path| match path {
        "/report" => Some((200, vec![("Content-Type".into(), "text/html; charset=utf-8".into())], {
            b"<p>Served over <b>HTTP</b> with a paragraph long enough to count as content.</p>".to_vec()
        })),
        "/table" => Some((200, vec![("Content-Type".into(), "text/csv".into())], b"a,b\n1,2\n".to_vec())),
        "/doc.pdf" => Some((200, vec![], docs::pdf(&[vec!["From the web".into()]]))),
        _ => None,
    })
    .await;
    let out = f.call("tool-reading.convert_to_markdown", json!({"uri": web.url("localhost", "/report")})).await;
    assert!(out.ok && out.output.contains("Served over **HTTP**"), "{}", out.output);
    let out = f.call("tool-reading.convert_to_markdown", json!({"uri": web.url("localhost", "/table")})).await;
    assert_eq!(out.output, "| a | b |\n| --- | --- |\n| 1 | 2 |");
    let out = f.call("tool-reading.convert_to_markdown", json!({"uri": web.url("localhost", "/doc.pdf")})).await;
    assert!(out.ok && out.output.contains("From the web"), "{}", out.output);
    let out = f.call("tool-reading.convert_to_markdown", json!({"uri": web.url("localhost", "/gone")})).await;
    assert!(!out.ok && out.output.contains("answered HTTP 404"), "{}", out.output);

    // Without the grant: the host refuses, naming the host and the key.
    let strict = Fixture::new(Policy::default()).await;
    let out = strict.call("tool-reading.convert_to_markdown", json!({"uri": web.url("localhost", "/report")})).await;
    assert!(!out.ok && out.output.contains("refused") && out.output.contains("network.allow_hosts"), "{}", out.output);
    let out = strict.call("tool-reading.convert_to_markdown", json!({"uri": attached})).await;
    assert!(!out.ok && out.output.contains("outside what this tool may read"), "{}", out.output);
}

/// Hostile files: each stopped by the reader's own limits or the sandbox's,
/// with a message that says what happened, and the same session's next
/// call still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_are_stopped_and_the_runtime_goes_on() {
    let f = fixture().await;
    let ok_after = async |f: &Fixture| {
        let out = read(f, "after.txt", b"still serving").await;
        assert!(out.ok && out.output == "still serving", "{}", out.output);
    };

    // A zip bomb: 1 GB of zeros, about 1 MB compressed.
    let bomb = docs::zip_bomb("zeros.bin", 1 << 30);
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let out = read(&f, "bomb.zip", &bomb).await;
    assert!(!out.ok, "{}", out.output);
    contains_all(&out.output, &["zip archive", "zeros.bin inflates to more than 64 MB", "zip bomb"]);
    ok_after(&f).await;
    // The same bomb as a docx's body, and as an xlsx's sheet.
    let out = read(&f, "bomb.docx", &docs::zip_bomb("word/document.xml", 200 << 20)).await;
    assert!(!out.ok && out.output.contains("inflates to more than 64 MB"), "{}", out.output);
    let out = read(&f, "bomb.xlsx", &docs::zip_bomb("xl/workbook.xml", 200 << 20)).await;
    assert!(!out.ok && out.output.contains("inflates to more than 64 MB"), "{}", out.output);

    // Zips nested ten deep: opened three levels, the rest named.
    let mut nested = docs::zip_of(&[("core.txt", b"the core")]);
    for i in 0..10 {
        nested = docs::zip_of(&[(&format!("level{i}.zip"), &nested)]);
    }
    let out = read(&f, "nested.zip", &nested).await;
    assert!(out.ok, "{}", out.output);
    contains_all(&out.output, &["[not opened: an archive nested 4 levels deep; the reader opens 3 levels]"]);
    assert!(!out.output.contains("the core"), "{}", out.output);

    // A billion laughs inside a docx: entities are never expanded.
    let laughs = "<!DOCTYPE w:document [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\
        <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\
        <!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">]>";
    let xml = format!(
        "<?xml version=\"1.0\"?>{laughs}<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>before &lol9; after</w:t></w:r></w:p></w:body></w:document>"
    );
    let doc = docs::zip_of(&[("[Content_Types].xml", b"<Types/>"), ("word/document.xml", xml.as_bytes())]);
    let out = read(&f, "laughs.docx", &doc).await;
    assert!(out.ok, "{}", out.output);
    assert_eq!(out.output, "before &lol9; after");

    // JSON nested 100,000 deep.
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let out = read(&f, "deep.json", deep.as_bytes()).await;
    assert!(!out.ok && out.output.contains("nests deeper than 128 levels"), "{}", out.output);

    // A PDF claiming a billion pages, and one of 3,000 real pages.
    let mut objs = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [4 0 R] /Count 1000000000 >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
    ];
    let stream = "BT /F1 12 Tf 72 720 Td (only page) Tj ET";
    objs.push(format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()));
    let out = read(&f, "claims.pdf", &docs::pdf_from_objects(&objs)).await;
    assert!(out.ok && out.output.contains("PDF, 1 pages.") && out.output.contains("only page"), "{}", out.output);
    let many: Vec<Vec<String>> = (1..=3000).map(|i| vec![format!("page number {i}")]).collect();
    let out = read(&f, "many.pdf", &docs::pdf(&many)).await;
    assert!(out.ok, "{}", out.output);
    contains_all(
        &out.output,
        &["PDF, 3000 pages.", "page number 2000", "[2000 of 3000 pages converted: the reader stops at 2000]"],
    );
    assert!(!out.output.contains("page number 2001\n"), "{}", &out.output[out.output.len() - 300..]);

    // PDFs whose page trees loop: the root among its own kids, a page
    // whose parents lead back to it; and one whose only kid is the root.
    let cyclic = docs::pdf_from_objects(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>".to_owned(),
        "<< /Type /Page /Parent 4 0 R /MediaBox [0 0 612 792] >>".to_owned(),
        "<< /Type /Pages /Parent 3 0 R /Kids [3 0 R] /Count 1 >>".to_owned(),
    ]);
    let out = read(&f, "cyclic.pdf", &cyclic).await;
    assert!(
        !out.ok && out.output.contains("cannot convert this PDF") && out.output.contains("has a cycle"),
        "{}",
        out.output
    );
    let looping = docs::pdf_from_objects(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>".to_owned(),
    ]);
    let out = read(&f, "looping.pdf", &looping).await;
    assert!(!out.ok && out.output.contains("leads to no pages"), "{}", out.output);
    ok_after(&f).await;

    // A spreadsheet claiming a million rows (its dimension and its shared
    // strings' count), and one that really has a million rows.
    let mut rows: Vec<Vec<Cell>> = vec![vec![Cell::Str("h1"), Cell::Str("h2")], vec![Cell::Num(1.0), Cell::Num(2.0)]];
    rows.extend((0..5).map(|_| vec![]));
    let claims = docs::xlsx(&[("Big", rows)], Some("A1:XFD1000000"), Some(1_000_000_000));
    let out = read(&f, "claims.xlsx", &claims).await;
    assert!(out.ok, "{}", out.output);
    contains_all(&out.output, &["## Sheet: Big", "| h1 | h2 |", "| 1 | 2 |"]);
    let million: Vec<Vec<Cell>> = (0..1_000_000).map(|i| vec![Cell::Num(i as f64)]).collect();
    let out = read(&f, "million.xlsx", &docs::xlsx(&[("Rows", million)], None, None)).await;
    assert!(out.ok, "{}", out.output);
    contains_all(&out.output, &["| 1999 |", "[2000 of 999999 rows shown; upload the file to a sandbox"]);
    ok_after(&f).await;
}
