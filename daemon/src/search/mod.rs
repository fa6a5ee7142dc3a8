//! Search for the research tools: the offline index (`index.rs`), the
//! backend that needs no internet and no API key.

pub mod index;

/// The index `fathom index build` writes and the `local` backend reads
/// when no path is given: `$FATHOM_SEARCH_INDEX`, else `<state>/index`.
pub fn default_index_path() -> std::path::PathBuf {
    std::env::var_os("FATHOM_SEARCH_INDEX")
        .filter(|v| !v.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| crate::state_dir().join("index"))
}
