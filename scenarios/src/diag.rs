//! Diagnostics: what is wrong with a scenario file, where, and how to fix it.
//!
//! Parsing reports every problem at once, so a person fixes a file in one round rather
//! than one error per run. Each diagnostic carries the offending source line so that it
//! renders like a compiler message without the source at hand.

use std::fmt;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The file is rejected.
    Error,
    /// The file is accepted, but probably not what was meant.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem at one place in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name (or another label for the source, like `<stdin>`).
    pub origin: String,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column, in characters; 0 when the problem concerns the whole file.
    pub column: usize,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
    /// The source line the problem is on, for the excerpt; `None` for whole-file problems.
    pub excerpt: Option<String>,
}

/// Lines longer than this are cut around the column in excerpts, so that a 1 MiB
/// single-line file does not print a 1 MiB message.
const EXCERPT_WIDTH: usize = 120;

impl Diagnostic {
    /// An error at `line:column` of `source`, with the excerpt taken from `source`.
    pub fn error(
        origin: &str,
        source: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let excerpt = (line > 0)
            .then(|| source.lines().nth(line - 1))
            .flatten()
            .map(str::to_owned);
        Diagnostic {
            origin: origin.to_owned(),
            line,
            column,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
            excerpt,
        }
    }

    /// An error about the whole file (no position).
    pub fn file_error(origin: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            origin: origin.to_owned(),
            line: 0,
            column: 0,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
            excerpt: None,
        }
    }

    /// The same diagnostic with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same diagnostic as a warning.
    pub fn as_warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// `origin:line:column`, or just `origin` for whole-file problems.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.origin.clone()
        } else {
            format!("{}:{}:{}", self.origin, self.line, self.column)
        }
    }
}

/// The excerpt window and the caret offset inside it, both in characters.
fn excerpt_window(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let caret = column.saturating_sub(1).min(chars.len());
    if chars.len() <= EXCERPT_WIDTH {
        return (line.to_owned(), caret);
    }
    let start = caret.saturating_sub(EXCERPT_WIDTH / 2);
    let end = (start + EXCERPT_WIDTH).min(chars.len());
    let text: String = chars[start..end].iter().collect();
    let prefix = if start > 0 { "…" } else { "" };
    let suffix = if end < chars.len() { "…" } else { "" };
    (
        format!("{prefix}{text}{suffix}"),
        caret - start + prefix.chars().count(),
    )
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.location(),
            self.severity.as_str(),
            self.message
        )?;
        if let Some(line) = &self.excerpt {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            let (text, caret) = excerpt_window(line, self.column);
            write!(
                f,
                "\n{pad} |\n{number} | {text}\n{pad} | {}^",
                " ".repeat(caret)
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one file, sorted by position. Returned as the error of the
/// parse functions; it holds at least one error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Sorts by position (whole-file problems first) and drops exact repeats, which
    /// aliases can produce when the same node is checked twice.
    pub fn sorted(mut items: Vec<Diagnostic>) -> Self {
        items.sort_by(|a, b| {
            (a.line, a.column, a.severity, &a.message)
                .cmp(&(b.line, b.column, b.severity, &b.message))
        });
        items.dedup();
        Diagnostics(items)
    }

    /// The diagnostics.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any is an error (rather than a warning).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        let errors = self
            .0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if errors > 1 {
            write!(f, "\n\n{errors} errors")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let source = "a: 1\n    kind: code.memory_leek\n";
        let d = Diagnostic::error(
            "shop.yaml",
            source,
            2,
            11,
            "unknown fault kind `code.memory_leek`",
        )
        .with_hint("did you mean `code.memory_leak`?");
        assert_eq!(
            d.to_string(),
            "shop.yaml:2:11: error: unknown fault kind `code.memory_leek`\n  |\n2 |     kind: code.memory_leek\n  |           ^\n  = hint: did you mean `code.memory_leak`?"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = "x".repeat(10_000);
        let d = Diagnostic::error("f", &line, 1, 5000, "too long");
        let text = d.to_string();
        assert!(text.len() < 600, "{}", text.len());
        assert!(text.contains('^'));
    }

    #[test]
    fn sorted_by_position() {
        let s = "a\nb\nc\n";
        let ds = Diagnostics::sorted(vec![
            Diagnostic::error("f", s, 3, 1, "c"),
            Diagnostic::error("f", s, 1, 2, "a"),
            Diagnostic::file_error("f", "whole"),
        ]);
        let lines: Vec<usize> = ds.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![0, 1, 3]);
    }
}
