//! Small helpers that read typed values out of nodes and collect diagnostics instead of
//! stopping at the first problem.

use crate::diag::Diagnostic;
use crate::duration::Duration;

use super::node::{Node, NodeKind, Pos};

/// Longest message or hint kept, in characters. Messages quote what the file says, and
/// a file may say a megabyte on one line; the excerpt shows the place anyway.
const MAX_MESSAGE: usize = 300;

fn cap(text: String) -> String {
    if text.chars().count() <= MAX_MESSAGE {
        return text;
    }
    let mut short: String = text.chars().take(MAX_MESSAGE).collect();
    short.push('…');
    short
}

/// Most diagnostics kept per file. Past this, a person fixes the first ones and runs
/// again; and a hostile file cannot make us build a million messages.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Reads values out of a node tree, remembering every problem it meets.
pub struct Decoder<'s> {
    origin: &'s str,
    source: &'s str,
    /// Byte offset where each line starts, so that excerpts cost O(1), not a scan.
    line_starts: Vec<usize>,
    diags: Vec<Diagnostic>,
    errors: usize,
}

impl<'s> Decoder<'s> {
    /// A decoder for the file `origin` whose text is `source`.
    pub fn new(origin: &'s str, source: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Decoder {
            origin,
            source,
            line_starts,
            diags: Vec::new(),
            errors: 0,
        }
    }

    fn excerpt(&self, line: usize) -> Option<String> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .map_or(self.source.len(), |next| next - 1);
        let text = self.source.get(start..end)?;
        Some(text.strip_suffix('\r').unwrap_or(text).to_owned())
    }

    fn push(&mut self, pos: Pos, message: String, hint: Option<String>) {
        self.errors += 1;
        if self.full() {
            return;
        }
        self.diags.push(Diagnostic {
            origin: self.origin.to_owned(),
            line: pos.line,
            column: pos.col,
            severity: crate::diag::Severity::Error,
            message: cap(message),
            hint: hint.map(cap),
            excerpt: self.excerpt(pos.line),
        });
    }

    /// Whether the diagnostic limit is reached; costly hints are skipped from then on.
    pub fn full(&self) -> bool {
        self.diags.len() >= MAX_DIAGNOSTICS
    }

    /// "did you mean `x`?" for the name in `allowed` closest to `given`, unless the
    /// diagnostic limit is reached (the hint would be dropped anyway).
    pub fn did_you_mean<'a>(
        &self,
        given: &str,
        allowed: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        if self.full() {
            return None;
        }
        suggest(given, allowed).map(|s| format!("did you mean `{s}`?"))
    }

    /// Reports an error at `pos`.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, message.into(), None);
    }

    /// Reports an error at `pos` with a hint.
    pub fn error_hint(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<String>) {
        self.push(pos, message.into(), Some(hint.into()));
    }

    /// Reports an error with an optional hint.
    pub fn error_maybe_hint(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        match hint {
            Some(h) => self.error_hint(pos, message, h),
            None => self.error(pos, message),
        }
    }

    /// How many errors were reported so far, including those past the limit.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// The diagnostics collected, with a note when some were dropped.
    pub fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        if self.errors > self.diags.len() {
            let dropped = self.errors - self.diags.len();
            self.diags.push(Diagnostic::file_error(
                self.origin,
                format!("… and {dropped} more errors not shown"),
            ));
        }
        self.diags
    }

    /// A view of a mapping node, or an error saying what `what` should be.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<MapView<'n>> {
        match &node.kind {
            NodeKind::Map(entries) => {
                let mut keys: Vec<&'n str> = Vec::with_capacity(entries.len());
                // A duplicate is reported here and then counts as used, so that it is
                // not reported again as an unknown field.
                let mut used = vec![false; entries.len()];
                for (i, (k, _)) in entries.iter().enumerate() {
                    match k.as_scalar() {
                        Some(text) => {
                            if keys.contains(&text) {
                                self.error_hint(
                                    k.pos,
                                    format!("duplicate key `{text}` in {what}"),
                                    "YAML keeps only one of them; remove or rename the other",
                                );
                                used[i] = true;
                            }
                            keys.push(text);
                        }
                        None => {
                            self.error(
                                k.pos,
                                format!("keys of {what} must be names, found {}", k.describe()),
                            );
                            keys.push("");
                        }
                    }
                }
                Some(MapView {
                    node,
                    entries,
                    keys,
                    used,
                })
            }
            _ => {
                self.error(
                    node.pos,
                    format!("expected {what} (a mapping), found {}", node.describe()),
                );
                None
            }
        }
    }

    /// The items of a sequence node.
    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            _ => {
                self.error(
                    node.pos,
                    format!("expected {what} (a list), found {}", node.describe()),
                );
                None
            }
        }
    }

    /// The text of a scalar node.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.error(
                    node.pos,
                    format!("expected {what} (a string), found {}", node.describe()),
                );
                None
            }
        }
    }

    /// A finite number written without quotes.
    pub fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        match &node.kind {
            NodeKind::Scalar { text, quoted } => match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && !quoted => Some(v),
                Ok(v) if v.is_finite() => {
                    self.error_hint(
                        node.pos,
                        format!("expected {what} (a number), found a quoted string"),
                        "remove the quotes",
                    );
                    None
                }
                _ => {
                    self.error(
                        node.pos,
                        format!("expected {what} (a number), found `{text}`"),
                    );
                    None
                }
            },
            _ => {
                self.error(
                    node.pos,
                    format!("expected {what} (a number), found {}", node.describe()),
                );
                None
            }
        }
    }

    /// A whole number in `[min, max]`.
    pub fn integer(&mut self, node: &Node, what: &str, min: u32, max: u32) -> Option<u32> {
        let v = self.number(node, what)?;
        if v.fract() != 0.0 || v < f64::from(min) || v > f64::from(max) {
            self.error(
                node.pos,
                format!("{what} must be a whole number from {min} to {max}, found {v}"),
            );
            return None;
        }
        Some(v as u32)
    }

    /// A duration like `90s`.
    pub fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        match &node.kind {
            NodeKind::Scalar { text, .. } => match text.parse::<Duration>() {
                Ok(d) => Some(d),
                Err(e) => {
                    self.error(node.pos, format!("{what}: {e}"));
                    None
                }
            },
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "expected {what} (a duration like `90s`), found {}",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// One of `allowed` names, with a did-you-mean on a typo.
    pub fn one_of<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        allowed: &[(&'static str, T)],
    ) -> Option<T> {
        let text = self.string(node, what)?;
        if let Some((_, v)) = allowed.iter().find(|(n, _)| *n == text) {
            return Some(*v);
        }
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        let hint = match suggest(&text, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of: {}", names.join(", ")),
        };
        self.error_hint(node.pos, format!("unknown {what} `{text}`"), hint);
        None
    }
}

/// A mapping being read: fields are taken one by one, and [`MapView::finish`] reports the
/// ones nobody asked for.
pub struct MapView<'n> {
    node: &'n Node,
    entries: &'n [(Node, Node)],
    keys: Vec<&'n str>,
    used: Vec<bool>,
}

impl<'n> MapView<'n> {
    /// The value of `key`, if present.
    pub fn optional(&mut self, key: &str) -> Option<&'n Node> {
        let i = self.keys.iter().position(|k| *k == key)?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    /// The value of `key`, or an error at the mapping when it is missing.
    pub fn required(&mut self, d: &mut Decoder<'_>, key: &str, what: &str) -> Option<&'n Node> {
        let found = self.optional(key);
        if found.is_none() {
            d.error(
                self.node.pos,
                format!("{what} is missing the field `{key}`"),
            );
        }
        found
    }

    /// The key node and value of every entry, marking all as used (for maps keyed by
    /// names, like `services`).
    pub fn entries(&mut self) -> impl Iterator<Item = (&'n str, &'n Node, &'n Node)> + '_ {
        self.used.iter_mut().for_each(|u| *u = true);
        self.keys
            .iter()
            .zip(self.entries.iter())
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, (kn, v))| (*k, kn, v))
    }

    /// Reports every key not taken, suggesting the closest of `allowed`.
    pub fn finish(self, d: &mut Decoder<'_>, what: &str, allowed: &[&str]) {
        for (i, used) in self.used.iter().enumerate() {
            let key = self.keys[i];
            if *used || key.is_empty() {
                continue;
            }
            let hint = match suggest(key, allowed.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("{what} takes: {}", allowed.join(", ")),
            };
            d.error_hint(
                self.entries[i].0.pos,
                format!("unknown field `{key}` in {what}"),
                hint,
            );
        }
    }
}

/// The allowed name closest to `given`, if it is close enough to be a typo. Like
/// [`crate::catalog::closest`], but a swap of two neighbouring letters (`crat` for
/// `cart`) counts as one edit, since that is the commonest typo in short names.
pub fn suggest<'a>(given: &str, allowed: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Names are short; a megabyte-long "name" is not a typo worth an O(n·m) table.
    if given.len() > MAX_SUGGESTED_LEN {
        return None;
    }
    let limit = (given.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in allowed {
        let tail = candidate.rsplit_once('.').map_or(candidate, |(_, t)| t);
        let d = osa_distance(given, candidate).min(osa_distance(given, tail));
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// Longest name for which a suggestion is computed.
const MAX_SUGGESTED_LEN: usize = 64;

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions.
fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpositions_are_one_edit() {
        assert_eq!(osa_distance("crat", "cart"), 1);
        assert_eq!(osa_distance("", "abc"), 3);
        assert_eq!(suggest("wbe", ["web", "api"]), Some("web"));
        assert_eq!(suggest("zzz", ["web", "api"]), None);
        assert_eq!(
            suggest("memory_leek", ["code.memory_leak"]),
            Some("code.memory_leak")
        );
    }
}
