//! NDJSON: one snapshot JSON object per line; blank lines are skipped.

use std::io::{BufRead, BufReader, Read};

use missionops_core::NewSnapshot;

use super::{Item, MAX_LINE_BYTES};

/// Reads NDJSON snapshots line by line, holding one line at a time.
#[derive(Debug)]
pub(crate) struct NdjsonReader<R> {
    reader: BufReader<R>,
    /// The current line, reused from line to line.
    buffer: Vec<u8>,
    line: u64,
    consumed: u64,
}

impl<R: Read> NdjsonReader<R> {
    pub(crate) fn new(input: R) -> Self {
        NdjsonReader {
            reader: BufReader::with_capacity(256 * 1024, input),
            buffer: Vec::with_capacity(4096),
            line: 0,
            consumed: 0,
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.consumed
    }

    pub(crate) fn next_item(&mut self) -> anyhow::Result<Option<Item>> {
        loop {
            self.buffer.clear();
            let limit = MAX_LINE_BYTES as u64 + 1;
            let read = (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buffer)?;
            if read == 0 {
                return Ok(None);
            }
            self.consumed += read as u64;
            self.line += 1;
            if self.buffer.len() > MAX_LINE_BYTES && self.buffer.last() != Some(&b'\n') {
                // Skip the rest of the over-long line so that the next item starts on the next
                // line and keeps its number.
                self.consumed += self.reader.skip_until(b'\n')? as u64;
                return Ok(Some(Item {
                    line: self.line,
                    snapshot: Err(format!("is longer than {MAX_LINE_BYTES} bytes")),
                }));
            }
            let mut text = self.buffer.as_slice();
            if self.line == 1 {
                text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let snapshot = serde_json::from_slice::<NewSnapshot>(text).map_err(|e| reason(&e));
            return Ok(Some(Item {
                line: self.line,
                snapshot,
            }));
        }
    }
}

/// serde_json's message with its `at line 1 column N` turned into `(column N)`: the line number
/// is the input's, reported by the caller.
fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = text
        .rfind(" at line ")
        .map_or(text.as_str(), |i| &text[..i]);
    if error.column() > 0 {
        format!("{message} (column {})", error.column())
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: &str) -> Vec<Item> {
        let mut reader = NdjsonReader::new(input.as_bytes());
        let mut items = Vec::new();
        while let Some(item) = reader.next_item().expect("read") {
            items.push(item);
        }
        items
    }

    #[test]
    fn lines_keep_their_numbers_across_blank_lines() {
        let input = "\u{feff}{\"spacecraftId\":\"A\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"parameters\":{\"t\":1}}\n\
                     \n  \r\n\
                     {\"spacecraftId\":\"\",\"timestamp\":\"2025-01-01T00:00:00Z\",\"parameters\":{}}\r\n";
        let items = items(input);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].line, 1);
        assert!(items[0].snapshot.is_ok());
        assert_eq!(items[1].line, 4);
        let reason = items[1].snapshot.as_ref().expect_err("empty id");
        assert!(
            reason.starts_with("spacecraftId: must not be empty"),
            "{reason}"
        );
        assert!(!reason.contains("at line"), "{reason}");
    }

    #[test]
    fn a_line_that_is_not_json_is_an_item_with_a_reason() {
        let items = items("not json\n");
        assert_eq!(items[0].line, 1);
        assert!(items[0].snapshot.as_ref().is_err());
    }
}
