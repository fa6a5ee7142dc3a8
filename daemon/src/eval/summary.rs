//! The figures of an evaluation: accuracy per run, mean ± standard
//! deviation across runs, pass@k, averages and failures by cause.

use std::collections::BTreeMap;

use serde::Serialize;

use super::RunRow;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub tasks: usize,
    /// Runs asked for per task, and runs finished in all.
    pub runs_per_task: u32,
    pub runs_done: usize,
    /// Accuracy of run 1, 2, ... over the tasks that run finished for.
    pub accuracy_per_run: Vec<f64>,
    pub accuracy_mean: f64,
    /// Population standard deviation across runs (numpy's default, as the
    /// MiroThinker harness reports it).
    pub accuracy_std: f64,
    /// `pass@k` for every k ≤ runs: the unbiased estimator over the tasks
    /// with at least k runs finished.
    pub pass_at_k: BTreeMap<String, f64>,
    pub avg_turns: f64,
    pub avg_tool_calls: f64,
    pub avg_prompt_tokens: f64,
    pub avg_completion_tokens: f64,
    pub avg_wall_secs: f64,
    /// Runs judged incorrect, by why: `wrong_answer`, `no_boxed_answer`,
    /// `limit:<policy key>`, `model_error`, `cancelled`, `judge_error`, ...
    pub failures: BTreeMap<String, usize>,
    /// How the runs were judged: `exact`, `judge`, `none`, `judge_error`.
    pub judged_by: BTreeMap<String, usize>,
}

/// The unbiased pass@k of one task with `n` runs, `c` of them correct:
/// `1 - C(n-c, k) / C(n, k)` (Chen et al., 2021), as a stable product.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    assert!(k >= 1 && k <= n && c <= n);
    if n - c < k {
        return 1.0;
    }
    1.0 - ((n - c + 1)..=n).map(|i| 1.0 - k as f64 / i as f64).product::<f64>()
}

pub fn summarise(rows: &[RunRow], tasks: usize, runs: u32) -> Summary {
    let mut per_run: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut per_task: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut failures = BTreeMap::new();
    let mut judged_by = BTreeMap::new();
    for r in rows {
        let e = per_run.entry(r.run).or_default();
        e.0 += 1;
        e.1 += usize::from(r.judgement.correct);
        let t = per_task.entry(r.task_id.as_str()).or_default();
        t.0 += 1;
        t.1 += u64::from(r.judgement.correct);
        *judged_by.entry(r.judgement.method.clone()).or_default() += 1;
        if !r.judgement.correct {
            *failures.entry(r.cause.clone().unwrap_or_else(|| "wrong_answer".into())).or_default() += 1;
        }
    }
    let accuracy_per_run: Vec<f64> =
        (1..=runs).filter_map(|r| per_run.get(&r)).map(|(n, c)| *c as f64 / *n as f64).collect();
    let (mean, std) = mean_std(&accuracy_per_run);
    let mut pass = BTreeMap::new();
    for k in 1..=u64::from(runs) {
        let eligible: Vec<f64> =
            per_task.values().filter(|(n, _)| *n >= k).map(|(n, c)| pass_at_k(*n, *c, k)).collect();
        if !eligible.is_empty() {
            pass.insert(format!("pass@{k}"), eligible.iter().sum::<f64>() / eligible.len() as f64);
        }
    }
    let avg = |f: &dyn Fn(&RunRow) -> f64| {
        if rows.is_empty() { 0.0 } else { rows.iter().map(f).sum::<f64>() / rows.len() as f64 }
    };
    Summary {
        tasks,
        runs_per_task: runs,
        runs_done: rows.len(),
        accuracy_per_run,
        accuracy_mean: mean,
        accuracy_std: std,
        pass_at_k: pass,
        avg_turns: avg(&|r| r.turns as f64),
        avg_tool_calls: avg(&|r| r.tool_calls as f64),
        avg_prompt_tokens: avg(&|r| r.usage.prompt_tokens as f64),
        avg_completion_tokens: avg(&|r| r.usage.completion_tokens as f64),
        avg_wall_secs: avg(&|r| r.wall_secs),
        failures,
        judged_by,
    }
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
    (mean, var.sqrt())
}

impl Summary {
    /// The summary as the terminal shows it.
    pub fn table(&self) -> String {
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("{k:<22} {v}\n"));
        row("tasks", format!("{} × {} runs ({} finished)", self.tasks, self.runs_per_task, self.runs_done));
        let per_run: Vec<String> = self.accuracy_per_run.iter().map(|a| pct(*a)).collect();
        row("accuracy per run", per_run.join("  "));
        row("accuracy", format!("{} ± {}", pct(self.accuracy_mean), pct(self.accuracy_std)));
        for (k, v) in &self.pass_at_k {
            row(k, pct(*v));
        }
        row("avg turns", format!("{:.1}", self.avg_turns));
        row("avg tool calls", format!("{:.1}", self.avg_tool_calls));
        row(
            "avg tokens",
            format!("{:.0} prompt, {:.0} completion", self.avg_prompt_tokens, self.avg_completion_tokens),
        );
        row("avg wall time", format!("{:.1} s", self.avg_wall_secs));
        let judged: Vec<String> = self.judged_by.iter().map(|(k, v)| format!("{k} {v}")).collect();
        row("judged by", judged.join(", "));
        let failed: Vec<String> = self.failures.iter().map(|(k, v)| format!("{k} {v}")).collect();
        row("failures", if failed.is_empty() { "none".into() } else { failed.join(", ") });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        // n = 3: C(3-c, k) / C(3, k) by hand.
        assert_eq!(pass_at_k(3, 0, 1), 0.0);
        assert!((pass_at_k(3, 1, 1) - 1.0 / 3.0).abs() < 1e-12);
        assert!((pass_at_k(3, 1, 2) - (1.0 - 1.0 / 3.0)).abs() < 1e-12); // 1 - C(2,2)/C(3,2)
        assert_eq!(pass_at_k(3, 1, 3), 1.0);
        assert!((pass_at_k(3, 2, 1) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(pass_at_k(3, 2, 2), 1.0);
        assert!((pass_at_k(10, 3, 5) - (1.0 - 21.0 / 252.0)).abs() < 1e-12); // C(7,5)=21, C(10,5)=252
    }

    #[test]
    fn mean_and_population_std() {
        let (m, s) = mean_std(&[0.4, 0.6, 0.8]);
        assert!((m - 0.6).abs() < 1e-12);
        assert!((s - (0.08f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
