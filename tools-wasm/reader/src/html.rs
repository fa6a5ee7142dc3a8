//! HTML to markdown-ish text: the page's main content, not its chrome.
//!
//! First a readability pass (dom_smoothie, a port of Mozilla's
//! Readability.js: the scoring Firefox's reader view uses) picks the main
//! content; when a page has no article-like centre (a table, a listing, a
//! search page) the whole body is kept instead, minus what is never
//! content: scripts, styles, navigation, headers and footers, forms, cookie
//! and consent banners. Either way dom_query's serializer writes headings,
//! lists, tables and links as Markdown.

use dom_query::Document;
use dom_smoothie::{Config, Readability, TextMode};

use crate::{Out, tidy};

/// Elements that are never a page's content.
const CHROME: &str = "script, style, noscript, template, nav, aside, form, iframe, svg, canvas, \
     button, select, [role=navigation], [role=banner], [role=contentinfo], [aria-hidden=true], [hidden]";

/// Class or id fragments of boilerplate blocks.
const BOILERPLATE: &[&str] =
    &["cookie", "consent", "gdpr", "banner", "newsletter", "subscribe", "sidebar", "navbar", "menu", "share", "social"];

/// A page as text.
#[derive(Debug, Default)]
pub struct Page {
    /// The page's title (`<title>`, or the article's own).
    pub title: String,
    /// Its main content as Markdown.
    pub text: String,
}

/// The main content of `html`; `url` (absolute) resolves relative links.
pub fn page(html: &str, url: Option<&str>) -> Page {
    let doc = Document::from(html);
    let title = doc.select("title").first().text().trim().to_owned();
    strip_chrome(&doc);
    let visible = doc.select("body").text().split_whitespace().count();
    if let Some((article_title, text)) = readable(&doc, url, visible) {
        return Page { title: if article_title.is_empty() { title } else { article_title }, text };
    }
    let body = doc.select("body");
    let text = match body.nodes().first() {
        Some(node) => node.md(None),
        None => doc.md(None),
    };
    Page { title, text: tidy(&text) }
}

/// Write the page's title and main content into `out`.
pub fn to_markdown(html: &str, url: Option<&str>, out: &mut Out) {
    let p = page(html, url);
    if !p.title.is_empty() && !p.text.trim_start().starts_with('#') {
        out.line(&format!("# {}", p.title));
        out.para();
    }
    out.push(&p.text);
}

/// The readability pass over the page without its chrome, when it finds
/// content worth calling the page's main text: at least a paragraph's
/// worth, and most of the page's visible words (a page of tables or lists
/// scores badly in readability terms, and then the page itself is the
/// content).
fn readable(doc: &Document, url: Option<&str>, visible: usize) -> Option<(String, String)> {
    let cfg = Config { text_mode: TextMode::Markdown, max_elements_to_parse: 200_000, ..Config::default() };
    let url = url.filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let mut r = Readability::new(doc.html(), url, Some(cfg)).ok()?;
    let article = r.parse().ok()?;
    let text = tidy(&article.text_content);
    let kept = article.text_content.split_whitespace().count();
    if text.chars().count() < 200 || kept * 2 < visible {
        return None;
    }
    Some((article.title.trim().to_owned(), text))
}

/// Remove what is never content. A header or footer inside an article or
/// `main` is the article's own (its title, its byline) and stays.
fn strip_chrome(doc: &Document) {
    doc.select(CHROME).remove();
    for node in doc.select("header, footer").nodes() {
        if !node.ancestors_it(None).any(|a| a.has_name("article") || a.has_name("main")) {
            node.remove_from_parent();
        }
    }
    let mut boiler = Vec::new();
    for attr in ["class", "id"] {
        for frag in BOILERPLATE {
            boiler.push(format!("div[{attr}*={frag}], section[{attr}*={frag}], ul[{attr}*={frag}]"));
        }
    }
    doc.select(&boiler.join(", ")).remove();
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEWS: &str = r#"<!doctype html><html><head><title>Tide report</title>
        <style>.x{color:red}</style><script>var tracker = "SECRET_SCRIPT";</script></head>
        <body><nav><a href="/">Home</a> <a href="/world">World</a> NAVIGATION_LINKS</nav>
        <div class="cookie-banner">We use cookies COOKIE_TEXT <button>Accept</button></div>
        <article><h1>High tides expected on the coast</h1>
        <p>The harbour authority said on Monday that tides would reach 4.2 metres, the highest this year,
        and advised boat owners to check their moorings before the weekend.</p>
        <p>Forecasters at the <a href="/met">met office</a> expect strong westerly winds, which push water
        towards the shore and can add half a metre to the predicted height of a spring tide.</p>
        <ul><li>Friday: 4.0 m</li><li>Saturday: 4.2 m</li></ul></article>
        <footer>Copyright FOOTER_TEXT</footer></body></html>"#;

    #[test]
    fn an_article_keeps_its_text_and_drops_the_chrome() {
        let p = page(NEWS, Some("https://news.example/tides"));
        for want in ["4.2 metres", "westerly winds", "Saturday: 4.2 m", "https://news.example/met"] {
            assert!(p.text.contains(want), "missing {want}: {}", p.text);
        }
        for noise in ["SECRET_SCRIPT", "NAVIGATION_LINKS", "COOKIE_TEXT", "FOOTER_TEXT", "color:red"] {
            assert!(!p.text.contains(noise), "kept {noise}: {}", p.text);
        }
    }

    #[test]
    fn a_table_page_keeps_its_table() {
        let rows: String = (1..=30).map(|i| format!("<tr><td>Station {i}</td><td>{}</td></tr>", i * 7)).collect();
        let html = format!(
            "<html><head><title>Stations</title></head><body><nav>MENU</nav><table><tr><th>Name</th><th>Rain mm</th>\
             </tr>{rows}</table></body></html>"
        );
        let p = page(&html, None);
        assert!(p.text.contains("| Station 30 | 210 |"), "{}", p.text);
        assert!(p.text.contains("Rain mm"), "{}", p.text);
        assert!(!p.text.contains("MENU"), "{}", p.text);
    }
}
