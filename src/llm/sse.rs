//! Server-sent events, as far as an OpenAI-compatible stream uses them: `data:` lines separated
//! by blank lines, ending with `data: [DONE]`. Pure, so it is tested without a server.

/// Accumulates bytes and yields complete `data` payloads.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    data: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SseItem {
    Data(String),
    Done,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed a chunk of the body; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseItem> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            self.line(line, &mut out);
        }
        out
    }

    /// The body ended: flush a final event that had no trailing blank line.
    pub fn finish(&mut self) -> Vec<SseItem> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            self.line(rest.trim_end_matches(['\n', '\r']), &mut out);
        }
        self.dispatch(&mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseItem>) {
        if line.is_empty() {
            self.dispatch(out);
        } else if let Some(rest) = line.strip_prefix("data:") {
            self.data
                .push(rest.strip_prefix(' ').unwrap_or(rest).to_owned());
        }
        // `event:`, `id:`, `retry:` and `:` comments carry nothing we use.
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        if self.data.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        if data.trim() == "[DONE]" {
            out.push(SseItem::Done);
        } else {
            out.push(SseItem::Data(data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_events_across_chunks() {
        let mut d = SseDecoder::new();
        assert!(d.push(b"data: {\"a\":").is_empty());
        assert_eq!(
            d.push(b"1}\n\ndata: [DO"),
            vec![SseItem::Data("{\"a\":1}".into())]
        );
        assert_eq!(d.push(b"NE]\n\n"), vec![SseItem::Done]);
    }

    #[test]
    fn handles_crlf_comments_and_unterminated_tail() {
        let mut d = SseDecoder::new();
        let items = d.push(b": keep-alive\r\n\r\ndata: x\r\n\r\ndata: y");
        assert_eq!(items, vec![SseItem::Data("x".into())]);
        assert_eq!(d.finish(), vec![SseItem::Data("y".into())]);
    }

    proptest! {
        #[test]
        fn never_panics_and_chunking_does_not_matter(body in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
            let cut = cut.min(body.len());
            let mut whole = SseDecoder::new();
            let mut a = whole.push(&body);
            a.extend(whole.finish());
            let mut parts = SseDecoder::new();
            let mut b = parts.push(&body[..cut]);
            b.extend(parts.push(&body[cut..]));
            b.extend(parts.finish());
            // Lines are decoded only once complete, so where the body was cut cannot matter.
            prop_assert_eq!(a, b);
        }
    }
}
