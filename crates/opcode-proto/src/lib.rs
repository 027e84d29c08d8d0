//! Wire types of opcode-web, shared by the server, the CLI and (in prose, `docs/protocol.md`) the browser.
//!
//! Three vocabularies live here and nothing else:
//! - [`request`]: what a client asks for (`execute` / `continue` / `resume`), validated strictly;
//! - [`event`]: what the server sends back, every session event numbered by `seq`;
//! - [`stream_json`] and [`envelope`]: Claude Code's `--output-format stream-json` lines, as a lossless
//!   typed view (for tools) and as a cheap envelope read (for the hot path).
//!
//! **Architecture invariant:** this crate does no I/O and depends on no async runtime, so every layer (and
//! any other tool) can use it, and everything in it can be tested with plain values.
#![warn(missing_docs)]

pub mod cluster;
pub mod control;
pub mod envelope;
pub mod event;
pub mod image;
pub mod modes;
pub mod request;
pub mod stream_json;

pub use envelope::{read_envelope, Envelope};
pub use event::{CompletionStatus, EventKind, Seq, SessionEvent};
pub use image::{ImageAttachment, ImageError};
pub use modes::{AnsweredBy, PermissionMode};
pub use request::{ClaudeRequest, CommandType, RequestError, RunOptions, ValidRequest};
