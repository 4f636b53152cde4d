//! A YAML document as a tree of nodes that remember where they were written.
//!
//! yaml-rust2's own `Yaml` tree drops positions and expands aliases without limit, so
//! this builds its own tree from the event stream: iteratively (a 100k-deep input cannot
//! overflow the stack), with a depth limit, and with a budget on alias expansion (a
//! "billion laughs" file fails fast instead of eating memory).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted; scenario files need about six levels.
pub const MAX_DEPTH: usize = 64;

/// Most nodes a document may hold, aliases expanded. Library files hold a few hundred.
pub const MAX_NODES: usize = 100_000;

/// A position in the source: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line().max(1),
            col: m.col() + 1,
        }
    }
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it holds.
    pub kind: NodeKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
    /// A sequence.
    Seq(Vec<Node>),
    /// A scalar; `quoted` when written in quotes or as a block scalar, so it is a string
    /// even if it looks like a number.
    Scalar {
        /// The text.
        text: String,
        /// Whether it was quoted.
        quoted: bool,
    },
    /// `~`, `null` or nothing.
    Null,
}

impl Node {
    /// A short description of what the node is, for "expected …, found …" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Map(_) => "a mapping",
            NodeKind::Seq(_) => "a list",
            NodeKind::Scalar { quoted: true, .. } => "a string",
            NodeKind::Scalar { text, .. } => {
                if text.parse::<f64>().is_ok() {
                    "a number"
                } else if matches!(text.as_str(), "true" | "false") {
                    "a boolean"
                } else {
                    "a string"
                }
            }
            NodeKind::Null => "nothing",
        }
    }

    /// The scalar text, if the node is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    fn size(&self) -> usize {
        match &self.kind {
            NodeKind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
            NodeKind::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            _ => 1,
        }
    }
}

/// Why a document could not be turned into a tree. Positions are where the problem was
/// noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl TreeError {
    fn new(pos: Pos, message: impl Into<String>) -> Self {
        TreeError {
            pos,
            message: message.into(),
            hint: None,
        }
    }
}

enum Frame {
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
}

/// The tree of the single document in `source`: `Ok(None)` when the stream holds no
/// document. Duplicate keys are not checked here (the decoder reports them so that it
/// can report them all).
pub fn build(source: &str) -> Result<Option<Node>, TreeError> {
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| {
            let mut err = TreeError::new(Pos::from_marker(e.marker()), e.info().to_owned());
            err.message = format!("YAML syntax: {}", err.message);
            err
        })?;
        let pos = Pos::from_marker(&marker);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(TreeError {
                        pos,
                        message: "a scenario file holds exactly one YAML document".into(),
                        hint: Some("remove the `---` separator and what follows it".into()),
                    });
                }
                None
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(TreeError::new(pos, "alias to an unknown anchor"));
                };
                let size = target.size();
                nodes = nodes.saturating_add(size);
                if nodes > MAX_NODES {
                    return Err(TreeError {
                        pos,
                        message: format!("alias expansion exceeds {MAX_NODES} nodes"),
                        hint: Some(
                            "scenario files are small; this looks like an alias bomb".into(),
                        ),
                    });
                }
                let mut node = target.clone();
                node.pos = pos;
                Some((node, 0))
            }
            Event::Scalar(text, style, anchor, _tag) => {
                nodes += 1;
                let quoted = style != TScalarStyle::Plain;
                let kind =
                    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        NodeKind::Null
                    } else {
                        NodeKind::Scalar { text, quoted }
                    };
                Some((Node { kind, pos }, anchor))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                nodes += 1;
                if stack.len() >= MAX_DEPTH {
                    return Err(TreeError {
                        pos,
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                        hint: Some("scenario files need only a few levels of nesting".into()),
                    });
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    }
                });
                None
            }
            // yaml-rust2 marks a block collection where it noticed it, after its first
            // key or item; the earlier of that and the first child is where a person
            // sees it start.
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => {
                    let pos = items.first().map_or(pos, |i| i.pos.min(pos));
                    Some((
                        Node {
                            kind: NodeKind::Seq(items),
                            pos,
                        },
                        anchor,
                    ))
                }
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) => {
                    let pos = entries.first().map_or(pos, |(k, _)| k.pos.min(pos));
                    Some((
                        Node {
                            kind: NodeKind::Map(entries),
                            pos,
                        },
                        anchor,
                    ))
                }
                None => return Err(TreeError::new(pos, "unbalanced YAML collection end")),
            },
        };
        if nodes > MAX_NODES {
            return Err(TreeError::new(
                pos,
                format!("document holds more than {MAX_NODES} nodes"),
            ));
        }
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> &str {
        node.as_scalar().unwrap()
    }

    #[test]
    fn positions_are_one_based() {
        let root = build("a: 1\nb:\n  - x\n  - 'y'\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &root.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.pos, Pos { line: 1, col: 1 });
        assert_eq!(entries[0].1.pos, Pos { line: 1, col: 4 });
        let NodeKind::Seq(items) = &entries[1].1.kind else {
            panic!("not a seq")
        };
        assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
        assert_eq!(scalar(&items[1]), "y");
        assert!(matches!(
            items[1].kind,
            NodeKind::Scalar { quoted: true, .. }
        ));
    }

    #[test]
    fn aliases_expand_within_budget() {
        let root = build("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &root.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);
        assert_eq!(entries[1].1.pos.line, 2);
    }

    #[test]
    fn empty_stream_has_no_document() {
        assert_eq!(build("").unwrap(), None);
        assert_eq!(build("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn depth_is_limited() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let err = build(&deep).unwrap_err();
        assert!(err.message.contains("nesting") || err.message.contains("YAML syntax"));
    }
}
