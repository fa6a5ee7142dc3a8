//! Search capability: what `google_search` needs from the host, given only
//! to the servers `tools.search` names. Declared by the operator's
//! `[search]` config (the backend, its URLs, the Serper key) and a task's
//! `search.backend` pin; *prepared* into each granted instance as
//! environment variables (the backend and its URLs, never the key), a grant
//! of the Serper key to Serper's host alone in the instance's network
//! rules, and access to the offline index through the `search-index`
//! import. The component does the searching and parses what backends send;
//! the host only opens the index, which lives outside every sandbox.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use super::{Capability, Grant, HostState};
use crate::net::SecretGrant;
use crate::policy::Policy;
use crate::search::index::SearchIndex;
use crate::search::{Backend, Settings};
use crate::wit::fathom::tool::search_index;

/// The secret the Serper backend's key is known by.
pub const SERPER_KEY: &str = "SERPER_API_KEY";

pub struct Search;

impl Capability for Search {
    fn prepare(&self, policy: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        if !policy.grants_search(grant.server) {
            return Ok(());
        }
        let Some(settings) = grant.extras.search.as_deref() else {
            // A session made without the operator's config (a library
            // embedding the runtime): granted, but nothing to give.
            grant.wasi.env("FATHOM_SEARCH_UNAVAILABLE", "no search backend is configured for this session");
            return Ok(());
        };
        let backend = policy.search.backend.unwrap_or(settings.backend);
        grant.wasi.env("FATHOM_SEARCH_BACKEND", backend.name());
        grant.wasi.env("SERPER_BASE_URL", &settings.serper_base_url);
        if let Some(url) = &settings.searxng_url {
            grant.wasi.env("SEARXNG_URL", url);
        }
        if let Some(why) = unavailable(backend, settings) {
            grant.wasi.env("FATHOM_SEARCH_UNAVAILABLE", why);
        }
        if backend == Backend::Serper {
            grant_serper_key(settings, grant.network);
        }
        *grant.search_index = Some(settings.index.clone());
        Ok(())
    }
}

/// Why `backend` cannot serve searches with these settings, if it cannot.
fn unavailable(backend: Backend, settings: &Settings) -> Option<String> {
    match backend {
        Backend::Serper if settings.serper_key.is_none() => Some(format!(
            "the serper search backend needs its key: the daemon's operator sets {SERPER_KEY} (in the environment or [secrets]), or the task uses search.backend = \"local\""
        )),
        Backend::Searxng if settings.searxng_url.is_none() => Some(
            "the searxng search backend has no instance: the daemon's operator sets SEARXNG_URL (search.searxng_url)"
                .into(),
        ),
        _ => None,
    }
}

/// The Serper key, for requests to Serper's own host and port only: the
/// component names it as `{{secrets.SERPER_API_KEY}}` and never sees it.
/// It replaces a grant of that name from the task's policy, so a policy
/// cannot send it elsewhere through this server.
fn grant_serper_key(settings: &Settings, network: &mut Option<Arc<crate::net::NetPolicy>>) {
    let (Some(rules), Some(host)) = (network.as_mut(), host_pattern(&settings.serper_base_url)) else { return };
    let rules = Arc::make_mut(rules);
    rules.secrets.retain(|g| g.name != SERPER_KEY);
    rules.secrets.push(SecretGrant { name: SERPER_KEY.into(), value: settings.serper_key.clone(), hosts: vec![host] });
}

/// `url`'s host as a host pattern: `host`, or `host:port` off the
/// scheme's default port.
fn host_pattern(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    // IPv6 keeps its brackets, as host patterns write it.
    let host = u.host_str()?.to_owned();
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// Open indexes by folder, shared by every instance: tantivy's reader
/// follows a rebuild on its own.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Arc<SearchIndex>>>> = LazyLock::new(Mutex::default);

fn open_index(path: &Path) -> Result<Arc<SearchIndex>, String> {
    if let Some(i) = OPEN.lock().unwrap().get(path) {
        return Ok(i.clone());
    }
    // Not cached on failure: the operator may build it while we run.
    let index = Arc::new(SearchIndex::open(path)?);
    OPEN.lock().unwrap().insert(path.to_path_buf(), index.clone());
    Ok(index)
}

/// The most results one query may ask for.
const MAX_RESULTS: u32 = 100;

impl search_index::Host for HostState {
    async fn query(&mut self, q: String, num: u32, offset: u32) -> Result<Vec<search_index::Hit>, String> {
        let index = self.index()?;
        let (num, offset) = (num.clamp(1, MAX_RESULTS) as usize, offset.min(10_000) as usize);
        let hits = tokio::task::spawn_blocking(move || index.search(&q, num, offset))
            .await
            .map_err(|e| format!("the search failed: {e}"))??;
        Ok(hits
            .into_iter()
            .map(|h| search_index::Hit { title: h.title, link: h.link, snippet: h.snippet, score: h.score })
            .collect())
    }

    async fn document(&mut self, link: String) -> Result<String, String> {
        let index = self.index()?;
        tokio::task::spawn_blocking(move || index.document(&link))
            .await
            .map_err(|e| format!("reading the index failed: {e}"))?
    }
}

impl HostState {
    fn index(&self) -> Result<Arc<SearchIndex>, String> {
        match &self.search_index {
            Some(path) => open_index(path),
            None => Err(
                "this tool has no offline search index: the task's policy does not grant it to this tool's server (tools.search)"
                    .into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_pattern;

    #[test]
    fn the_key_goes_to_the_base_urls_host_and_port() {
        assert_eq!(host_pattern("https://google.serper.dev").as_deref(), Some("google.serper.dev"));
        assert_eq!(host_pattern("http://127.0.0.1:8123/v1").as_deref(), Some("127.0.0.1:8123"));
        assert_eq!(host_pattern("http://[::1]:9/").as_deref(), Some("[::1]:9"));
        assert_eq!(host_pattern("not a url"), None);
    }
}
