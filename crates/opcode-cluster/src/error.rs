//! [`ClusterError`]: what can stop a worker or a replica's client, with messages an operator can act on.

use opcode_bus::BusError;

/// Errors of the cluster layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The bus failed (NATS unreachable, a stream refused, …); its message says what to check.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// No worker answered a start within the bus's request timeout.
    #[error(
        "no opcode-worker answered ({0}): start one (opcode-worker --nats-url …) or check that the workers reach NATS"
    )]
    NoWorker(String),
    /// A worker answered with something that is not a reply of this version.
    #[error(
        "a worker answered with a message this replica cannot read ({0}): are workers and replicas the same version?"
    )]
    BadReply(String),
}
