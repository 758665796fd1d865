//! The job's stdout and stderr, as lines, delivered to a [`LogSink`] while the job runs.

use tokio::sync::mpsc;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line the job wrote (without its newline; invalid UTF-8 is replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Where it was written.
    pub stream: LogStream,
    /// The text.
    pub text: String,
}

/// Receives log lines as they come.
pub trait LogSink: Send {
    /// Called once per line, in the order the daemon delivers them.
    fn line(&mut self, line: LogLine);
}

impl<F: FnMut(LogLine) + Send> LogSink for F {
    fn line(&mut self, line: LogLine) {
        self(line)
    }
}

impl LogSink for mpsc::UnboundedSender<LogLine> {
    fn line(&mut self, line: LogLine) {
        // A receiver that went away no longer wants the lines; the job goes on.
        let _ = self.send(line);
    }
}

/// A sink that drops every line.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardLogs;

impl LogSink for DiscardLogs {
    fn line(&mut self, _line: LogLine) {}
}

/// Longest line passed on whole; longer ones are cut into pieces of this size.
const MAX_LINE: usize = 64 * 1024;

/// Splits the chunks of one stream into lines.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    stream: LogStream,
    partial: Vec<u8>,
}

impl LineSplitter {
    pub(crate) fn new(stream: LogStream) -> Self {
        LineSplitter {
            stream,
            partial: Vec::new(),
        }
    }

    /// Feeds a chunk; complete lines go to the sink.
    pub(crate) fn push(&mut self, chunk: &[u8], sink: &mut dyn LogSink) {
        for &b in chunk {
            if b == b'\n' {
                self.emit(sink);
            } else {
                self.partial.push(b);
                if self.partial.len() >= MAX_LINE {
                    self.emit(sink);
                }
            }
        }
    }

    /// Passes on what is left of an unterminated last line.
    pub(crate) fn finish(&mut self, sink: &mut dyn LogSink) {
        if !self.partial.is_empty() {
            self.emit(sink);
        }
    }

    fn emit(&mut self, sink: &mut dyn LogSink) {
        let bytes = std::mem::take(&mut self.partial);
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if text.ends_with('\r') {
            text.pop();
        }
        sink.line(LogLine {
            stream: self.stream,
            text,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_become_lines() {
        let mut got = Vec::new();
        let mut sink = |l: LogLine| got.push(l);
        let mut s = LineSplitter::new(LogStream::Stderr);
        s.push(b"ab", &mut sink);
        s.push(b"c\nde\r\n\nf", &mut sink);
        s.finish(&mut sink);
        let texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["abc", "de", "", "f"]);
        assert!(got.iter().all(|l| l.stream == LogStream::Stderr));
    }

    #[test]
    fn long_lines_are_cut() {
        let mut n = 0;
        let mut sink = |l: LogLine| {
            assert!(l.text.len() <= MAX_LINE);
            n += 1;
        };
        let mut s = LineSplitter::new(LogStream::Stdout);
        s.push(&vec![b'x'; MAX_LINE * 2 + 1], &mut sink);
        s.finish(&mut sink);
        assert_eq!(n, 3);
    }
}
