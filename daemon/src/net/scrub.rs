//! Finding a secret's value in text in the forms it is likely to be echoed
//! back in: as is, in any letter case, reversed, as hex, URL-encoded, as
//! base64 (at any of the three alignments, so inside a longer base64 run
//! too), and as a prefix left at the very end of a text cut by a size cap.
//!
//! A tool that can read a secret can exfiltrate it in a form nobody thought
//! of; the point is that what Fathom itself hands back or records (tool
//! results, errors, events, traces) never carries the common encodings.

use base64::Engine;
use regex::{Regex, RegexBuilder};

/// The shortest value worth scrubbing: below this, a "secret" is a word and
/// replacing it would mangle ordinary text.
pub const MIN_SECRET_LEN: usize = 6;
/// The shortest tail of a cut text that is taken for a secret's prefix.
const MIN_PREFIX: usize = 6;

/// One secret's forms, compiled.
struct Forms {
    re: Regex,
    /// The plain forms whose prefixes may end a cut text.
    plain: Vec<String>,
    replacement: String,
}

/// Replaces every form of a set of secrets by each one's replacement.
pub struct Scrubber(Vec<Forms>);

impl Scrubber {
    /// `secrets`: (value, what to write instead).
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, String)>) -> Scrubber {
        let mut forms: Vec<Forms> = secrets
            .into_iter()
            .filter(|(v, _)| !v.is_empty())
            .filter_map(|(value, replacement)| {
                // A very short value is only replaced as it is: its other
                // forms would match ordinary text.
                let short = value.len() < MIN_SECRET_LEN;
                let variants = if short { vec![value.to_owned()] } else { variants(value) };
                let pattern = variants.iter().map(|v| regex::escape(v)).collect::<Vec<_>>().join("|");
                let re = RegexBuilder::new(&pattern).case_insensitive(!short).build().ok()?;
                Some(Forms { re, plain: if short { Vec::new() } else { variants }, replacement })
            })
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        forms.sort_by_key(|f| std::cmp::Reverse(f.re.as_str().len()));
        Scrubber(forms)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every form replaced; `None` when there was none.
    pub fn scrub(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for f in &self.0 {
            let current = out.as_deref().unwrap_or(text);
            if f.re.is_match(current) {
                out = Some(f.re.replace_all(current, regex::NoExpand(&f.replacement)).into_owned());
            }
        }
        out
    }

    /// As [`Scrubber::scrub`], and also a prefix of a secret (in a plain
    /// form) left at the end of a text that was cut at a size limit.
    pub fn scrub_cut(&self, text: &str) -> Option<String> {
        let mut out = self.scrub(text);
        let current = out.clone().unwrap_or_else(|| text.to_owned());
        for f in &self.0 {
            for v in &f.plain {
                let lower = current.to_ascii_lowercase();
                let v = v.to_ascii_lowercase();
                let longest = (MIN_PREFIX..v.len()).rev().find(|&n| v.is_char_boundary(n) && lower.ends_with(&v[..n]));
                if let Some(n) = longest {
                    let keep = current.len() - n;
                    if current.is_char_boundary(keep) {
                        out = Some(format!("{}{}", &current[..keep], f.replacement));
                        return out;
                    }
                }
            }
        }
        out
    }

    /// Scrub in place.
    pub fn apply(&self, text: &mut String) {
        if let Some(s) = self.scrub(text) {
            *text = s;
        }
    }
}

/// The forms of one value (case is handled by the matcher).
fn variants(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut v = vec![value.to_owned(), value.chars().rev().collect()];
    v.push(bytes.iter().map(|b| format!("{b:02x}")).collect());
    let encoded = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string();
    if encoded != value {
        v.push(encoded);
    }
    // Base64 at each alignment: only the groups made of the value's bytes
    // alone, which are the same wherever the value sits in a longer run.
    for engine in [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
    {
        for skip in 0..3 {
            let rest = &bytes[skip.min(bytes.len())..];
            let whole = rest.len() / 3 * 3;
            if whole >= 6 {
                v.push(engine.encode(&rest[..whole]));
            }
        }
    }
    v.sort();
    v.dedup();
    // Longest first within the alternation.
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const KEY: &str = "sk-Live_9fQ2zX7pLm";

    fn s() -> Scrubber {
        Scrubber::new([(KEY, "[secret]".to_owned())])
    }

    #[test]
    fn every_common_form_is_found() {
        let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
        let forms = [
            KEY.to_owned(),
            KEY.to_uppercase(),
            KEY.to_lowercase(),
            KEY.chars().rev().collect(),
            KEY.bytes().map(|b| format!("{b:02x}")).collect(),
            KEY.bytes().map(|b| format!("{b:02X}")).collect(),
            percent_encoding::utf8_percent_encode(KEY, percent_encoding::NON_ALPHANUMERIC).to_string(),
            b64(KEY),
            b64(&format!("{KEY}\n")),
            b64(&format!("x{KEY}")),
            b64(&format!("xy{KEY}")),
            b64(&format!("Authorization: Bearer {KEY}")),
            base64::engine::general_purpose::URL_SAFE.encode(KEY),
        ];
        for f in forms {
            let text = format!("before {f} after");
            let out = s().scrub(&text).unwrap_or_else(|| panic!("{f} not found"));
            assert!(out.contains("[secret]") && !out.contains(&f), "{f}: {out}");
        }
        assert_eq!(s().scrub("nothing to see"), None);
    }

    #[test]
    fn a_prefix_cut_at_the_end_is_found() {
        let cut = format!("the key is {}", &KEY[..10]);
        assert_eq!(s().scrub_cut(&cut).unwrap(), "the key is [secret]");
        // Too short to tell from ordinary text.
        assert_eq!(s().scrub_cut("ends with sk-"), None);
    }

    #[test]
    fn short_values_are_scrubbed_as_they_are_only() {
        let s = Scrubber::new([("abc", "x".to_owned())]);
        assert_eq!(s.scrub("1abc2").unwrap(), "1x2");
        assert_eq!(s.scrub("ABC cba"), None);
    }
}
