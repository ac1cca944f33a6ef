//! Reading one large array of a JSON answer element by element as its bytes arrive, so a
//! list of thousands of objects (the tokens of an auth method, the services of a cluster's
//! node) is never held whole: neither its body text nor a `Vec` of every parsed object.
//!
//! [`ArraySplitter`] scans the answer byte by byte (strings, escapes, nesting and object
//! keys only), cuts out each element of the array at `path` — the object keys from the
//! document's root to it, none when the root is the array — and hands its bytes to a
//! callback, which decodes it with serde. Everything else (the skeleton: the document with
//! that array emptied) is kept and returned at the end, to be decoded and so validated by
//! serde too. The scanner only needs to find where elements begin and end; serde judges
//! every byte of them.

use serde::de::Error as _;

/// An error of the answer's JSON (what [`crate::ConsulError::Decode`] carries).
fn syntax(message: &str, offset: u64) -> serde_json::Error {
    serde_json::Error::custom(format!("{message} at byte {offset}"))
}

/// What a container outside the elements is.
#[derive(Debug)]
enum Frame {
    /// An object: whether the next string is a key, and the last key read.
    Object { expect_key: bool, key: Vec<u8> },
    /// An array that is not the one streamed.
    Array,
    /// The array streamed, and what was last read in it.
    Target(Last),
}

/// What was last read in the streamed array: what may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    /// `[`: an element or `]`.
    Open,
    /// `,`: an element.
    Comma,
    /// An element: `,` or `]`.
    Element,
}

/// Where the scan is inside the element being cut out.
#[derive(Debug, Default)]
struct Element {
    /// Open `{` and `[` inside it.
    depth: usize,
    /// Inside a string; and the byte before was a backslash.
    in_string: bool,
    escaped: bool,
    /// A number or a literal (`true`, `null`, …): it ends at the first delimiter.
    scalar: bool,
}

impl Element {
    /// Scans the element's next byte; whether the element ends with it.
    fn scan(&mut self, b: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                return self.depth == 0;
            }
            return false;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' if !self.scalar => {
                self.depth = self.depth.saturating_sub(1);
                return self.depth == 0;
            }
            _ => {}
        }
        false
    }
}

/// Splits the elements of the array at a path out of a JSON document fed in pieces.
#[derive(Debug)]
pub(crate) struct ArraySplitter {
    path: &'static [&'static str],
    stack: Vec<Frame>,
    /// The document without the streamed array's elements.
    skeleton: Vec<u8>,
    /// In the skeleton: inside a string, after a backslash, and whether it is a key.
    in_string: bool,
    escaped: bool,
    in_key: bool,
    key: Vec<u8>,
    /// The element being cut out, if any, and its bytes so far (the buffer is reused).
    element: Option<Element>,
    element_bytes: Vec<u8>,
    /// The root value has ended.
    done: bool,
    /// Bytes fed so far.
    offset: u64,
}

impl ArraySplitter {
    /// A splitter for the array at `path` (object keys from the root; `&[]`: the root).
    pub(crate) fn new(path: &'static [&'static str]) -> ArraySplitter {
        ArraySplitter {
            path,
            stack: Vec::new(),
            skeleton: Vec::new(),
            in_string: false,
            escaped: false,
            in_key: false,
            key: Vec::new(),
            element: None,
            element_bytes: Vec::new(),
            done: false,
            offset: 0,
        }
    }

    /// Scans `bytes`, the document's next piece, calling `each` with every element that
    /// ends in it.
    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), serde_json::Error> {
        for &b in bytes {
            self.byte(b, each)?;
            self.offset += 1;
        }
        Ok(())
    }

    /// The end of the document: the skeleton, with the streamed array empty (`[]`), to be
    /// decoded by the caller. Fails when the document is incomplete.
    pub(crate) fn finish(self) -> Result<Vec<u8>, serde_json::Error> {
        if !self.stack.is_empty() || self.element.is_some() || self.in_string {
            return Err(syntax("the answer ends inside a value", self.offset));
        }
        Ok(self.skeleton)
    }

    fn byte(
        &mut self,
        b: u8,
        each: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), serde_json::Error> {
        if let Some(element) = &mut self.element {
            if element.scalar && matches!(b, b',' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                // The delimiter belongs to the array: the element ends before it.
                self.end_element(each)?;
            } else {
                self.element_bytes.push(b);
                let ended = element.scan(b);
                if ended {
                    self.end_element(each)?;
                }
                return Ok(());
            }
        }
        if self.in_string {
            self.skeleton.push(b);
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.in_key {
                    self.in_key = false;
                    if let Some(Frame::Object { key, .. }) = self.stack.last_mut() {
                        std::mem::swap(key, &mut self.key);
                    }
                }
            } else if self.in_key {
                self.key.push(b);
            }
            return Ok(());
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return Ok(());
        }
        if let Some(Frame::Target(last)) = self.stack.last_mut() {
            match (b, *last) {
                (b',', Last::Element) => *last = Last::Comma,
                (b']', Last::Open | Last::Element) => {
                    self.stack.pop();
                    self.skeleton.push(b);
                    self.value_ended();
                }
                (b',' | b']', _) => {
                    return Err(syntax("expected an element in the list", self.offset))
                }
                (_, Last::Open | Last::Comma) => {
                    *last = Last::Element;
                    self.element_bytes.clear();
                    self.element_bytes.push(b);
                    self.element = Some(Element {
                        depth: usize::from(matches!(b, b'{' | b'[')),
                        in_string: b == b'"',
                        escaped: false,
                        scalar: !matches!(b, b'{' | b'[' | b'"'),
                    });
                }
                (_, Last::Element) => {
                    return Err(syntax("expected , or ] in the list", self.offset))
                }
            }
            return Ok(());
        }
        if self.done {
            return Err(syntax("trailing characters after the answer", self.offset));
        }
        self.skeleton.push(b);
        match b {
            b'"' => {
                self.in_string = true;
                if let Some(Frame::Object { expect_key, .. }) = self.stack.last() {
                    if *expect_key {
                        self.in_key = true;
                        self.key.clear();
                    }
                }
            }
            b'{' => self.stack.push(Frame::Object {
                expect_key: true,
                key: Vec::new(),
            }),
            b'[' => {
                let frame = if self.at_path() {
                    Frame::Target(Last::Open)
                } else {
                    Frame::Array
                };
                self.stack.push(frame);
            }
            b'}' | b']' => {
                self.stack.pop();
                self.value_ended();
            }
            b':' => {
                if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                    *expect_key = false;
                }
            }
            b',' => {
                if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                    *expect_key = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether an array opened now is the one at `path`: every enclosing container an
    /// object, its current key the path's.
    fn at_path(&self) -> bool {
        self.stack.len() == self.path.len()
            && self
                .stack
                .iter()
                .zip(self.path)
                .all(|(frame, want)| matches!(frame, Frame::Object { key, .. } if key == want.as_bytes()))
    }

    /// A container of the skeleton closed: the root one ends the document.
    fn value_ended(&mut self) {
        if self.stack.is_empty() {
            self.done = true;
        }
    }

    fn end_element(
        &mut self,
        each: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), serde_json::Error> {
        self.element = None;
        each(&self.element_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Splits `doc` fed in two pieces cut at `cut`: the elements (as values) and the
    /// skeleton (as a value).
    fn split_at(
        path: &'static [&'static str],
        doc: &str,
        cut: usize,
    ) -> Result<(Vec<Value>, Value), serde_json::Error> {
        let mut splitter = ArraySplitter::new(path);
        let mut elements = Vec::new();
        let mut each = |bytes: &[u8]| -> Result<(), serde_json::Error> {
            elements.push(serde_json::from_slice(bytes)?);
            Ok(())
        };
        let (a, b) = doc.as_bytes().split_at(cut);
        splitter.feed(a, &mut each)?;
        splitter.feed(b, &mut each)?;
        let skeleton = splitter.finish()?;
        Ok((elements, serde_json::from_slice(&skeleton)?))
    }

    /// Every cut of `doc` gives the elements of the array at `path` and the rest of the
    /// document with that array empty, as serde reads them from the whole text.
    fn assert_splits(path: &'static [&'static str], doc: &str) {
        let whole: Value = serde_json::from_str(doc).unwrap();
        let mut expected_rest = whole.clone();
        let target = path
            .iter()
            .try_fold(&mut expected_rest, |v, key| v.get_mut(*key));
        let expected: Vec<Value> = match target {
            Some(Value::Array(items)) => std::mem::take(items),
            _ => Vec::new(),
        };
        for cut in 0..=doc.len() {
            let (elements, rest) =
                split_at(path, doc, cut).unwrap_or_else(|e| panic!("cut at {cut} of {doc}: {e}"));
            assert_eq!(elements, expected, "cut at {cut} of {doc}");
            assert_eq!(rest, expected_rest, "cut at {cut} of {doc}");
        }
    }

    #[test]
    fn a_token_list_is_split_into_its_tokens() {
        let doc = r#" [ {"AccessorID": "a", "Description": "token created via login: {\"consul.hashicorp.com/task-id\":\"t]\",\"x\":\"}\\\"\"}", "Policies": [{"ID": "p", "Name": "[n]"}], "Local": true},
            {"AccessorID":"b","Roles":null,"CreateIndex":7,"Nested":{"a":[1,[2,{"b":"]"}]]}} ] "#;
        assert_splits(&[], doc);
        let (elements, _) = split_at(&[], doc, 0).unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[1]["Nested"], json!({"a": [1, [2, {"b": "]"}]]}));
    }

    #[test]
    fn node_services_are_split_out_of_the_answer_object() {
        // The node's own (nested) "Services" key and arrays before the list are not it.
        let doc = r#"{"Node": {"Node": "n", "Meta": {"Services": "[x]"}, "Services": [{"ID": "not-this"}], "TaggedAddresses": {}},
                      "Other": [[{"Services": []}]],
                      "Services": [{"ID": "web-1", "Meta": {"task-id": "t1"}}, {"ID": "web-2", "Tags": ["a,b", "]"]}],
                      "After": "\"Services\""}"#;
        assert_splits(&["Services"], doc);
        let (elements, rest) = split_at(&["Services"], doc, 17).unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(rest["Services"], json!([]));
        assert_eq!(rest["Node"]["Services"], json!([{"ID": "not-this"}]));
    }

    #[test]
    fn empty_null_and_scalar_lists() {
        assert_splits(&[], "[]");
        assert_splits(&[], "null");
        assert_splits(&[], "[1, -2.5e3,true,null , \"s\\\"]\"]");
        assert_splits(&["Services"], r#"{"Node": null, "Services": null}"#);
        assert_splits(&["Services"], r#"{"Node": null, "Services": []}"#);
        assert_splits(&["Services"], r#"{"Node": null}"#);
    }

    #[test]
    fn broken_answers_are_errors() {
        for (path, doc) in [
            (&[][..], r#"[{"AccessorID": "a"}"#),
            (&[], r#"[{"AccessorID": "a"} {"AccessorID": "b"}]"#),
            (&[], r#"[{"AccessorID": "a"},,{"AccessorID": "b"}]"#),
            (&[], r#"[{"AccessorID": "a"},]"#),
            (&[], r#"[,{"AccessorID": "a"}]"#),
            (&[], r#"[{"AccessorID": "a"}] x"#),
            (&[], r#"[{"AccessorID": "a}]"#),
            (&[], r#"[{"AccessorID": }]"#),
            (&["Services"], r#"{"Node": null, "Services": [{}]"#),
            (&["Services"], r#"{"Node": nul, "Services": []}"#),
        ] {
            for cut in 0..=doc.len() {
                assert!(split_at(path, doc, cut).is_err(), "cut at {cut}: {doc}");
            }
        }
    }
}
