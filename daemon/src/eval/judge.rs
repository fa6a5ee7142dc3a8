//! Judging an answer against the ground truth: normalised exact match
//! first (free, deterministic), then an LLM judge with a fixed prompt for
//! what only meaning can settle ("Paris, France" for "Paris").

use serde::{Deserialize, Serialize};

use crate::llm::{ChatRequest, LlmClient, Message};

/// How one run's answer was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub correct: bool,
    /// `exact` (normalised exact match), `judge` (the LLM judge), `none`
    /// (nothing to judge: no answer, or no judge for a non-match) or
    /// `judge_error` (the judge failed; judged again on the next run of
    /// `fathom eval` with the same `--out`).
    pub method: String,
    pub reason: String,
}

impl Judgement {
    pub fn new(correct: bool, method: &str, reason: impl Into<String>) -> Judgement {
        Judgement { correct, method: method.into(), reason: reason.into() }
    }
}

/// The judge's prompt, fixed so that figures from different runs compare.
/// `{question}`, `{response}` and `{correct_answer}` are filled in.
pub const JUDGE_PROMPT: &str = "\
You are grading an answer to a question against the correct answer.

[question]: {question}

[response]: {response}

[correct_answer]: {correct_answer}

Decide only whether the final answer in [response] means the same as \
[correct_answer]: the same number (formatting, thousands separators, units \
written out or abbreviated, and rounding the question allows do not \
matter), the same entity under another accepted name, or the same set of \
items. Do not solve the question yourself and do not grade the reasoning; \
an answer that is ambiguous, hedged between several options, or only \
partly right is Incorrect.

Reply in exactly two lines:
Reason: <one sentence>
Verdict: Correct or Incorrect";

/// Whether `answer` matches `truth` after normalisation: case, spacing,
/// punctuation, articles, LaTeX wrappers, numbers by value, and lists as
/// sets unless the question asks for an order.
pub fn exact_match(question: &str, answer: &str, truth: &str) -> bool {
    let (a, t) = (strip_wrappers(answer), strip_wrappers(truth));
    if let (Some(x), Some(y)) = (number(&a), number(&t)) {
        return same_number(x, y);
    }
    if is_list(&t) || is_list(&a) {
        let mut a: Vec<String> = split_list(&a).map(|s| item(&s)).collect();
        let mut t: Vec<String> = split_list(&t).map(|s| item(&s)).collect();
        if !asks_for_order(question) {
            a.sort();
            t.sort();
        }
        return a == t;
    }
    item(&a) == item(&t)
}

/// One list item (or a whole answer) in comparable form.
fn item(s: &str) -> String {
    match number(s) {
        Some(n) => format!("{n}"),
        None => normalise_text(s),
    }
}

fn same_number(x: f64, y: f64) -> bool {
    x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
}

/// `\boxed{..}`, `\text{..}`, `$..$` and a final full stop removed.
fn strip_wrappers(s: &str) -> String {
    let mut s = s.trim().to_owned();
    loop {
        let before = s.clone();
        for prefix in ["\\boxed{", "\\text{", "\\textbf{", "\\mathrm{"] {
            if let Some(inner) = s.strip_prefix(prefix).and_then(|r| r.strip_suffix('}')) {
                s = inner.trim().to_owned();
            }
        }
        if let Some(inner) = s.strip_prefix('$').and_then(|r| r.strip_suffix('$')) {
            s = inner.trim().to_owned();
        }
        if let Some(inner) = s.strip_suffix('.') {
            s = inner.trim().to_owned();
        }
        if s == before {
            return s;
        }
    }
}

/// Lowercase words without punctuation or articles, single-spaced.
fn normalise_text(s: &str) -> String {
    let lower = s.to_lowercase();
    let cleaned: String =
        lower.chars().map(|c| if c.is_alphanumeric() || c.is_whitespace() { c } else { ' ' }).collect();
    cleaned.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

/// A number as people write one: `1,234.5`, `$12`, `45%`, `-3`, `1e6`.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    let s = s.strip_prefix('$').unwrap_or(s);
    let s = s.strip_suffix('%').unwrap_or(s).trim();
    if s.is_empty() {
        return None;
    }
    let plain = if thousands(s) { s.replace(',', "") } else { s.to_owned() };
    if !plain.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) {
        return None;
    }
    plain.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `1,234` or `12,345,678.9`: commas as thousands separators.
fn thousands(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let int = s.split('.').next().unwrap_or("");
    let groups: Vec<&str> = int.split(',').collect();
    groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
        && groups[1..].iter().all(|g| g.len() == 3)
}

fn is_list(s: &str) -> bool {
    (s.contains(',') && !thousands(s)) || s.contains(';')
}

fn split_list(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned)
}

/// Whether the question wants its list in a particular order.
fn asks_for_order(question: &str) -> bool {
    let q = question.to_lowercase();
    ["order", "sorted", "sort ", "ascending", "descending", "chronolog", "alphabetical", "sequence", "ranked"]
        .iter()
        .any(|w| q.contains(w))
}

/// The LLM judge: one request with [`JUDGE_PROMPT`] at temperature 0.
pub struct LlmJudge {
    pub client: LlmClient,
}

impl LlmJudge {
    /// A reply without a verdict line is asked once more for the format.
    pub async fn judge(&self, question: &str, answer: &str, truth: &str) -> Judgement {
        let prompt = JUDGE_PROMPT
            .replace("{question}", question)
            .replace("{response}", answer)
            .replace("{correct_answer}", truth);
        let mut req = ChatRequest {
            messages: vec![Message::new("user", prompt)],
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: 512,
            repetition_penalty: None,
            session_id: "fathom-eval-judge".into(),
            tools: None,
            tool_choice: None,
        };
        let mut judgement = Judgement::new(false, "judge_error", "the judge was not asked");
        for _ in 0..2 {
            let reply = match self.client.chat(&req).await {
                Ok(r) => r.content,
                Err(e) => return Judgement::new(false, "judge_error", format!("the judge failed: {e}")),
            };
            judgement = parse_verdict(&reply);
            if judgement.method != "judge_error" {
                break;
            }
            req.messages.push(Message::new("assistant", reply));
            req.messages.push(Message::new(
                "user",
                "Reply in exactly two lines: `Reason: <one sentence>` and `Verdict: Correct` or `Verdict: Incorrect`.",
            ));
        }
        judgement
    }
}

/// `Reason: ...` / `Verdict: Correct|Incorrect` from the judge's reply; the
/// last verdict line counts. A reply without one is a `judge_error`.
pub fn parse_verdict(reply: &str) -> Judgement {
    let mut reason = String::new();
    let mut verdict = None;
    for line in reply.lines() {
        let line = line.trim().trim_matches('*').trim();
        let lower = line.to_lowercase();
        if let Some(r) = lower.strip_prefix("reason:") {
            reason = line[line.len() - r.len()..].trim().to_owned();
        } else if let Some(v) = lower.strip_prefix("verdict:") {
            let v = v.trim().trim_matches(|c: char| !c.is_alphabetic());
            verdict = match v {
                "correct" => Some(true),
                "incorrect" => Some(false),
                _ => verdict,
            };
        }
    }
    match verdict {
        Some(correct) => Judgement::new(correct, "judge", reason),
        None => Judgement::new(
            false,
            "judge_error",
            format!("the judge's reply has no `Verdict: Correct|Incorrect` line: {}", crate::client::short(reply, 200)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        assert!(exact_match("q", "1,234", "1234"));
        assert!(exact_match("q", "\\boxed{1234.0}", "1234"));
        assert!(exact_match("q", "$12", "12"));
        assert!(exact_match("q", "45%", "45"));
        assert!(exact_match("q", "3.", "3"));
        assert!(!exact_match("q", "1235", "1234"));
        assert!(!exact_match("q", "12.5", "125"));
    }

    #[test]
    fn text_ignores_case_punctuation_and_articles() {
        assert!(exact_match("q", "The Eiffel Tower.", "eiffel tower"));
        assert!(exact_match("q", "\\text{Paris}", "paris"));
        assert!(exact_match("q", "  new   york ", "New York"));
        assert!(!exact_match("q", "Paris, France", "Paris"));
        assert!(!exact_match("q", "Lyon", "Paris"));
    }

    #[test]
    fn lists_are_sets_unless_an_order_is_asked() {
        assert!(exact_match("Which primes?", "5, 3, 2", "2,3,5"));
        assert!(exact_match("Which?", "b; A", "a, b"));
        assert!(!exact_match("List them in ascending order", "5, 3, 2", "2, 3, 5"));
        assert!(exact_match("List them in ascending order", "2, 3, 5", "2,3,5"));
        assert!(!exact_match("Which?", "2, 3", "2, 3, 5"));
    }

    #[test]
    fn verdicts_parse_and_garbage_is_a_judge_error() {
        let j = parse_verdict("Reason: same city.\nVerdict: Correct");
        assert_eq!(j, Judgement::new(true, "judge", "same city."));
        assert!(!parse_verdict("**Reason:** no\n**Verdict:** Incorrect.").correct);
        assert_eq!(parse_verdict("Verdict: Incorrect").method, "judge");
        assert_eq!(parse_verdict("I think it is right").method, "judge_error");
    }
}
