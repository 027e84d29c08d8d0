//! The kept screen of a terminal and its viewers, under one lock so that a viewer attaches between two
//! chunks: its snapshot holds every chunk before, its queue every chunk after.

use bytes::Bytes;
use opcode_proc::PtySize;
use tokio::sync::mpsc;

/// The screen state (`vt100`) and the viewers' queues.
pub(crate) struct Screen {
    parser: vt100::Parser,
    size: PtySize,
    viewers: Vec<mpsc::Sender<Bytes>>,
    ended: bool,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen").field("size", &self.size).field("viewers", &self.viewers.len()).finish()
    }
}

fn non_zero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN)
}

impl Screen {
    pub(crate) fn new(size: PtySize, scrollback: usize) -> Self {
        Screen {
            parser: vt100::Parser::new(non_zero(size.rows), non_zero(size.cols), scrollback),
            size,
            viewers: Vec::new(),
            ended: false,
        }
    }

    pub(crate) fn size(&self) -> PtySize {
        self.size
    }

    pub(crate) fn viewers(&self) -> usize {
        self.viewers.len()
    }

    /// Applies `chunk` to the screen; returns the viewers to hand it to.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Vec<mpsc::Sender<Bytes>> {
        self.parser.process(chunk);
        self.viewers.clone()
    }

    /// Adds a viewer (unless the terminal has ended: its queue then closes at once) and returns the
    /// escape codes that draw the screen as it is.
    pub(crate) fn attach(&mut self, viewer: mpsc::Sender<Bytes>) -> Bytes {
        let snapshot = self.snapshot();
        if !self.ended {
            self.viewers.push(viewer);
        }
        snapshot
    }

    /// Forgets viewers that are gone or too slow (their queues close).
    pub(crate) fn detach(&mut self, gone: &[mpsc::Sender<Bytes>]) {
        self.viewers.retain(|v| !gone.iter().any(|g| g.same_channel(v)));
    }

    pub(crate) fn resize(&mut self, size: PtySize) {
        self.size = size;
        self.parser.set_size(non_zero(size.rows), non_zero(size.cols));
    }

    /// The terminal has ended: every viewer's queue closes.
    pub(crate) fn end(&mut self) {
        self.ended = true;
        self.viewers.clear();
    }

    /// Reset, the scrollback line by line, enough newlines to push it above the screen, then the screen
    /// with its cursor and modes. On the alternate screen (a full-screen program) only the screen.
    fn snapshot(&mut self) -> Bytes {
        let mut out = String::from("\x1bc");
        let screen = self.parser.screen_mut();
        if !screen.alternate_screen() {
            screen.set_scrollback(usize::MAX);
            let history = screen.scrollback();
            let rows = usize::from(self.size.rows);
            let mut line = 0;
            while line < history {
                screen.set_scrollback(history - line);
                for row in screen.rows_formatted(0, self.size.cols).take((history - line).min(rows)) {
                    out.push_str(&row);
                    out.push_str("\x1b[m\r\n");
                }
                line += rows;
            }
            screen.set_scrollback(0);
            if history > 0 {
                out.push_str(&"\n".repeat(rows));
            }
        } else {
            out.push_str("\x1b[?1049h");
        }
        out.push_str(&self.parser.screen().state_formatted());
        Bytes::from(out)
    }
}
