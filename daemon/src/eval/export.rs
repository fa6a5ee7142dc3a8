//! `fathom export sft|dpo`: training data from a judged evaluation, with
//! the MiroThinker report's filters. The filters read the trajectory's
//! events (interventions, rollbacks, tool results, limits), never its text.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use super::RunRow;

/// When a trajectory counts as pathological; each is configurable.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Consecutive failed tool results that make a run of errors.
    pub max_tool_error_run: usize,
    /// Redundant actions (`duplicate_query`, `repeated_call` interventions).
    pub max_repeats: usize,
    /// Action loops (`action_loop` interventions, and `stuck_loop`: turns
    /// ended because the model only repeated calls).
    pub max_loops: usize,
    /// Rolled-back replies.
    pub max_rollbacks: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { max_tool_error_run: 3, max_repeats: 2, max_loops: 1, max_rollbacks: 5 }
    }
}

/// What a trajectory's events add up to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pathologies {
    pub longest_tool_error_run: usize,
    pub repeats: usize,
    pub loops: usize,
    pub rollbacks: usize,
    /// Rollbacks of replies whose tool-call tags did not parse, and format
    /// reminders: the model broke the protocol's format.
    pub format_violations: usize,
}

/// Count the pathologies in a trace's `step_logs` (each step's `metadata`
/// is the agent loop's event).
pub fn pathologies(trace: &Value) -> Pathologies {
    let mut p = Pathologies::default();
    let mut run = 0;
    for step in trace["step_logs"].as_array().into_iter().flatten() {
        let e = &step["metadata"];
        match e["type"].as_str() {
            Some("tool_result") => {
                run = if e["ok"] == false { run + 1 } else { 0 };
                p.longest_tool_error_run = p.longest_tool_error_run.max(run);
            }
            Some("intervention") => match e["kind"].as_str() {
                Some("duplicate_query" | "repeated_call") => p.repeats += 1,
                Some("action_loop" | "stuck_loop") => p.loops += 1,
                Some("format_reminder") => p.format_violations += 1,
                _ => {}
            },
            Some("rollback") => {
                p.rollbacks += 1;
                if e["reason"].as_str().is_some_and(|r| r.contains("do not parse")) {
                    p.format_violations += 1;
                }
            }
            _ => {}
        }
    }
    p
}

/// The filters a correct trajectory must pass to be a training example.
pub fn success_filters(p: &Pathologies, t: &Thresholds) -> Vec<&'static str> {
    let mut hit = Vec::new();
    if p.longest_tool_error_run >= t.max_tool_error_run {
        hit.push("tool_error_run");
    }
    if p.repeats >= t.max_repeats {
        hit.push("redundant_actions");
    }
    if p.loops >= t.max_loops {
        hit.push("action_loop");
    }
    if p.rollbacks >= t.max_rollbacks {
        hit.push("excessive_rollbacks");
    }
    hit
}

/// The filters an incorrect trajectory must pass to be a rejected
/// example: failures for trivial causes teach nothing about research.
pub fn failure_filters(row: &RunRow, p: &Pathologies, t: &Thresholds) -> Vec<&'static str> {
    let mut hit = Vec::new();
    if p.format_violations > 0 {
        hit.push("format_violation");
    }
    if row.status == "succeeded" && !row.boxed {
        hit.push("no_boxed_answer");
    }
    if p.loops >= t.max_loops {
        hit.push("action_loop");
    }
    // The model server failed, or the run was cancelled: not the model's
    // doing. (A run stopped by a limit is a real failure and stays.)
    let limited = row.cause.as_deref().is_some_and(|c| c.starts_with("limit:"));
    if row.status != "succeeded" && !limited {
        hit.push("run_error");
    }
    hit
}

#[derive(Debug, Default, Serialize)]
pub struct FilterReport {
    pub candidates: usize,
    pub kept: usize,
    /// Trajectories each filter dropped (one may be dropped by several).
    pub dropped_by: BTreeMap<String, usize>,
}

impl FilterReport {
    fn count(&mut self, hits: &[&str]) -> bool {
        self.candidates += 1;
        for h in hits {
            *self.dropped_by.entry((*h).to_owned()).or_default() += 1;
        }
        let keep = hits.is_empty();
        self.kept += usize::from(keep);
        keep
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub kind: String,
    /// Examples written (SFT trajectories, DPO pairs).
    pub examples: usize,
    /// Correct trajectories through the success filters.
    pub correct: FilterReport,
    /// DPO only: incorrect trajectories through the failure filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incorrect: Option<FilterReport>,
    /// Runs left out because their judge failed, or their trace is gone.
    pub unjudged: usize,
    pub missing_traces: usize,
}

impl Report {
    pub fn text(&self) -> String {
        let mut out = format!("{} examples: {}\n", self.kind, self.examples);
        let mut part = |name: &str, f: &FilterReport| {
            out.push_str(&format!("{name}: {} of {} kept", f.kept, f.candidates));
            for (k, v) in &f.dropped_by {
                out.push_str(&format!("; {k} dropped {v}"));
            }
            out.push('\n');
        };
        part("correct trajectories", &self.correct);
        if let Some(i) = &self.incorrect {
            part("incorrect trajectories", i);
        }
        out.push_str(&format!("left out: {} unjudged, {} without a trace\n", self.unjudged, self.missing_traces));
        out
    }
}

/// A trajectory's conversation as ChatML messages, system prompt first.
pub fn chatml(trace: &Value) -> Vec<Value> {
    let history = &trace["main_agent_message_history"];
    let mut messages = vec![json!({"role": "system", "content": history["system_prompt"]})];
    messages.extend(history["message_history"].as_array().into_iter().flatten().cloned());
    messages
}

/// A judged run with its trajectory.
struct Judged {
    row: RunRow,
    trace: Value,
    pathologies: Pathologies,
}

fn judged(from: &Path, report: &mut Report) -> Result<Vec<Judged>, String> {
    let rows = super::load_rows(from)?;
    if rows.is_empty() {
        return Err(format!(
            "{}: no finished runs (runs.jsonl): run `fathom eval ... --out {}` first",
            from.display(),
            from.display()
        ));
    }
    let mut out = Vec::new();
    for row in rows {
        if row.judgement.method == "judge_error" {
            report.unjudged += 1;
            continue;
        }
        let Some(trace) = std::fs::read(from.join(&row.trace)).ok().and_then(|b| serde_json::from_slice(&b).ok())
        else {
            report.missing_traces += 1;
            continue;
        };
        let pathologies = pathologies(&trace);
        out.push(Judged { row, trace, pathologies });
    }
    Ok(out)
}

/// SFT: the correct trajectories that pass the success filters, one
/// `{"messages": [...], "task_id", "run"}` line each.
pub fn sft(from: &Path, t: &Thresholds) -> Result<(Vec<Value>, Report), String> {
    let mut report = Report { kind: "sft".into(), ..Default::default() };
    let mut lines = Vec::new();
    for j in judged(from, &mut report)?.into_iter().filter(|j| j.row.judgement.correct) {
        if report.correct.count(&success_filters(&j.pathologies, t)) {
            lines.push(json!({"messages": chatml(&j.trace), "task_id": j.row.task_id, "run": j.row.run}));
        }
    }
    report.examples = lines.len();
    Ok((lines, report))
}

/// DPO: per task, each kept correct trajectory paired with a kept
/// incorrect one (each used once): `{"prompt": [system, first user
/// message], "chosen": [...], "rejected": [...], "task_id"}`.
pub fn dpo(from: &Path, t: &Thresholds) -> Result<(Vec<Value>, Report), String> {
    let mut report = Report { kind: "dpo".into(), incorrect: Some(FilterReport::default()), ..Default::default() };
    let mut by_task: BTreeMap<String, (Vec<Judged>, Vec<Judged>)> = BTreeMap::new();
    for j in judged(from, &mut report)? {
        let keep = if j.row.judgement.correct {
            report.correct.count(&success_filters(&j.pathologies, t))
        } else {
            let hits = failure_filters(&j.row, &j.pathologies, t);
            report.incorrect.as_mut().unwrap().count(&hits)
        };
        if keep {
            let entry = by_task.entry(j.row.task_id.clone()).or_default();
            if j.row.judgement.correct { entry.0.push(j) } else { entry.1.push(j) }
        }
    }
    let mut lines = Vec::new();
    for (task, (mut good, mut bad)) in by_task {
        good.sort_by_key(|j| j.row.run);
        bad.sort_by_key(|j| j.row.run);
        for (g, b) in good.iter().zip(&bad) {
            let (chosen, rejected) = (chatml(&g.trace), chatml(&b.trace));
            let prompt: Vec<Value> = chosen.iter().take(2).cloned().collect();
            lines.push(json!({
                "prompt": prompt,
                "chosen": chosen[prompt.len()..],
                "rejected": rejected[prompt.len().min(rejected.len())..],
                "task_id": task,
                "runs": [g.row.run, b.row.run],
            }));
        }
    }
    report.examples = lines.len();
    Ok((lines, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(meta: Value) -> Value {
        json!({"step_name": meta["type"], "metadata": meta})
    }

    #[test]
    fn pathologies_are_counted_from_events() {
        let ok = json!({"type": "tool_result", "ok": true});
        let bad = json!({"type": "tool_result", "ok": false});
        let trace = json!({"step_logs": [
            step(bad.clone()), step(bad.clone()), step(ok), step(bad.clone()), step(bad.clone()), step(bad),
            step(json!({"type": "intervention", "kind": "repeated_call"})),
            step(json!({"type": "intervention", "kind": "action_loop"})),
            step(json!({"type": "rollback", "reason": "tool-call tags that do not parse"})),
            step(json!({"type": "rollback", "reason": "a refusal"})),
        ]});
        let p = pathologies(&trace);
        assert_eq!(
            p,
            Pathologies { longest_tool_error_run: 3, repeats: 1, loops: 1, rollbacks: 2, format_violations: 1 }
        );
        let t = Thresholds::default();
        assert_eq!(success_filters(&p, &t), vec!["tool_error_run", "action_loop"]);
        let lenient = Thresholds { max_tool_error_run: 4, max_loops: 2, ..t };
        assert!(success_filters(&p, &lenient).is_empty());
    }
}
