//! Splits `<think>…</think>` out of streamed content (reasoning models served through plain
//! OpenAI-compatible servers), tolerant of tags cut across chunk boundaries.

/// Incremental splitter: text in, (reasoning, content) out.
#[derive(Debug, Default)]
pub struct ThinkSplitter {
    inside: bool,
    /// Undecided bytes that may be the start of a tag.
    pending: String,
    /// Whether any non-whitespace content was emitted (a `<think>` only counts at the start).
    seen_content: bool,
}

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// One piece of split output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Reasoning text.
    Reasoning(String),
    /// Answer text.
    Content(String),
}

fn partial_suffix(s: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| s.len() >= n && s.is_char_boundary(s.len() - n) && tag.starts_with(&s[s.len() - n..]))
        .unwrap_or(0)
}

impl ThinkSplitter {
    /// Feeds text; returns the pieces that are decided.
    pub fn push(&mut self, text: &str) -> Vec<Piece> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.push_str(text);
        let mut out = Vec::new();
        loop {
            if self.inside {
                if let Some(i) = buf.find(CLOSE) {
                    if i > 0 {
                        out.push(Piece::Reasoning(buf[..i].to_string()));
                    }
                    buf = buf[i + CLOSE.len()..].trim_start_matches(['\n', '\r']).to_string();
                    self.inside = false;
                    continue;
                }
                let keep = partial_suffix(&buf, CLOSE);
                let cut = buf.len() - keep;
                if cut > 0 {
                    out.push(Piece::Reasoning(buf[..cut].to_string()));
                }
                self.pending = buf[cut..].to_string();
                return out;
            }
            if !self.seen_content {
                let trimmed = buf.trim_start();
                if let Some(rest) = trimmed.strip_prefix(OPEN) {
                    buf = rest.to_string();
                    self.inside = true;
                    continue;
                }
                if trimmed.is_empty() || OPEN.starts_with(trimmed) {
                    // Could still become `<think>`: wait for more.
                    self.pending = buf;
                    return out;
                }
            }
            if !buf.is_empty() {
                self.seen_content = true;
                out.push(Piece::Content(buf));
            }
            return out;
        }
    }

    /// The stream ended: whatever is pending is released as it stands.
    pub fn finish(&mut self) -> Vec<Piece> {
        let rest = std::mem::take(&mut self.pending);
        if rest.is_empty() {
            return vec![];
        }
        if self.inside { vec![Piece::Reasoning(rest)] } else { vec![Piece::Content(rest)] }
    }
}

/// Splits a whole text: (reasoning, content).
pub fn split_whole(text: &str) -> (Option<String>, String) {
    let mut s = ThinkSplitter::default();
    let mut pieces = s.push(text);
    pieces.extend(s.finish());
    let mut reasoning = String::new();
    let mut content = String::new();
    for p in pieces {
        match p {
            Piece::Reasoning(r) => reasoning.push_str(&r),
            Piece::Content(c) => content.push_str(&c),
        }
    }
    ((!reasoning.is_empty()).then_some(reasoning), content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> (String, String) {
        let mut s = ThinkSplitter::default();
        let mut pieces = Vec::new();
        for c in chunks {
            pieces.extend(s.push(c));
        }
        pieces.extend(s.finish());
        let (mut r, mut c) = (String::new(), String::new());
        for p in pieces {
            match p {
                Piece::Reasoning(x) => r.push_str(&x),
                Piece::Content(x) => c.push_str(&x),
            }
        }
        (r, c)
    }

    #[test]
    fn tags_split_across_chunks() {
        assert_eq!(
            run(&["<thi", "nk>let me ", "think</th", "ink>\n\nAnswer"]),
            ("let me think".into(), "Answer".into())
        );
        assert_eq!(run(&["  <think>a</think>b"]), ("a".into(), "b".into()));
        assert_eq!(
            run(&["plain ", "text <think> not at start"]),
            (String::new(), "plain text <think> not at start".into())
        );
        assert_eq!(run(&["<", "b>bold</b>"]), (String::new(), "<b>bold</b>".into()));
        assert_eq!(split_whole("<think>r</think>c"), (Some("r".into()), "c".into()));
        assert_eq!(run(&["<think>never closed"]), ("never closed".into(), String::new()));
    }
}
