//! The research agent: the MiroThinker text protocol (`protocol`), the loop
//! that drives it and the model client `crate::llm` (`run`), token counts
//! for its context guard (`tokens`) and the task's record and trace
//! (`record`).

pub mod protocol;
pub mod record;
pub mod run;
pub mod tokens;
