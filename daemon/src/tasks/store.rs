//! The daemon's durable state: tasks, their events and their per-turn
//! checkpoints, in one SQLite database (WAL). Every write returns only once
//! it is committed, so whatever the API has acknowledged survives a crash
//! of the process.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::llm::Usage;

/// A task's lifecycle: `queued → running → succeeded | failed | cancelled`,
/// and `interrupted` when the daemon stopped under it (resumable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "queued" => Status::Queued,
            "running" => Status::Running,
            "succeeded" => Status::Succeeded,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            "interrupted" => Status::Interrupted,
            _ => return None,
        })
    }

    /// Nothing more will happen to the task unless it is resumed.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled | Status::Interrupted)
    }
}

/// One row of `tasks`.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: String,
    pub status: Status,
    pub question: String,
    /// The policy's name, for the record.
    pub policy: String,
    /// The policy as submitted: a name, or an inline object (JSON).
    pub policy_spec: Value,
    pub tool_format: String,
    /// Attachment file names (in the task's `attachments/` folder).
    pub files: Vec<String>,
    pub answer: Option<String>,
    pub turns: u64,
    pub tool_calls: u64,
    pub usage: Usage,
    pub error: Option<String>,
    /// Whether `POST /resume` may continue it (interrupted, or failed for
    /// a reason other than a limit).
    pub resumable: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl TaskRow {
    /// The task record of `interface.md`.
    pub fn record(&self) -> TaskRecord {
        TaskRecord {
            id: self.id.clone(),
            status: self.status,
            question: self.question.clone(),
            policy: self.policy.clone(),
            files: self.files.clone(),
            answer: self.answer.clone(),
            turns: self.turns,
            tool_calls: self.tool_calls,
            usage: self.usage,
            error: self.error.clone(),
            created_at: self.created_at.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
        }
    }
}

/// A task as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskRecord {
    /// `task-` and 16 hex digits.
    pub id: String,
    pub status: Status,
    pub question: String,
    /// The name of the policy it runs under (an inline policy's `name`, or `inline`).
    pub policy: String,
    /// The attachments' file names.
    pub files: Vec<String>,
    /// The final `\boxed{}` answer, once it succeeded.
    pub answer: Option<String>,
    pub turns: u64,
    pub tool_calls: u64,
    pub usage: Usage,
    pub error: Option<String>,
    /// RFC 3339 times.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// One stored event: `{seq, at, type, ...}`.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: u64,
    pub body: Value,
}

pub struct Store {
    db: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    question TEXT NOT NULL,
    policy TEXT NOT NULL,
    policy_spec TEXT NOT NULL,
    tool_format TEXT NOT NULL,
    files TEXT NOT NULL,
    answer TEXT,
    turns INTEGER NOT NULL DEFAULT 0,
    tool_calls INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    resumable INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status);
CREATE TABLE IF NOT EXISTS events (
    task_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    task_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
) WITHOUT ROWID;
";

const COLUMNS: &str = "id, status, question, policy, policy_spec, tool_format, files, answer, turns, tool_calls, \
    prompt_tokens, completion_tokens, error, resumable, created_at, started_at, finished_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRow> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    Ok(TaskRow {
        id: text(0)?,
        status: Status::parse(&text(1)?).unwrap_or(Status::Failed),
        question: text(2)?,
        policy: text(3)?,
        policy_spec: serde_json::from_str(&text(4)?).unwrap_or(Value::Null),
        tool_format: text(5)?,
        files: serde_json::from_str(&text(6)?).unwrap_or_default(),
        answer: r.get(7)?,
        turns: r.get::<_, i64>(8)? as u64,
        tool_calls: r.get::<_, i64>(9)? as u64,
        usage: Usage { prompt_tokens: r.get::<_, i64>(10)? as u64, completion_tokens: r.get::<_, i64>(11)? as u64 },
        error: r.get(12)?,
        resumable: r.get::<_, i64>(13)? != 0,
        created_at: text(14)?,
        started_at: r.get(15)?,
        finished_at: r.get(16)?,
    })
}

/// What ends a run, for [`Store::finish`].
pub struct Finish<'a> {
    pub status: Status,
    pub answer: Option<&'a str>,
    pub error: Option<&'a str>,
    pub turns: u64,
    pub tool_calls: u64,
    pub usage: Usage,
    pub resumable: bool,
    pub finished_at: &'a str,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, String> {
        let open = || -> rusqlite::Result<Connection> {
            let db = Connection::open(path)?;
            db.busy_timeout(std::time::Duration::from_secs(10))?;
            // WAL: readers never block the writer; NORMAL sync is durable
            // against a crash of the process (not of the machine's power).
            db.pragma_update(None, "journal_mode", "WAL")?;
            db.pragma_update(None, "synchronous", "NORMAL")?;
            db.execute_batch(SCHEMA)?;
            Ok(db)
        };
        let db = open().map_err(|e| format!("cannot open the task database {}: {e}", path.display()))?;
        Ok(Store { db: Mutex::new(db) })
    }

    fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, String> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&db).map_err(|e| format!("task database: {e}"))
    }

    pub fn insert(&self, t: &TaskRow) -> Result<(), String> {
        self.with(|db| {
            db.execute(
                "INSERT INTO tasks (id, status, question, policy, policy_spec, tool_format, files, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    t.id,
                    t.status.as_str(),
                    t.question,
                    t.policy,
                    t.policy_spec.to_string(),
                    t.tool_format,
                    serde_json::to_string(&t.files).unwrap(),
                    t.created_at
                ],
            )
            .map(|_| ())
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<TaskRow>, String> {
        self.with(|db| db.query_row(&format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1"), [id], row).optional())
    }

    /// Tasks newest first, optionally of one status.
    pub fn list(&self, status: Option<Status>, limit: usize) -> Result<Vec<TaskRow>, String> {
        self.with(|db| {
            let sql = format!(
                "SELECT {COLUMNS} FROM tasks WHERE (?1 IS NULL OR status = ?1) ORDER BY n DESC LIMIT {}",
                limit.min(100_000)
            );
            let mut stmt = db.prepare(&sql)?;
            let rows = stmt.query_map([status.map(Status::as_str)], row)?;
            rows.collect()
        })
    }

    /// Ids of the tasks in `status`, oldest first.
    pub fn ids_with(&self, status: Status) -> Result<Vec<String>, String> {
        self.with(|db| {
            let mut stmt = db.prepare("SELECT id FROM tasks WHERE status = ?1 ORDER BY n")?;
            let rows = stmt.query_map([status.as_str()], |r| r.get(0))?;
            rows.collect()
        })
    }

    pub fn set_status(&self, id: &str, status: Status) -> Result<(), String> {
        self.with(|db| {
            db.execute("UPDATE tasks SET status = ?2 WHERE id = ?1", params![id, status.as_str()]).map(|_| ())
        })
    }

    pub fn set_running(&self, id: &str, started_at: &str) -> Result<(), String> {
        self.with(|db| {
            db.execute(
                "UPDATE tasks SET status = 'running', error = NULL, resumable = 0, \
                 started_at = COALESCE(started_at, ?2), finished_at = NULL WHERE id = ?1",
                params![id, started_at],
            )
            .map(|_| ())
        })
    }

    /// Queue a resumable task again, atomically: `false` when it was not
    /// resumable (already resumed by a concurrent request, say).
    pub fn requeue(&self, id: &str) -> Result<bool, String> {
        self.with(|db| {
            db.execute(
                "UPDATE tasks SET status = 'queued', resumable = 0 WHERE id = ?1 AND resumable = 1 \
                 AND status IN ('interrupted', 'failed')",
                [id],
            )
            .map(|n| n == 1)
        })
    }

    pub fn finish(&self, id: &str, f: &Finish<'_>) -> Result<(), String> {
        self.with(|db| {
            db.execute(
                "UPDATE tasks SET status = ?2, answer = ?3, error = ?4, turns = ?5, tool_calls = ?6, \
                 prompt_tokens = ?7, completion_tokens = ?8, resumable = ?9, finished_at = ?10 WHERE id = ?1",
                params![
                    id,
                    f.status.as_str(),
                    f.answer,
                    f.error,
                    f.turns as i64,
                    f.tool_calls as i64,
                    f.usage.prompt_tokens as i64,
                    f.usage.completion_tokens as i64,
                    f.resumable as i64,
                    f.finished_at
                ],
            )
            .map(|_| ())
        })
    }

    /// Save the state after a completed turn, with the record's counters.
    pub fn checkpoint(&self, id: &str, state: &str, turns: u64, tool_calls: u64, usage: Usage) -> Result<(), String> {
        self.with(|db| {
            let tx = db.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO checkpoints (task_id, state) VALUES (?1, ?2) \
                 ON CONFLICT(task_id) DO UPDATE SET state = excluded.state",
                params![id, state],
            )?;
            tx.execute(
                "UPDATE tasks SET turns = ?2, tool_calls = ?3, prompt_tokens = ?4, completion_tokens = ?5 WHERE id = ?1",
                params![id, turns as i64, tool_calls as i64, usage.prompt_tokens as i64, usage.completion_tokens as i64],
            )?;
            tx.commit()
        })
    }

    pub fn last_checkpoint(&self, id: &str) -> Result<Option<String>, String> {
        self.with(|db| db.query_row("SELECT state FROM checkpoints WHERE task_id = ?1", [id], |r| r.get(0)).optional())
    }

    pub fn append_event(&self, id: &str, seq: u64, body: &Value) -> Result<(), String> {
        self.with(|db| {
            db.execute(
                "INSERT INTO events (task_id, seq, body) VALUES (?1, ?2, ?3)",
                params![id, seq as i64, body.to_string()],
            )
            .map(|_| ())
        })
    }

    /// The task's events with a sequence number above `after`, in order.
    pub fn events_after(&self, id: &str, after: u64) -> Result<Vec<StoredEvent>, String> {
        self.with(|db| {
            let mut stmt = db.prepare("SELECT seq, body FROM events WHERE task_id = ?1 AND seq > ?2 ORDER BY seq")?;
            let rows = stmt.query_map(params![id, after as i64], |r| {
                let body: String = r.get(1)?;
                Ok(StoredEvent {
                    seq: r.get::<_, i64>(0)? as u64,
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                })
            })?;
            rows.collect()
        })
    }

    pub fn last_seq(&self, id: &str) -> Result<u64, String> {
        self.with(|db| {
            db.query_row("SELECT COALESCE(MAX(seq), 0) FROM events WHERE task_id = ?1", [id], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    /// Tasks by status, for the health endpoint.
    pub fn counts(&self) -> Result<Vec<(String, u64)>, String> {
        self.with(|db| {
            let mut stmt = db.prepare("SELECT status, COUNT(*) FROM tasks GROUP BY status")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            rows.collect()
        })
    }
}
