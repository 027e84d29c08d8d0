//! Terminals: shells on pseudo-terminals in a project's folder, identified by id, that outlive the
//! connections showing them.
//!
//! Each terminal is a shell spawned by `opcode-proc` ([`ProcessSupervisor::spawn_pty`]), so its whole
//! session dies with it. One pump task per terminal reads the PTY, keeps a bounded screen state (the
//! `vt100` crate: the visible screen, modes, and [`TerminalsConfig::scrollback_lines`] of scrollback) and
//! hands every chunk to the viewers attached at that moment.
//!
//! Guarantees:
//! - [`Terminals::attach`] returns the screen as it is (escape codes that redraw it, after the scrollback)
//!   and then every byte written after it, in order: none lost, none doubled;
//! - memory is bounded: each viewer queues at most [`TerminalsConfig::viewer_buffer`] chunks; a viewer
//!   that is full slows the program (the pump waits, the PTY fills, the program blocks in its write)
//!   and one that stays full for [`TerminalsConfig::slow_viewer_timeout`] is dropped (its stream ends; it
//!   may attach again and gets the screen);
//! - [`Terminals::close`], a shell that exits, and [`Terminals::shutdown`] each end with the terminal's
//!   whole session killed and reaped; dropping every [`Terminals`] clone kills them too.
//! - at most [`TerminalsConfig::max_terminals`] terminals exist at once.

mod error;
mod screen;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use opcode_proc::{ProcessControl, ProcessSpec, ProcessSupervisor, PtyExit, PtyInput, PtyOutput, PtySize};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use error::TerminalError;
use screen::Screen;

/// The largest window accepted, in rows and in columns.
pub const MAX_SIZE: u16 = 1000;

/// How terminals are started and bounded.
#[derive(Debug, Clone)]
pub struct TerminalsConfig {
    /// The shell; `$SHELL` of the server, or `/bin/sh`, when `None`.
    pub shell: Option<PathBuf>,
    /// Its arguments (`-l`: a login shell, which reads the user's profile).
    pub shell_args: Vec<OsString>,
    /// Variables set for the shell on top of the server's (after `TERM`, `COLORTERM`).
    pub env: Vec<(OsString, OsString)>,
    /// Terminals that may exist at once.
    pub max_terminals: usize,
    /// Lines of scrollback kept per terminal (and sent on attach).
    pub scrollback_lines: usize,
    /// Output chunks (of at most 64 KiB) queued per viewer.
    pub viewer_buffer: usize,
    /// A viewer that takes nothing for this long is dropped.
    pub slow_viewer_timeout: Duration,
}

impl Default for TerminalsConfig {
    fn default() -> Self {
        TerminalsConfig {
            shell: None,
            shell_args: vec!["-l".into()],
            env: Vec::new(),
            max_terminals: 8,
            scrollback_lines: 1000,
            viewer_buffer: 16,
            slow_viewer_timeout: Duration::from_secs(10),
        }
    }
}

/// What a list of terminals shows.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TerminalInfo {
    /// The terminal's id (32 hex characters).
    pub id: String,
    /// The folder its shell started in.
    pub project_path: PathBuf,
    /// The shell.
    pub shell: PathBuf,
    /// The shell's pid (its session and group id); never sent to a browser.
    #[serde(skip_serializing)]
    pub pid: u32,
    /// Window rows.
    pub rows: u16,
    /// Window columns.
    pub cols: u16,
    /// Viewers attached now.
    pub viewers: usize,
    /// When it was started, in seconds since the Unix epoch.
    pub created_at: u64,
}

/// The terminals of a server; cheap to clone. See the crate documentation.
#[derive(Debug, Clone)]
pub struct Terminals {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    supervisor: Arc<dyn ProcessSupervisor>,
    config: TerminalsConfig,
    terminals: Mutex<HashMap<String, Arc<Terminal>>>,
    pumps: TaskTracker,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // the last clone is gone: nobody can close these any more
        let terminals = self.terminals.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        for terminal in terminals.values() {
            terminal.stop();
        }
    }
}

#[derive(Debug)]
struct Terminal {
    id: String,
    project_path: PathBuf,
    shell: PathBuf,
    pid: u32,
    created_at: u64,
    control: ProcessControl,
    input: tokio::sync::Mutex<PtyInput>,
    screen: Mutex<Screen>,
    /// A viewer that takes nothing for this long is dropped.
    slow_viewer_timeout: Duration,
    /// Cancelled by close and shutdown: the pump stops waiting for slow viewers.
    closing: CancellationToken,
    /// Cancelled once the pump has ended: the session is dead and reaped.
    finished: CancellationToken,
}

impl Terminal {
    fn stop(&self) {
        self.closing.cancel();
        self.control.kill();
    }

    fn info(&self) -> TerminalInfo {
        let screen = lock(&self.screen);
        TerminalInfo {
            id: self.id.clone(),
            project_path: self.project_path.clone(),
            shell: self.shell.clone(),
            pid: self.pid,
            rows: screen.size().rows,
            cols: screen.size().cols,
            viewers: screen.viewers(),
            created_at: self.created_at,
        }
    }
}

/// A viewer of a terminal: first [`Viewer::snapshot`], then [`Viewer::next_output`] until it ends.
#[derive(Debug)]
pub struct Viewer {
    snapshot: Bytes,
    output: mpsc::Receiver<Bytes>,
}

impl Viewer {
    /// Escape codes that draw the terminal as it was when this viewer attached (reset, scrollback,
    /// screen, cursor, modes), for a fresh terminal emulator.
    pub fn snapshot(&self) -> Bytes {
        self.snapshot.clone()
    }

    /// The next bytes the terminal wrote; `None` when the terminal has ended or this viewer was too slow
    /// (attach again for the screen).
    pub async fn next_output(&mut self) -> Option<Bytes> {
        self.output.recv().await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn check_size(size: PtySize) -> Result<PtySize, TerminalError> {
    if size.rows == 0 || size.cols == 0 || size.rows > MAX_SIZE || size.cols > MAX_SIZE {
        return Err(TerminalError::BadSize { rows: size.rows, cols: size.cols });
    }
    Ok(size)
}

impl Terminals {
    /// No terminals yet; shells are spawned through `supervisor`.
    pub fn new(supervisor: Arc<dyn ProcessSupervisor>, config: TerminalsConfig) -> Self {
        Terminals {
            inner: Arc::new(Inner { supervisor, config, terminals: Mutex::default(), pumps: TaskTracker::new() }),
        }
    }

    fn shell(&self) -> PathBuf {
        self.inner
            .config
            .shell
            .clone()
            .or_else(|| std::env::var_os("SHELL").filter(|s| !s.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/bin/sh"))
    }

    /// Starts a shell in `project` (an existing folder the caller has vetted) on a window of `size`.
    #[tracing::instrument(skip(self), fields(project = %project.display()))]
    pub async fn create(&self, project: &Path, size: PtySize) -> Result<TerminalInfo, TerminalError> {
        let size = check_size(size)?;
        let max = self.inner.config.max_terminals;
        if lock(&self.inner.terminals).len() >= max {
            return Err(TerminalError::TooMany(max));
        }
        let shell = self.shell();
        let mut spec = ProcessSpec::new(&shell)
            .args(self.inner.config.shell_args.iter().cloned())
            .cwd(project)
            .env("TERM", "xterm-256color")
            .env("COLORTERM", "truecolor")
            .env("SHELL", &shell)
            .env("PWD", project);
        // the server's own settings (its token above all) are not the shell's business
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("OPCODE_")) {
                spec = spec.env_remove(key);
            }
        }
        for (key, value) in &self.inner.config.env {
            spec = spec.env(key, value);
        }
        let handle = self.inner.supervisor.spawn_pty(spec, size).await?;
        let pid = handle.pid();
        let (control, output, input, exit) = handle.into_parts();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let terminal = Arc::new(Terminal {
            id: id.clone(),
            project_path: project.to_path_buf(),
            shell,
            pid,
            created_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            control,
            input: tokio::sync::Mutex::new(input),
            screen: Mutex::new(Screen::new(size, self.inner.config.scrollback_lines)),
            slow_viewer_timeout: self.inner.config.slow_viewer_timeout,
            closing: CancellationToken::new(),
            finished: CancellationToken::new(),
        });
        {
            let mut terminals = lock(&self.inner.terminals);
            if terminals.len() >= max {
                drop(terminals);
                terminal.stop();
                return Err(TerminalError::TooMany(max));
            }
            terminals.insert(id.clone(), terminal.clone());
        }
        let pump = pump(Arc::downgrade(&self.inner), terminal.clone(), output, exit);
        let span = tracing::info_span!("terminal", id = %id, pid);
        self.inner.pumps.spawn(tracing::Instrument::instrument(pump, span));
        tracing::info!(id = %id, pid, "terminal started");
        Ok(terminal.info())
    }

    fn get(&self, id: &str) -> Result<Arc<Terminal>, TerminalError> {
        lock(&self.inner.terminals).get(id).cloned().ok_or_else(|| TerminalError::NotFound(id.to_owned()))
    }

    /// The terminals, oldest first; only those started in `project` when it is given.
    pub fn list(&self, project: Option<&Path>) -> Vec<TerminalInfo> {
        let terminals: Vec<_> = lock(&self.inner.terminals).values().cloned().collect();
        let mut infos: Vec<_> =
            terminals.iter().filter(|t| project.is_none_or(|p| t.project_path == p)).map(|t| t.info()).collect();
        infos.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        infos
    }

    /// One terminal.
    pub fn info(&self, id: &str) -> Result<TerminalInfo, TerminalError> {
        Ok(self.get(id)?.info())
    }

    /// Attaches a viewer: the screen now, then what follows.
    pub fn attach(&self, id: &str) -> Result<Viewer, TerminalError> {
        let terminal = self.get(id)?;
        let (tx, rx) = mpsc::channel(self.inner.config.viewer_buffer.max(1));
        let snapshot = lock(&terminal.screen).attach(tx);
        Ok(Viewer { snapshot, output: rx })
    }

    /// Types `bytes` into the terminal (waits while the program does not read its input).
    pub async fn input(&self, id: &str, bytes: &[u8]) -> Result<(), TerminalError> {
        let terminal = self.get(id)?;
        terminal.input.lock().await.write(bytes).await?;
        Ok(())
    }

    /// Sets the window size (the program gets SIGWINCH) and that of the kept screen.
    pub async fn resize(&self, id: &str, size: PtySize) -> Result<(), TerminalError> {
        let size = check_size(size)?;
        let terminal = self.get(id)?;
        let input = terminal.input.lock().await;
        lock(&terminal.screen).resize(size);
        input.resize(size)?;
        Ok(())
    }

    /// Kills the terminal's whole session and returns once it is reaped and the terminal is gone.
    pub async fn close(&self, id: &str) -> Result<(), TerminalError> {
        let terminal = self.get(id)?;
        terminal.stop();
        terminal.finished.cancelled().await;
        Ok(())
    }

    /// Kills every terminal and waits until each session is reaped. Terminals created afterwards are
    /// not affected.
    pub async fn shutdown(&self) {
        let terminals: Vec<_> = lock(&self.inner.terminals).values().cloned().collect();
        for terminal in &terminals {
            terminal.stop();
        }
        for terminal in terminals {
            terminal.finished.cancelled().await;
        }
    }
}

/// How long output may go on after the shell exited (a process that left the session still holds the
/// terminal): then the pump stops reading.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Reads the terminal until it ends, keeps the screen, feeds the viewers; then removes the terminal.
async fn pump(terminals: std::sync::Weak<Inner>, terminal: Arc<Terminal>, mut output: PtyOutput, mut exit: PtyExit) {
    let mut status = None;
    let mut drain_until = None;
    loop {
        let chunk = tokio::select! {
            chunk = output.read_chunk() => chunk,
            s = exit.wait(), if status.is_none() => {
                status = Some(s);
                drain_until = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
                continue;
            }
            () = tokio::time::sleep_until(drain_until.unwrap_or_else(tokio::time::Instant::now)), if drain_until.is_some() => None,
        };
        let Some(chunk) = chunk else { break };
        let viewers = lock(&terminal.screen).feed(&chunk);
        let mut gone = Vec::new();
        for viewer in viewers {
            if !deliver(&viewer, chunk.clone(), &terminal).await {
                gone.push(viewer);
            }
        }
        if !gone.is_empty() {
            lock(&terminal.screen).detach(&gone);
        }
    }
    let status = match status {
        Some(status) => status,
        None => exit.wait().await,
    };
    tracing::info!(%status, "terminal ended");
    // gone from the list before its viewers end: one that sees its end finds it gone
    if let Some(inner) = terminals.upgrade() {
        lock(&inner.terminals).remove(&terminal.id);
    }
    lock(&terminal.screen).end();
    terminal.finished.cancel();
}

/// Hands `chunk` to a viewer, waiting while its queue is full; false when it is gone or too slow.
async fn deliver(viewer: &mpsc::Sender<Bytes>, chunk: Bytes, terminal: &Terminal) -> bool {
    let chunk = match viewer.try_send(chunk) {
        Ok(()) => return true,
        Err(mpsc::error::TrySendError::Closed(_)) => return false,
        Err(mpsc::error::TrySendError::Full(chunk)) => chunk,
    };
    tokio::select! {
        sent = tokio::time::timeout(terminal.slow_viewer_timeout, viewer.send(chunk)) => match sent {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::info!("a viewer took nothing for too long: dropped");
                false
            }
        },
        () = terminal.closing.cancelled() => false,
    }
}
