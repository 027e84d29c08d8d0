//! The subjects replicas and workers talk on (request and reply, outside the events stream).

/// Starts: every worker listens in one queue group, so each start reaches one worker.
pub(crate) const START: &str = "opcode.ctl.start";

/// The queue group of the workers on [`START`].
pub(crate) const WORKERS_QUEUE: &str = "opcode-workers";

/// Commands for the runs of worker `worker`.
pub(crate) fn worker(worker: &str) -> String {
    format!("opcode.ctl.worker.{worker}")
}

/// Notable events (permission requests, ends of turns and runs) of every worker's runs, for the replicas'
/// notifiers and turn trackers: announced at most once, never stored.
pub(crate) const NOTABLE: &str = "opcode.notable";
