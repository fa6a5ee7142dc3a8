//! The offline search index as a user builds and queries it: `fathom index
//! build` over a fixture corpus (plain text, Markdown, HTML and a docx read
//! by the document reader in a sandbox), ranked snippet-bearing results,
//! incremental rebuilds, and clear errors.

mod common;

use std::path::Path;
use std::process::Command;

use fathom::search::index::SearchIndex;

fn fathom(state: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("FATHOM_STATE_DIR", state)
        .env("FATHOM_CACHE_DIR", common::shared_cache())
        .env_remove("FATHOM_TOOLS_DIR")
        .env_remove("FATHOM_SEARCH_INDEX")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn corpus(dir: &Path) {
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(
        dir.join("tides.md"),
        "# Spring tides\n\nSpring tides happen near new and full moon, when the sun and the moon pull together. \
         The tidal range is then at its largest.",
    )
    .unwrap();
    std::fs::write(
        dir.join("notes/neap.txt"),
        "Neap tides come at the quarter moons: the range between high and low water is smallest. Tides again.",
    )
    .unwrap();
    std::fs::write(
        dir.join("volcano.html"),
        "<html><head><title>Volcanoes</title><script>var tides = 'SCRIPT';</script></head><body><nav>menu</nav>\
         <article><h1>Volcanoes of Iceland</h1><p>Iceland sits on the Mid-Atlantic Ridge, where the American \
         and Eurasian plates move apart; Hekla and Katla are among its most active volcanoes, and eruptions \
         there have grounded flights across Europe.</p></article></body></html>",
    )
    .unwrap();
    std::fs::write(
        dir.join("harbour.docx"),
        common::docs::docx(
            &[
                common::docs::Para::Heading(1, "Harbour log"),
                common::docs::Para::Text("The harbour master recorded a surge of 1.2 metres during the storm."),
            ],
            "",
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".hidden.txt"), "tides tides tides").unwrap();
}

#[test]
fn build_query_and_rebuild_incrementally() {
    let state = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    corpus(docs.path());
    let index = state.path().join("idx");
    let idx_arg = index.to_str().unwrap();
    let dir_arg = docs.path().to_str().unwrap();

    let (ok, out, err) = fathom(state.path(), &["index", "build", dir_arg, "--out", idx_arg]);
    assert!(ok, "{err}");
    assert!(out.contains(": 4 added, 0 updated, 0 removed, 0 unchanged, 0 skipped"), "{out}");

    let idx = SearchIndex::open(&index).unwrap();
    assert_eq!(idx.docs, 4);
    // BM25: the document about spring tides first, the neap one after; the
    // hidden file and the HTML's script are not indexed.
    let hits = idx.search("spring tides", 10, 0).unwrap();
    assert_eq!(hits[0].title, "Spring tides", "{hits:?}");
    assert!(hits[0].link.starts_with("file:///") && hits[0].link.ends_with("/tides.md"), "{hits:?}");
    assert!(hits[0].snippet.to_lowercase().contains("spring tides"), "{hits:?}");
    assert!(hits.iter().any(|h| h.link.ends_with("/notes/neap.txt")), "{hits:?}");
    assert!(!hits.iter().any(|h| h.link.contains("volcano") || h.link.contains("hidden")), "{hits:?}");
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // Formats read by the document reader in a sandbox.
    let hits = idx.search("Hekla eruptions", 10, 0).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].title, "Volcanoes of Iceland");
    assert!(hits[0].snippet.contains("Hekla"), "{hits:?}");
    let hits = idx.search("surge storm", 10, 0).unwrap();
    assert_eq!(hits[0].title, "Harbour log", "{hits:?}");
    // A quoted phrase, paging, and a query with nothing to find.
    assert_eq!(idx.search("\"quarter moons\"", 10, 0).unwrap().len(), 1);
    assert_eq!(idx.search("\"moons quarter\"", 10, 0).unwrap().len(), 0);
    assert_eq!(idx.search("tides", 1, 1).unwrap().len(), 1);
    assert!(idx.search("zeppelin", 10, 0).unwrap().is_empty());
    assert!(idx.search("AND OR (", 10, 0).is_ok(), "lenient parsing of broken syntax");
    drop(idx);

    // Incremental: one file changed, one removed, one added.
    std::fs::write(docs.path().join("notes/neap.txt"), "Neap tides, rewritten: zeppelins over the harbour.").unwrap();
    std::fs::remove_file(docs.path().join("volcano.html")).unwrap();
    std::fs::write(docs.path().join("new.md"), "# Currents\n\nRip currents pull swimmers away from the beach.")
        .unwrap();
    let (ok, out, err) = fathom(state.path(), &["index", "build", dir_arg, "--out", idx_arg]);
    assert!(ok, "{err}");
    assert!(out.contains(": 1 added, 1 updated, 1 removed, 2 unchanged, 0 skipped"), "{out}");
    let idx = SearchIndex::open(&index).unwrap();
    assert_eq!(idx.docs, 4);
    assert_eq!(idx.search("zeppelins", 10, 0).unwrap().len(), 1);
    assert!(idx.search("Hekla", 10, 0).unwrap().is_empty());
    assert_eq!(idx.search("rip currents", 10, 0).unwrap()[0].title, "Currents");

    // The CLI's own search, and a file the reader cannot convert (skipped, named).
    let (ok, out, _) = fathom(state.path(), &["index", "search", "rip currents", "--index", idx_arg]);
    assert!(ok && out.starts_with("1. Currents ("), "{out}");
    std::fs::write(docs.path().join("blob.bin"), [0u8, 159, 146, 150, 0, 0, 1]).unwrap();
    let (ok, out, err) = fathom(state.path(), &["index", "build", dir_arg, "--out", idx_arg]);
    assert!(ok && out.contains("1 skipped"), "{out}");
    assert!(err.contains("skipped") && err.contains("blob.bin") && err.contains("unknown format"), "{err}");
}

#[test]
fn bad_index_paths_get_clear_errors() {
    let state = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    corpus(docs.path());
    // An output folder with other things in it is never emptied.
    let busy = tempfile::tempdir().unwrap();
    std::fs::write(busy.path().join("precious.txt"), "keep me").unwrap();
    let (ok, _, err) = fathom(
        state.path(),
        &["index", "build", docs.path().to_str().unwrap(), "--out", busy.path().to_str().unwrap()],
    );
    assert!(!ok && err.contains("is not empty and holds no Fathom index"), "{err}");
    assert!(busy.path().join("precious.txt").exists());
    // The index may not sit inside what it indexes.
    let inside = docs.path().join("idx");
    let (ok, _, err) =
        fathom(state.path(), &["index", "build", docs.path().to_str().unwrap(), "--out", inside.to_str().unwrap()]);
    assert!(!ok && err.contains("must not be inside the folder it indexes"), "{err}");
    // No index yet.
    let e = SearchIndex::open(&state.path().join("none")).err().unwrap();
    assert!(e.contains("no search index at") && e.contains("fathom index build"), "{e}");
    let (ok, _, err) = fathom(state.path(), &["index", "build", "/no/such/folder"]);
    assert!(!ok && err.contains("/no/such/folder"), "{err}");
}
