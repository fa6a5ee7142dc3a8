//! Summary-model capability: a lightweight model that reads a long text and
//! extracts what a task needs (`scrape_and_extract_info`), reached through
//! the `summary-model` import. Declared by the operator's `[summary_llm]`
//! (else the main model) and granted per server by `tools.summary_model`;
//! the host holds the endpoint and key, so a component only ever sends a
//! prompt. Every request is bounded by the call's deadline, and its tokens
//! are counted into the call's outcome, hence into the task's usage.

use std::sync::Arc;
use std::time::Instant;

use super::{Capability, Grant, HostState};
use crate::llm::{ChatRequest, LlmClient, LlmConfig, LlmError, Message, Usage};
use crate::policy::Policy;
use crate::wit::fathom::tool::summary_model::{self, Completion, SummaryError};

/// The most tokens one extraction may ask for (the protocol's 8192).
pub const MAX_TOKENS: u32 = 8192;

/// The summary model of one task or session.
pub struct SummaryModel {
    client: LlmClient,
    /// Sent as `x-upstream-session-id`, as the main model's requests are.
    session_id: String,
}

impl SummaryModel {
    pub fn new(cfg: LlmConfig, session_id: impl Into<String>) -> Result<Self, String> {
        Ok(SummaryModel { client: LlmClient::new(cfg)?, session_id: session_id.into() })
    }
}

/// What an instance has of the summary model: the model, or why not.
pub enum Access {
    Granted(Arc<SummaryModel>),
    Refused(&'static str),
}

impl Default for Access {
    fn default() -> Self {
        Access::Refused(
            "this tool has no summary model: the task's policy does not grant it to this tool's server (tools.summary_model)",
        )
    }
}

pub struct Summary;

impl Capability for Summary {
    fn prepare(&self, policy: &Policy, grant: &mut Grant<'_>) -> wasmtime::Result<()> {
        if !policy.grants_summary_model(grant.server) {
            return Ok(());
        }
        *grant.summary = match &grant.extras.summary {
            Some(model) => Access::Granted(model.clone()),
            None => Access::Refused(
                "no summary model is configured: the daemon's operator sets FATHOM_SUMMARY_LLM_BASE_URL (or FATHOM_LLM_BASE_URL) to an OpenAI-compatible endpoint",
            ),
        };
        Ok(())
    }
}

impl summary_model::Host for HostState {
    async fn complete(&mut self, prompt: String, max_tokens: u32) -> Result<Completion, SummaryError> {
        let model = match &self.summary {
            Access::Granted(m) => m.clone(),
            Access::Refused(why) => return Err(SummaryError::Failed((*why).into())),
        };
        let request = ChatRequest {
            messages: vec![Message::new("user", prompt)],
            temperature: 1.0,
            top_p: 1.0,
            max_tokens: u64::from(max_tokens.clamp(1, MAX_TOKENS)),
            repetition_penalty: None,
            session_id: model.session_id.clone(),
            tools: None,
            tool_choice: None,
        };
        let left = self.meters.deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let reply = match left {
            Some(left) => tokio::time::timeout(left, model.client.chat(&request)).await.map_err(|_| {
                SummaryError::Failed(
                    "the summary model did not answer before the call's deadline (sandbox.call_timeout_secs)".into(),
                )
            })?,
            None => model.client.chat(&request).await,
        };
        let reply = reply.map_err(|e| match e {
            LlmError::ContextLength(m) => SummaryError::ContextOverflow(m),
            other => SummaryError::Failed(format!("the summary model failed: {other}")),
        })?;
        self.model_usage.prompt_tokens += reply.usage.prompt_tokens;
        self.model_usage.completion_tokens += reply.usage.completion_tokens;
        let finish_reason = if reply.repetitive { "repetitive".to_owned() } else { reply.finish_reason };
        Ok(Completion {
            text: reply.content,
            model: model.client.config().model.clone(),
            prompt_tokens: reply.usage.prompt_tokens,
            completion_tokens: reply.usage.completion_tokens,
            finish_reason,
        })
    }
}

impl HostState {
    /// The model tokens the instance's host imports used since the last
    /// call, reset.
    pub fn take_model_usage(&mut self) -> Usage {
        std::mem::take(&mut self.model_usage)
    }
}
