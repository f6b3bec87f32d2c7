//! The answers on one connection, followed as they are written: where each
//! ends, so that nothing is written after one that says `connection: close`
//! (RFC 9112 section 9.6), and so the wrapper knows when a request has been
//! answered; and which `100 Continue` (RFC 9110 section 10.1.1) must not go
//! out because the request's declared body will be refused.
//!
//! Only what actix-http writes is parsed: a status line, headers, then a
//! body of `content-length` bytes (none for HEAD, 1xx, 204 and 304). An
//! answer framed otherwise (chunked, or delimited by the close) stops the
//! following: from then on everything is written as it comes.

use std::collections::VecDeque;

/// A response head longer than this is not followed.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the wrapper knows of a request it framed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Asked {
    /// A HEAD request: its answer has no body whatever its length says.
    pub head: bool,
    /// It asked for `100 Continue` and declared a body over its route's
    /// limit: it gets the refusal, not the invitation.
    pub no_continue: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body {
        left: u64,
        close: bool,
    },
    /// Not followed any more: everything passes.
    Untracked,
    /// An answer with `connection: close` was written whole.
    Closed,
}

/// What may be done with the bytes offered to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    /// The offered bytes up to here may be written.
    pub allowed: usize,
    /// The bytes in this range are a `100 Continue` to leave out.
    pub skip: Option<(usize, usize)>,
}

/// The answers of one connection; see the module.
#[derive(Debug)]
pub(super) struct Answers {
    asked: VecDeque<Asked>,
    cursor: Cursor,
}

/// Where the following stands (cheap to copy: `head` is empty but for a
/// head split across writes).
#[derive(Debug, Clone)]
struct Cursor {
    state: State,
    head: Vec<u8>,
    /// Final answers written whole.
    done: u64,
    /// Requests in `asked` answered by what this cursor took.
    answered: usize,
}

impl Answers {
    pub(super) fn new() -> Self {
        Self {
            asked: VecDeque::new(),
            cursor: Cursor {
                state: State::Head,
                head: Vec::new(),
                done: 0,
                answered: 0,
            },
        }
    }

    /// A request was framed.
    pub(super) fn asked(&mut self, asked: Asked) {
        self.asked.push_back(asked);
    }

    /// Final answers written whole.
    pub(super) fn done(&self) -> u64 {
        self.cursor.done
    }

    /// Whether an answer that closes the connection has been written.
    pub(super) fn closed(&self) -> bool {
        self.cursor.state == State::Closed
    }

    /// What may be written of `data`, without taking it.
    pub(super) fn plan(&self, data: &[u8]) -> Plan {
        self.cursor.clone().take(data, &self.asked)
    }

    /// `data` was written (or left out as planned).
    pub(super) fn wrote(&mut self, data: &[u8]) {
        let _ = self.cursor.take(data, &self.asked);
        let answered = std::mem::take(&mut self.cursor.answered);
        self.asked.drain(..answered.min(self.asked.len()));
    }
}

impl Cursor {
    fn take(&mut self, data: &[u8], asked: &VecDeque<Asked>) -> Plan {
        let mut at = 0;
        let mut skip = None;
        while at < data.len() {
            match self.state {
                State::Untracked => {
                    return Plan {
                        allowed: data.len(),
                        skip,
                    };
                }
                State::Closed => return Plan { allowed: at, skip },
                State::Body { left, close } => {
                    let rest = data.get(at..).unwrap_or_default();
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    at += n;
                    let left = left - n as u64;
                    self.state = if left > 0 {
                        State::Body { left, close }
                    } else {
                        self.done += 1;
                        if close { State::Closed } else { State::Head }
                    };
                }
                State::Head => {
                    let started = at;
                    let rest = data.get(at..).unwrap_or_default();
                    let seen = self.head.len();
                    let fresh = seen == 0;
                    let end = if fresh {
                        find_head_end(rest, 0)
                    } else {
                        // The head began in an earlier write.
                        let more = rest
                            .get(..rest.len().min(MAX_RESPONSE_HEAD))
                            .unwrap_or_default();
                        self.head.extend_from_slice(more);
                        find_head_end(&self.head, seen.saturating_sub(3))
                            .map(|end| end.saturating_sub(seen))
                    };
                    let Some(end) = end else {
                        if fresh {
                            let more = rest
                                .get(..rest.len().min(MAX_RESPONSE_HEAD + 1))
                                .unwrap_or_default();
                            self.head.extend_from_slice(more);
                        }
                        if self.head.len() > MAX_RESPONSE_HEAD {
                            self.state = State::Untracked;
                        }
                        return Plan {
                            allowed: data.len(),
                            skip,
                        };
                    };
                    let joined = std::mem::take(&mut self.head);
                    let head = if fresh {
                        rest.get(..end).unwrap_or_default()
                    } else {
                        joined.get(..seen + end).unwrap_or_default()
                    };
                    at += end;
                    match parse(head) {
                        None => self.state = State::Untracked,
                        Some(Head { status, .. }) if (100..200).contains(&status) => {
                            let refused = asked
                                .get(self.answered)
                                .is_some_and(|asked| asked.no_continue);
                            if status == 100
                                && refused
                                && fresh
                                && head == CONTINUE
                                && skip.is_none()
                            {
                                skip = Some((started, at));
                            }
                        }
                        Some(Head {
                            status,
                            length,
                            close,
                        }) => {
                            let asked = asked.get(self.answered).copied().unwrap_or_default();
                            self.answered += 1;
                            let body = if asked.head || status == 204 || status == 304 {
                                Some(0)
                            } else {
                                length
                            };
                            self.state = match body {
                                None => State::Untracked,
                                Some(0) => {
                                    self.done += 1;
                                    if close { State::Closed } else { State::Head }
                                }
                                Some(left) => State::Body { left, close },
                            };
                        }
                    }
                }
            }
        }
        Plan {
            allowed: data.len(),
            skip,
        }
    }
}

/// The index just past the blank line ending a head, searching from `from`.
fn find_head_end(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| from + at + 4)
}

struct Head {
    status: u16,
    /// `content-length`; `None` when the body is framed otherwise.
    length: Option<u64>,
    close: bool,
}

fn parse(head: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().ok()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= value
                .split(',')
                .any(|option| option.trim().eq_ignore_ascii_case("close"));
        }
    }
    Some(Head {
        status,
        length: if chunked { None } else { length },
        close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    const CLOSE: &[u8] =
        b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbig";

    #[test]
    fn nothing_is_written_after_an_answer_that_closes() {
        let mut answers = Answers::new();
        answers.asked(Asked::default());
        answers.asked(Asked::default());
        let data = [CLOSE, OK].concat();
        let plan = answers.plan(&data);
        assert_eq!(plan.allowed, CLOSE.len());
        answers.wrote(data.get(..plan.allowed).unwrap());
        assert!(answers.closed());
        assert_eq!(answers.plan(OK).allowed, 0);
        assert_eq!(answers.done(), 1);
    }

    #[test]
    fn answers_split_across_writes_are_followed() {
        let mut answers = Answers::new();
        for _ in 0..3 {
            answers.asked(Asked::default());
        }
        let data = [OK, OK, CLOSE].concat();
        for byte in &data {
            assert_eq!(answers.plan(std::slice::from_ref(byte)).allowed, 1);
            answers.wrote(std::slice::from_ref(byte));
        }
        assert_eq!(answers.done(), 3);
        assert!(answers.closed());
    }

    #[test]
    fn a_refused_continue_is_left_out_and_an_accepted_one_is_not() {
        let mut answers = Answers::new();
        answers.asked(Asked {
            no_continue: true,
            ..Asked::default()
        });
        let data = [CONTINUE, CLOSE].concat();
        let plan = answers.plan(&data);
        assert_eq!(plan.skip, Some((0, CONTINUE.len())));
        assert_eq!(plan.allowed, data.len());
        let mut answers = Answers::new();
        answers.asked(Asked::default());
        assert_eq!(answers.plan(&data).skip, None);
    }

    #[test]
    fn head_answers_have_no_body_and_chunked_ones_stop_the_following() {
        let mut answers = Answers::new();
        answers.asked(Asked {
            head: true,
            ..Asked::default()
        });
        answers.asked(Asked::default());
        answers.wrote(b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n");
        assert_eq!(answers.done(), 1);
        answers
            .wrote(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
        assert_eq!(answers.plan(OK).allowed, OK.len());
    }
}
