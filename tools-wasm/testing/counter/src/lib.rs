//! A stateful test component: one counter per sandbox instance.

use fathom_sdk::{JsonSchema, SandboxId, ToolError, Toolbox};
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct InSandbox {
    #[allow(dead_code)] // resolved by the host
    sandbox_id: SandboxId,
}

pub fn toolbox() -> Toolbox<u64> {
    Toolbox::stateful("counter", 0u64)
        .tool_with_state("incr", "Add one and return the count.", |n: &mut u64, _: InSandbox| {
            *n += 1;
            Ok(n.to_string())
        })
        .tool_with_state("crash", "Trap.", |_: &mut u64, _: InSandbox| -> Result<String, ToolError> {
            std::process::abort()
        })
        .tool_with_state("spin", "Loop forever.", |n: &mut u64, _: InSandbox| -> Result<String, ToolError> {
            loop {
                *n = std::hint::black_box(n.wrapping_add(0));
            }
        })
}

fathom_sdk::export!(toolbox);
