//! The schema, as an append-only list of migrations (SQLite's `user_version` says which ran). Never edit
//! a migration that has shipped: add the next one.

use rusqlite_migration::{Migrations, M};

/// Every migration, oldest first.
pub(crate) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        // 1: runs the server remembers across restarts
        M::up(
            "CREATE TABLE runs (
                session_id      TEXT PRIMARY KEY NOT NULL,
                instance        TEXT NOT NULL,
                project_path    TEXT NOT NULL,
                command_type    TEXT NOT NULL,
                model           TEXT,
                live            INTEGER NOT NULL,
                permission_mode TEXT,
                started_at      INTEGER NOT NULL,
                finished_at     INTEGER,
                state           TEXT NOT NULL,
                events          INTEGER NOT NULL DEFAULT 0,
                unexpected_exit INTEGER NOT NULL DEFAULT 0
            ) STRICT;
            CREATE INDEX runs_by_instance ON runs(instance);",
        ),
        // 2: Web Push subscriptions, one per device (a client-generated id); an endpoint belongs to one device
        M::up(
            "CREATE TABLE push_subscriptions (
                device_id  TEXT PRIMARY KEY NOT NULL,
                endpoint   TEXT NOT NULL UNIQUE,
                p256dh     TEXT NOT NULL,
                auth       TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            ) STRICT;",
        ),
        // per-turn snapshots of a session's working tree (git tree ids), for "what did this turn change"
        M::up(
            "CREATE TABLE turn_snapshots (
                session_id   TEXT NOT NULL,
                turn         INTEGER NOT NULL,
                project_path TEXT NOT NULL,
                before_tree  TEXT NOT NULL,
                after_tree   TEXT,
                started_at   INTEGER NOT NULL,
                finished_at  INTEGER,
                PRIMARY KEY (session_id, turn)
            ) STRICT;",
        ),
        // paired devices: each browser's own credential, stored only as its SHA-256
        M::up(
            "CREATE TABLE devices (
                id             TEXT PRIMARY KEY NOT NULL,
                secret_hash    TEXT NOT NULL UNIQUE,
                name           TEXT NOT NULL,
                user_agent     TEXT NOT NULL,
                paired_at      INTEGER NOT NULL,
                paired_addr    TEXT NOT NULL,
                last_seen_at   INTEGER NOT NULL,
                last_seen_addr TEXT NOT NULL
            ) STRICT;",
        ),
        // the audit trail: who did what to which session, when, from where (never a prompt)
        M::up(
            "CREATE TABLE audit (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                at         INTEGER NOT NULL,
                actor_kind TEXT NOT NULL,
                actor_id   TEXT,
                actor_name TEXT NOT NULL,
                action     TEXT NOT NULL,
                target     TEXT NOT NULL,
                addr       TEXT NOT NULL
            ) STRICT;",
        ),
        // usage index: a rebuildable index of Claude's transcripts (per file: how far it was read; per
        // assistant message: its tokens and cost), with a daily rollup the dashboard reads
        M::up(
            "CREATE TABLE usage_files (
                id            INTEGER PRIMARY KEY,
                path          TEXT NOT NULL UNIQUE,
                project_id    TEXT NOT NULL,
                project_path  TEXT,
                session_id    TEXT NOT NULL,
                size          INTEGER NOT NULL,
                mtime_ns      INTEGER NOT NULL,
                inode         INTEGER NOT NULL,
                indexed_bytes INTEGER NOT NULL,
                head          BLOB NOT NULL,
                tail          BLOB NOT NULL,
                cli_cost      REAL
            ) STRICT;
            CREATE TABLE usage_messages (
                file_id               INTEGER NOT NULL,
                message_id            TEXT NOT NULL,
                request_id            TEXT NOT NULL,
                session_id            TEXT NOT NULL,
                model                 TEXT NOT NULL,
                ts                    INTEGER NOT NULL,
                day                   TEXT NOT NULL,
                input_tokens          INTEGER NOT NULL,
                output_tokens         INTEGER NOT NULL,
                cache_creation_tokens INTEGER NOT NULL,
                cache_read_tokens     INTEGER NOT NULL,
                cost                  REAL NOT NULL,
                counted               INTEGER NOT NULL,
                PRIMARY KEY (file_id, message_id, request_id)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX usage_messages_by_key ON usage_messages(message_id, request_id);
            CREATE INDEX usage_messages_by_session ON usage_messages(session_id);
            CREATE TABLE usage_dirty (session_id TEXT PRIMARY KEY NOT NULL) STRICT, WITHOUT ROWID;
            CREATE TABLE usage_daily (
                day                   TEXT NOT NULL,
                session_id            TEXT NOT NULL,
                model                 TEXT NOT NULL,
                project_id            TEXT NOT NULL,
                messages              INTEGER NOT NULL,
                input_tokens          INTEGER NOT NULL,
                output_tokens         INTEGER NOT NULL,
                cache_creation_tokens INTEGER NOT NULL,
                cache_read_tokens     INTEGER NOT NULL,
                cost                  REAL NOT NULL,
                first_ts              INTEGER NOT NULL,
                last_ts               INTEGER NOT NULL,
                PRIMARY KEY (day, session_id, model, project_id)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX usage_daily_by_session ON usage_daily(session_id);",
        ),
        // agents (Opcode's CC Agents) and their runs; a run outlives its agent (agent_id set to NULL)
        M::up(
            "CREATE TABLE agents (
                id               INTEGER PRIMARY KEY AUTOINCREMENT,
                name             TEXT NOT NULL,
                icon             TEXT NOT NULL,
                system_prompt    TEXT NOT NULL,
                default_task     TEXT,
                model            TEXT NOT NULL,
                permission_mode  TEXT,
                allowed_tools    TEXT NOT NULL DEFAULT '',
                disallowed_tools TEXT NOT NULL DEFAULT '',
                hooks            TEXT,
                created_at       INTEGER NOT NULL,
                updated_at       INTEGER NOT NULL
            ) STRICT;
            CREATE TABLE agent_runs (
                id                    INTEGER PRIMARY KEY AUTOINCREMENT,
                agent_id              INTEGER,
                agent_name            TEXT NOT NULL,
                agent_icon            TEXT NOT NULL,
                session_id            TEXT NOT NULL,
                project_path          TEXT NOT NULL,
                task                  TEXT NOT NULL,
                model                 TEXT NOT NULL,
                live                  INTEGER NOT NULL,
                status                TEXT NOT NULL,
                started_at            INTEGER NOT NULL,
                ended_at              INTEGER,
                duration_ms           INTEGER,
                input_tokens          INTEGER,
                output_tokens         INTEGER,
                cache_creation_tokens INTEGER,
                cache_read_tokens     INTEGER,
                cost_usd              REAL
            ) STRICT;
            CREATE INDEX agent_runs_by_agent ON agent_runs(agent_id, started_at);
            CREATE INDEX agent_runs_by_status ON agent_runs(status);",
        ),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
