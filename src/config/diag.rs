//! Config diagnostics: every error carries a byte span of the file and prints as
//! `FILE:LINE:COL: message`, the way compilers do, so an operator can jump straight to it.

use std::fmt;
use std::ops::Range;

/// One problem found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Byte range in the file, if the problem has a place.
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span: Some(span),
            message: message.into(),
        }
    }
    pub fn global(message: impl Into<String>) -> Self {
        Self {
            span: None,
            message: message.into(),
        }
    }
}

/// All problems of one config file, with what is needed to print line and column.
#[derive(Clone, Debug)]
pub struct ConfigErrors {
    pub file: String,
    pub text: String,
    pub diags: Vec<Diagnostic>,
}

impl ConfigErrors {
    /// Line and column (both 1-based, column in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// Each diagnostic as `FILE:LINE:COL: message`.
    pub fn lines(&self) -> Vec<String> {
        self.diags
            .iter()
            .map(|d| match &d.span {
                Some(s) => {
                    let (l, c) = self.line_col(s.start);
                    format!("{}:{}:{}: {}", self.file, l, c, d.message)
                }
                None => format!("{}:1:1: {}", self.file, d.message),
            })
            .collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.lines().join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let e = ConfigErrors {
            file: "t.toml".into(),
            text: "a = 1\nbb = 2\n".into(),
            diags: vec![Diagnostic::at(9..10, "bad")],
        };
        assert_eq!(e.line_col(0), (1, 1));
        assert_eq!(e.line_col(6), (2, 1));
        assert_eq!(e.lines(), vec!["t.toml:2:4: bad".to_string()]);
    }
}
