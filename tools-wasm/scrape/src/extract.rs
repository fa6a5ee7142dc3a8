//! Extraction with the summary model, by the protocol's rules: one request
//! with the whole text when it fits, cutting 40,960 × attempt characters
//! from its end on a context overflow (4 attempts); and, for a text longer
//! than 150,000 characters or one the model still cannot take, map-reduce:
//! overlapping parts extracted one by one, then merged. A part that
//! overflows halves the part size and starts the map again.

use fathom_sdk::summary_model::{self, SummaryError};

/// Most tokens one reply may have (the protocol's max_tokens).
const MAX_TOKENS: u32 = 8192;
/// Beyond this many characters a text is read in parts.
pub const SINGLE_MAX_CHARS: usize = 150_000;
/// Parts of a long text, and how much neighbours share.
pub const PART_CHARS: usize = 100_000;
const OVERLAP_PER_PART: usize = 10;
/// What the protocol cuts per overflowing attempt.
pub const CUT_CHARS: usize = 40_960;
const ATTEMPTS: usize = 4;
/// Parts are never made smaller than this: a model that cannot read it
/// is too small for the tool.
const MIN_PART_CHARS: usize = 8_000;
/// What a part with nothing relevant answers.
const NOTHING: &str = "NOTHING RELEVANT";

/// One reply of the summary model.
pub struct Reply {
    pub text: String,
    pub model: String,
    pub tokens: u64,
}

pub enum ModelError {
    Overflow,
    Failed(String),
}

/// The summary model: the host's, or a test's.
pub trait Model {
    fn complete(&self, prompt: &str, max_tokens: u32) -> Result<Reply, ModelError>;
}

/// The summary model the host grants.
pub struct HostModel;

impl Model for HostModel {
    fn complete(&self, prompt: &str, max_tokens: u32) -> Result<Reply, ModelError> {
        match summary_model::complete(prompt, max_tokens) {
            Ok(c) => Ok(Reply { text: c.text, model: c.model, tokens: c.prompt_tokens + c.completion_tokens }),
            Err(SummaryError::ContextOverflow(_)) => Err(ModelError::Overflow),
            Err(SummaryError::Failed(m)) => Err(ModelError::Failed(m)),
        }
    }
}

/// What an extraction came to.
pub struct Extraction {
    pub info: Result<String, String>,
    pub model: String,
    /// Prompt and completion tokens of every request.
    pub tokens: u64,
    /// Parts the text was read in.
    pub parts: usize,
}

/// Counts what the requests cost, whatever their outcome.
struct Meter<'a> {
    model: &'a dyn Model,
    name: String,
    tokens: u64,
}

impl Meter<'_> {
    fn ask(&mut self, prompt: &str) -> Result<String, ModelError> {
        let r = self.model.complete(prompt, MAX_TOKENS)?;
        self.tokens += r.tokens;
        self.name = r.model;
        Ok(r.text.trim().to_owned())
    }
}

pub fn extract(model: &dyn Model, content: &str, info: &str) -> Extraction {
    let mut m = Meter { model, name: String::new(), tokens: 0 };
    let chars = content.chars().count();
    let mut parts = 1;
    let result = if chars <= SINGLE_MAX_CHARS {
        match whole(&mut m, content, info) {
            Err(ModelError::Overflow) => {
                // Even the text cut three times did not fit: parts half as long.
                let start = chars.saturating_sub(CUT_CHARS * (ATTEMPTS - 1)).max(MIN_PART_CHARS * 2) / 2;
                in_parts(&mut m, content, info, start, &mut parts)
            }
            other => other.map_err(message),
        }
    } else {
        in_parts(&mut m, content, info, PART_CHARS, &mut parts)
    };
    Extraction { info: result, model: m.name, tokens: m.tokens, parts }
}

fn message(e: ModelError) -> String {
    match e {
        ModelError::Overflow => "the page is too long for the summary model even in parts".into(),
        ModelError::Failed(m) => m,
    }
}

/// The protocol's single request, cut from the end on an overflow.
fn whole(m: &mut Meter, content: &str, info: &str) -> Result<String, ModelError> {
    let chars = content.chars().count();
    for attempt in 0..ATTEMPTS {
        let keep = chars.saturating_sub(CUT_CHARS * attempt);
        if keep == 0 {
            break;
        }
        let text: String = content.chars().take(keep).collect();
        match m.ask(&prompt(info, &text, None)) {
            Err(ModelError::Overflow) => continue,
            other => return other,
        }
    }
    Err(ModelError::Overflow)
}

/// Map over parts of `part_chars` (halved on an overflow), then reduce.
fn in_parts(
    m: &mut Meter,
    content: &str,
    info: &str,
    mut part_chars: usize,
    count: &mut usize,
) -> Result<String, String> {
    let extractions = 'map: loop {
        let parts = split(content, part_chars);
        *count = parts.len();
        let mut found = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            match m.ask(&prompt(info, part, Some((i + 1, parts.len())))) {
                Ok(text) => found.push(text),
                Err(ModelError::Overflow) if part_chars / 2 >= MIN_PART_CHARS => {
                    part_chars /= 2;
                    continue 'map;
                }
                Err(e) => return Err(message(e)),
            }
        }
        break found;
    };
    let relevant: Vec<String> = extractions.into_iter().filter(|e| !e.trim().starts_with(NOTHING)).collect();
    match relevant.len() {
        0 => Ok(format!("The page holds nothing on this: {}", info.trim())),
        1 => Ok(relevant.into_iter().next().unwrap()),
        _ => reduce(m, info, &relevant, 0).map_err(message),
    }
}

/// Merge extractions; when they are too long together, merge each half
/// first.
fn reduce(m: &mut Meter, info: &str, extractions: &[String], depth: u32) -> Result<String, ModelError> {
    if extractions.len() == 1 {
        return Ok(extractions[0].clone());
    }
    match m.ask(&merge_prompt(info, extractions)) {
        Err(ModelError::Overflow) if depth < 4 => {
            let (a, b) = extractions.split_at(extractions.len() / 2);
            let merged = [reduce(m, info, a, depth + 1)?, reduce(m, info, b, depth + 1)?];
            m.ask(&merge_prompt(info, &merged))
        }
        other => other,
    }
}

/// Overlapping parts of about `size` characters covering `text`.
pub fn split(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let overlap = size / OVERLAP_PER_PART;
    let mut parts = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + size).min(chars.len());
        parts.push(chars[start..end].iter().collect());
        if end == chars.len() {
            return parts;
        }
        start = end - overlap;
    }
}

/// The protocol's extraction prompt; for a part of a long page, which part.
pub fn prompt(info: &str, content: &str, part: Option<(usize, usize)>) -> String {
    let part = match part {
        Some((i, n)) => format!(
            "This is part {i} of {n} of the page; neighbouring parts overlap a little. If this part holds nothing \
             relevant, answer exactly: {NOTHING}.\n\n"
        ),
        None => String::new(),
    };
    format!(
        "You are given a piece of content and the requirement of information to extract. Your task is to extract \
         the information specifically requested. Be precise and focus exclusively on the requested information.\n\n\
         INFORMATION TO EXTRACT:\n{info}\n\n\
         INSTRUCTIONS:\n\
         1. Extract the information relevant to the focus above.\n\
         2. If the exact information is not found, extract the most closely related details.\n\
         3. Be specific and include exact details when available.\n\
         4. Clearly organize the extracted information for easy understanding.\n\
         5. Do not include general summaries or unrelated content.\n\n\
         {part}CONTENT TO ANALYZE:\n{content}\n\n\
         EXTRACTED INFORMATION:"
    )
}

fn merge_prompt(info: &str, extractions: &[String]) -> String {
    let parts: Vec<String> =
        extractions.iter().enumerate().map(|(i, e)| format!("[Part {}]\n{}", i + 1, e.trim())).collect();
    format!(
        "The information below was extracted from consecutive parts of one page, each part on its own. Merge it \
         into one answer to the requirement: keep every relevant detail exactly (numbers, names, dates), drop what \
         the overlap between parts repeats, and say so where parts disagree.\n\n\
         INFORMATION TO EXTRACT:\n{info}\n\n\
         EXTRACTIONS:\n{}\n\n\
         MERGED INFORMATION:",
        parts.join("\n\n")
    )
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A model with a context of `context` prompt characters, recording
    /// the length of every prompt; it answers each part with its number.
    struct Small {
        context: usize,
        prompts: RefCell<Vec<usize>>,
    }

    impl Model for Small {
        fn complete(&self, prompt: &str, _: u32) -> Result<Reply, ModelError> {
            self.prompts.borrow_mut().push(prompt.chars().count());
            if prompt.chars().count() > self.context {
                return Err(ModelError::Overflow);
            }
            let text = match prompt.find("This is part ") {
                Some(at) => prompt[at..].split(" of").next().unwrap().replace("This is part ", "found in part "),
                None if prompt.contains("MERGED INFORMATION:") => "merged".into(),
                None => "found".into(),
            };
            Ok(Reply { text, model: "small".into(), tokens: 10 })
        }
    }

    #[test]
    fn overflow_cuts_the_end_by_the_protocols_steps() {
        let model = Small { context: 60_000, prompts: RefCell::default() };
        let e = extract(&model, &"x".repeat(100_000), "what");
        assert_eq!(e.info.as_deref(), Ok("found"));
        let prompts = model.prompts.borrow();
        let overhead = prompts[0] - 100_000;
        assert_eq!(prompts.iter().map(|p| p - overhead).collect::<Vec<_>>(), [100_000, 59_040]);
        assert_eq!(e.tokens, 10);
    }

    #[test]
    fn long_pages_are_read_in_overlapping_parts_and_merged() {
        let model = Small { context: 200_000, prompts: RefCell::default() };
        let e = extract(&model, &"y".repeat(300_000), "what");
        assert_eq!(e.parts, 4, "100,000-character parts overlapping by 10,000");
        assert_eq!(e.info.as_deref(), Ok("merged"));
        assert_eq!(model.prompts.borrow().len(), 5);
    }

    #[test]
    fn a_small_context_halves_the_parts_until_they_fit() {
        let model = Small { context: 30_000, prompts: RefCell::default() };
        let e = extract(&model, &"z".repeat(200_000), "what");
        assert!(e.info.is_ok(), "{:?}", e.info);
        assert!(e.parts >= 8, "{}", e.parts);
        let tiny = Small { context: 2_000, prompts: RefCell::default() };
        let e = extract(&tiny, &"z".repeat(200_000), "what");
        assert!(e.info.unwrap_err().contains("too long for the summary model"));
    }

    #[test]
    fn parts_cover_the_text_with_overlap() {
        let text: String = (0..250).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let parts = split(&text, 100);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].len(), 100);
        assert_eq!(&parts[0][90..], &parts[1][..10]);
        assert!(text.ends_with(parts.last().unwrap().as_str()));
    }
}
