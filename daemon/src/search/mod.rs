//! Search for the research tools: the backends `google_search` may use and
//! their settings, and the offline index (`index.rs`), the backend that
//! needs no internet and no API key. The searching itself happens in the
//! `search_and_scrape_webpage` component; the host hands it these settings
//! (`caps::search`) and serves the offline index to it.

pub mod index;

use std::path::PathBuf;

use serde::Serialize;

/// Where `google_search` sends a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A Serper-compatible API (`SERPER_BASE_URL`, key `SERPER_API_KEY`).
    Serper,
    /// A SearXNG instance's JSON API (`SEARXNG_URL`).
    Searxng,
    /// The offline index of `fathom index build`.
    Local,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Serper => "serper",
            Backend::Searxng => "searxng",
            Backend::Local => "local",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "serper" => Ok(Backend::Serper),
            "searxng" => Ok(Backend::Searxng),
            "local" => Ok(Backend::Local),
            other => Err(format!("unknown search backend {other:?}: expected serper, searxng or local")),
        }
    }
}

/// The operator's search settings, resolved (`Config::search_settings`).
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// The configured backend; a task's policy may pin another
    /// (`search.backend`).
    pub backend: Backend,
    pub serper_base_url: String,
    /// The Serper key, sent only to `serper_base_url`'s host.
    pub serper_key: Option<String>,
    pub searxng_url: Option<String>,
    /// The offline index's folder.
    pub index: PathBuf,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("backend", &self.backend)
            .field("serper_base_url", &self.serper_base_url)
            .field("serper_key", &self.serper_key.as_ref().map(|_| "********"))
            .field("searxng_url", &self.searxng_url)
            .field("index", &self.index)
            .finish()
    }
}

/// Serper's own API, when `SERPER_BASE_URL` names none.
pub const SERPER_DEFAULT_URL: &str = "https://google.serper.dev";

/// The index `fathom index build` writes and the `local` backend reads
/// when no path is given: `$FATHOM_SEARCH_INDEX` (or `search.index` in the
/// config, which `Config` resolves), else `<state>/index`.
pub fn default_index_path() -> PathBuf {
    std::env::var_os("FATHOM_SEARCH_INDEX")
        .filter(|v| !v.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| crate::state_dir().join("index"))
}
