//! Completion watch over the not-yet-committed tail of the SOAP envelope.
//!
//! The header scanner (see `envelope`) re-reads its uncommitted tail on each
//! scan. Re-reading on every small chunk would make drip-fed input cost
//! O(n²). This watch lexes each new byte once and reports whether a markup
//! construct may have been completed — the only thing that can change a
//! scan's outcome from "need more" to Found. It mirrors quick-xml's ends:
//! tags end at `>` outside quoted attribute values, comments at `-->`, CDATA
//! sections at `]]>`, processing instructions at `?>` (XML 1.0 §2.5–§2.8,
//! §3.1). Anything unusual (`<!` other than a comment or CDATA, such as a
//! DOCTYPE) is reported at once so the scanner can refuse it.
//!
//! Before the document element, any non-white-space byte is reported too,
//! so that non-XML bodies fail fast.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum St {
    /// Character data.
    #[default]
    Text,
    /// Just after `<`.
    Lt,
    /// After `<!`.
    Bang,
    /// Inside a start or end tag; the open quote, if any.
    Tag(Option<u8>),
    Comment,
    CData,
    Pi,
}

/// See the module docs. Positions are relative to the XML region.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TailWatch {
    /// Commit point the state was computed from.
    origin: usize,
    /// Next byte to lex.
    pos: usize,
    /// Position of the `<` of the current markup.
    mark: usize,
    state: St,
}

impl TailWatch {
    /// Lexes `region[pos..]` and returns true as soon as a markup construct
    /// may be complete (the caller should then scan). `committed` is the
    /// scanner's commit point: when it moved, lexing restarts there.
    pub(crate) fn completes(&mut self, region: &[u8], committed: usize, pre_root: bool) -> bool {
        if self.origin != committed || self.pos < committed {
            *self = TailWatch {
                origin: committed,
                pos: committed,
                mark: committed,
                state: St::Text,
            };
        }
        while let Some(&b) = region.get(self.pos) {
            let i = self.pos;
            self.pos += 1;
            let back = |n: usize| i.checked_sub(n).and_then(|j| region.get(j)).copied();
            match self.state {
                St::Text if b == b'<' => {
                    self.state = St::Lt;
                    self.mark = i;
                }
                St::Text => {
                    if pre_root && !b.is_ascii_whitespace() {
                        return true;
                    }
                }
                St::Lt => match b {
                    b'!' => self.state = St::Bang,
                    b'?' => self.state = St::Pi,
                    b'>' => return true,
                    b'"' | b'\'' => self.state = St::Tag(Some(b)),
                    _ => self.state = St::Tag(None),
                },
                St::Bang => match b {
                    b'-' => self.state = St::Comment,
                    b'[' => self.state = St::CData,
                    _ => return true,
                },
                St::Tag(None) => match b {
                    b'>' => return true,
                    b'"' | b'\'' => self.state = St::Tag(Some(b)),
                    _ => {}
                },
                St::Tag(Some(q)) => {
                    if b == q {
                        self.state = St::Tag(None);
                    }
                }
                St::Comment => {
                    if b == b'>'
                        && i - self.mark > 5
                        && back(1) == Some(b'-')
                        && back(2) == Some(b'-')
                    {
                        return true;
                    }
                }
                St::CData => {
                    if b == b'>'
                        && i - self.mark >= 5
                        && back(1) == Some(b']')
                        && back(2) == Some(b']')
                    {
                        return true;
                    }
                }
                St::Pi => {
                    if b == b'>' && i - self.mark >= 2 && back(1) == Some(b'?') {
                        return true;
                    }
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `s` byte by byte; returns the indexes where completion is reported.
    fn hits(s: &str, pre_root: bool) -> Vec<usize> {
        let mut w = TailWatch::default();
        (1..=s.len())
            .filter(|&n| w.completes(&s.as_bytes()[..n], 0, pre_root))
            .map(|n| n - 1)
            .collect()
    }

    #[test]
    fn ends_of_constructs() {
        assert_eq!(hits("text > more <a b='>' c=\">\">", false), vec![26]);
        assert_eq!(hits("<!-- > -- > -->", false), vec![14]);
        assert_eq!(hits("<![CDATA[ > ]> ]]>", false), vec![17]);
        assert_eq!(hits("<?pi > ?>", false), vec![8]);
        assert_eq!(hits("<!DOCTYPE", false).first(), Some(&2));
        assert_eq!(hits("  \r\n x", true), vec![5]);
        assert_eq!(hits("  \r\n x", false), Vec::<usize>::new());
    }

    #[test]
    fn restarts_when_commit_moves() {
        let mut w = TailWatch::default();
        let s = b"<a><b";
        assert!(w.completes(&s[..3], 0, true));
        assert!(!w.completes(s, 3, false));
        assert!(w.completes(b"<a><b>", 3, false));
    }
}
