//! The JSON shapes of agents and agent runs that clients read (documented in `docs/protocol.md`).
//!
//! An agent carries the fields of Opcode's `Agent` its browser client reads (`id`, `name`, `icon`,
//! `system_prompt`, `default_task`, `model`, `hooks`, `created_at`/`updated_at` as date strings it can
//! give to `new Date`), plus ours. A run's times are unix seconds, as in the server's other run lists.

use opcode_store::{AgentRecord, AgentRunRecord};
use serde_json::{json, Value};

use crate::service::rfc3339;

/// An agent as JSON.
pub fn agent_json(agent: &AgentRecord) -> Value {
    let d = &agent.draft;
    json!({
        "id": agent.id,
        "name": d.name,
        "icon": d.icon,
        "system_prompt": d.system_prompt,
        "default_task": d.default_task,
        "model": d.model,
        "permission_mode": d.permission_mode.map(|m| m.as_str()),
        "allowed_tools": d.allowed_tools,
        "disallowed_tools": d.disallowed_tools,
        "hooks": d.hooks,
        "created_at": rfc3339(agent.created_at),
        "updated_at": rfc3339(agent.updated_at),
    })
}

/// An agent run as JSON: `status` is `running`, `success`, `error` or `cancelled`; the figures come
/// from claude's `result` line (`null` until one came).
pub fn run_json(run: &AgentRunRecord) -> Value {
    let usage = run.usage;
    json!({
        "id": run.id,
        "agent_id": run.agent_id,
        "agent_name": run.agent_name,
        "agent_icon": run.agent_icon,
        "session_id": run.session_id,
        "project_path": run.project_path,
        "task": run.task,
        "model": run.model,
        "live": run.live,
        "status": run.status.as_str(),
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_ms": usage.map(|u| u.duration_ms),
        "input_tokens": usage.map(|u| u.input_tokens),
        "output_tokens": usage.map(|u| u.output_tokens),
        "cache_creation_tokens": usage.map(|u| u.cache_creation_tokens),
        "cache_read_tokens": usage.map(|u| u.cache_read_tokens),
        "total_tokens": usage.map(|u| u.input_tokens + u.output_tokens + u.cache_creation_tokens + u.cache_read_tokens),
        "cost_usd": usage.map(|u| u.cost_usd),
    })
}
