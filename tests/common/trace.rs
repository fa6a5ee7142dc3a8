//! Trajectory files for the trace viewer's test and benchmark.

use serde_json::{Value, json};

/// A trajectory file of `turns` turns in Fathom's format; one tool result
/// is 100,000 characters long and ends in the runtime's cut marker.
pub fn long_trace(turns: u64) -> Value {
    let mut steps = Vec::new();
    let ev = |v: Value| json!({"step_name": v["type"], "message": "", "timestamp": "2026-12-02T10:00:00Z", "info_level": "info", "metadata": v});
    for turn in 1..=turns {
        let output = if turn == 300 {
            let marker =
                "\n... [output truncated: 4096 more bytes cut at the 100000-byte limit (sandbox.output_bytes)]";
            format!("{}{marker}", "x".repeat(100_000 - marker.len()))
        } else {
            format!(
                "{}\n",
                (0..40).map(|i| format!("line {i} of the result of turn {turn}")).collect::<Vec<_>>().join("\n")
            )
        };
        steps.push(ev(json!({"type": "turn", "turn": turn})));
        steps.push(ev(json!({"type": "model_call", "turn": turn, "ms": 812.0, "prompt_tokens": 1000 + turn * 90, "completion_tokens": 120})));
        steps.push(ev(
            json!({"type": "assistant", "turn": turn, "content": format!("I will look at part {turn}. ").repeat(40)}),
        ));
        steps.push(ev(json!({"type": "tool_call", "turn": turn, "server": "tool-python", "tool": "run_python_code",
            "arguments": {"code_block": format!("print(part({turn}))"), "sandbox_id": "default"}})));
        steps.push(ev(json!({"type": "tool_result", "turn": turn, "server": "tool-python", "tool": "run_python_code",
            "ok": turn % 50 != 0, "output": output, "wall_ms": 3.2})));
        if turn % 100 == 0 {
            steps.push(ev(json!({"type": "intervention", "turn": turn, "kind": "repeated_call", "message": "You made this call before."})));
        }
    }
    steps.push(ev(
        json!({"type": "limit", "key": "agent.max_turns", "message": "the task reached agent.max_turns (600)"}),
    ));
    steps.push(ev(json!({"type": "answer", "answer": "42"})));
    json!({
        "status": "success", "task_id": "long-task", "start_time": "2026-12-02T10:00:00Z", "end_time": "2026-12-02T11:00:00Z",
        "input": {"task_description": "A long research task", "task_file_name": ""},
        "ground_truth": "42", "final_boxed_answer": "42", "error": null,
        "main_agent_message_history": {"system_prompt": "", "message_history": []},
        "step_logs": steps, "limits": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "policy": "default",
    })
}
