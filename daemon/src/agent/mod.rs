//! The research agent: the MiroThinker text protocol (`protocol`), the
//! model client (`llm`), the loop that drives both (`run`), token counts for
//! its context guard (`tokens`) and the task's record and trace (`record`).

pub mod llm;
pub mod protocol;
pub mod record;
pub mod run;
pub mod tokens;
