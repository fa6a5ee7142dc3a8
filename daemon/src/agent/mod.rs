//! The research agent. For now: the MiroThinker text protocol (`protocol`),
//! which the agent loop (issue 5) will drive.

pub mod llm;
pub mod protocol;
pub mod record;
pub mod run;
