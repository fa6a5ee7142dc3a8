//! Token counts for the context guard, with the encoding the protocol names
//! (`o200k_base`, through tiktoken-rs). The served model's own tokenizer
//! differs; the protocol's guard leaves 50% headroom on everything it
//! counts itself and relies on the server's reported usage for the rest.

/// Tokens of `text` in `o200k_base`. The first call loads the vocabulary
/// (about 100 ms); later calls only encode.
pub fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::o200k_base_singleton().encode_ordinary(text).len() as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_like_tiktoken() {
        assert_eq!(super::count(""), 0);
        assert_eq!(super::count("hello world"), 2); // [24912, 2375] in o200k_base
        // A special token in a tool result is text, not a control token.
        assert!(super::count("<|endoftext|>") > 1);
    }
}
