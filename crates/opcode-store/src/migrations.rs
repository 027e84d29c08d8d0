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
