//! A subset of Consul's filter expression language (go-bexpr), used for binding-rule
//! `Selector`s and the agent's `?filter=`: `==`, `!=`, `in`, `not in`, `contains`,
//! `not contains`, `is empty`, `is not empty`, `matches`, `not matches`, `and`, `or`, `not`,
//! parentheses; selectors `a.b`, `a["key"]`, `a.key.with.dots` (map lookups).
//!
//! Also the `${var}` interpolation of binding-rule `BindName`s.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1;
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1;
            }
            '.' => {
                out.push(Tok::Dot);
                i += 1;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("=="));
                i += 2;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("!="));
                i += 2;
            }
            '"' | '`' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string".to_string()),
                        Some(ch) if *ch == quote => break,
                        Some('\\') if quote == '"' => {
                            if let Some(n) = chars.get(i + 1) {
                                s.push(*n);
                            }
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            _ if c.is_alphanumeric() || c == '_' || c == '-' || c == '/' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '/' | ':'))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

/// A compiled filter expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Eq(Vec<String>, String, bool),
    Contains(Vec<String>, String, bool),
    Empty(Vec<String>, bool),
    Matches(Vec<String>, regex::Regex, bool),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == word)
    }
    fn peek_word_at(&self, offset: usize, word: &str) -> bool {
        matches!(self.toks.get(self.pos + offset), Some(Tok::Word(w)) if w == word)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let inner = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err("missing ')'".to_string());
            }
            return Ok(inner);
        }
        self.comparison()
    }
    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Str(s)) | Some(Tok::Word(s)) => Ok(s),
            other => Err(format!("expected a value, got {other:?}")),
        }
    }
    fn selector(&mut self) -> Result<Vec<String>, String> {
        let mut parts = match self.next() {
            Some(Tok::Word(w)) => vec![w],
            other => return Err(format!("expected a selector, got {other:?}")),
        };
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    match self.next() {
                        Some(Tok::Word(w)) => parts.push(w),
                        other => return Err(format!("expected a field name, got {other:?}")),
                    }
                }
                Some(Tok::LBracket) => {
                    self.pos += 1;
                    let key = self.value()?;
                    if self.next() != Some(Tok::RBracket) {
                        return Err("missing ']'".to_string());
                    }
                    parts.push(key);
                }
                _ => return Ok(parts),
            }
        }
    }
    fn comparison(&mut self) -> Result<Expr, String> {
        // `"value" in selector` / `"value" not in selector`
        if matches!(self.peek(), Some(Tok::Str(_)))
            || (matches!(self.peek(), Some(Tok::Word(_)))
                && (self.peek_word_at(1, "in")
                    || (self.peek_word_at(1, "not") && self.peek_word_at(2, "in"))))
        {
            let value = self.value()?;
            let negate = if self.peek_word("not") {
                self.pos += 1;
                true
            } else {
                false
            };
            if !self.peek_word("in") {
                return Err("expected 'in'".to_string());
            }
            self.pos += 1;
            let sel = self.selector()?;
            return Ok(Expr::Contains(sel, value, negate));
        }
        let sel = self.selector()?;
        match self.next() {
            Some(Tok::Op("==")) => Ok(Expr::Eq(sel, self.value()?, false)),
            Some(Tok::Op("!=")) => Ok(Expr::Eq(sel, self.value()?, true)),
            Some(Tok::Word(w)) if w == "is" => {
                let negate = if self.peek_word("not") {
                    self.pos += 1;
                    true
                } else {
                    false
                };
                match self.next() {
                    Some(Tok::Word(w)) if w == "empty" => Ok(Expr::Empty(sel, negate)),
                    other => Err(format!("expected 'empty', got {other:?}")),
                }
            }
            Some(Tok::Word(w)) if w == "contains" => Ok(Expr::Contains(sel, self.value()?, false)),
            Some(Tok::Word(w)) if w == "matches" => {
                Ok(Expr::Matches(sel, regex(&self.value()?)?, false))
            }
            Some(Tok::Word(w)) if w == "in" => {
                // `selector in "a,b"` is not bexpr; keep the error explicit.
                Err(format!("unexpected 'in' after selector {}", sel.join(".")))
            }
            Some(Tok::Word(w)) if w == "not" => match self.next() {
                Some(Tok::Word(w)) if w == "contains" => {
                    Ok(Expr::Contains(sel, self.value()?, true))
                }
                Some(Tok::Word(w)) if w == "matches" => {
                    Ok(Expr::Matches(sel, regex(&self.value()?)?, true))
                }
                other => Err(format!("unexpected {other:?} after 'not'")),
            },
            other => Err(format!("expected an operator, got {other:?}")),
        }
    }
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| e.to_string())
}

impl Expr {
    /// Compiles an expression; `fields` (when given) lists the allowed top-level selectors.
    pub fn parse(text: &str, fields: Option<&[&str]>) -> Result<Expr, String> {
        let mut p = Parser {
            toks: tokenize(text)?,
            pos: 0,
        };
        let expr = p.or()?;
        if p.pos != p.toks.len() {
            return Err(format!("unexpected {:?}", p.toks[p.pos]));
        }
        if let Some(fields) = fields {
            expr.check_fields(fields)?;
        }
        Ok(expr)
    }

    fn check_fields(&self, fields: &[&str]) -> Result<(), String> {
        let sel = match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.check_fields(fields)?;
                return b.check_fields(fields);
            }
            Expr::Not(a) => return a.check_fields(fields),
            Expr::Eq(sel, _, _)
            | Expr::Contains(sel, _, _)
            | Expr::Empty(sel, _)
            | Expr::Matches(sel, _, _) => sel,
        };
        match sel.first() {
            Some(first) if fields.contains(&first.as_str()) => Ok(()),
            _ => Err(format!("Selector {:?} is not valid", sel.join("."))),
        }
    }

    /// Evaluates the expression against a JSON document.
    pub fn eval(&self, doc: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(doc) && b.eval(doc),
            Expr::Or(a, b) => a.eval(doc) || b.eval(doc),
            Expr::Not(a) => !a.eval(doc),
            Expr::Eq(sel, v, negate) => (as_text(lookup(doc, sel)) == *v) != *negate,
            Expr::Contains(sel, v, negate) => {
                let hit = match lookup(doc, sel) {
                    Some(Value::Array(items)) => items.iter().any(|i| as_text(Some(i)) == *v),
                    Some(Value::Object(map)) => map.contains_key(v.as_str()),
                    Some(Value::String(s)) => s.contains(v.as_str()),
                    _ => false,
                };
                hit != *negate
            }
            Expr::Empty(sel, negate) => {
                let empty = match lookup(doc, sel) {
                    None | Some(Value::Null) => true,
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(Value::Object(m)) => m.is_empty(),
                    Some(Value::String(s)) => s.is_empty(),
                    _ => false,
                };
                empty != *negate
            }
            Expr::Matches(sel, re, negate) => re.is_match(&as_text(lookup(doc, sel))) != *negate,
        }
    }
}

/// Walks a selector. Map keys may contain dots (`entity_tags.consul.hashicorp.com.x`), so
/// when a part is missing the rest of the path is tried as one dotted key.
fn lookup<'a>(doc: &'a Value, sel: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = sel.split_first() else {
        return Some(doc);
    };
    let obj = doc.as_object()?;
    if let Some(v) = obj.get(first) {
        if let Some(found) = lookup(v, rest) {
            return Some(found);
        }
    }
    let joined = sel.join(".");
    obj.get(&joined)
}

fn as_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Replaces `${name}` in `template` with values from `vars` (dotted names allowed).
/// An unknown variable or an unterminated `${` is an error.
pub(crate) fn interpolate(
    template: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated interpolation in {template:?}"))?;
        let name = after[..end].trim();
        let value = vars(name).ok_or_else(|| format!("unknown variable accessed: {name}"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "entity_name": "consul-ecs-web",
            "entity_path": "/consul-ecs/",
            "entity_tags": {"consul.hashicorp.com.service-name": "web", "team": ""},
            "Tags": ["v1", "blue"],
        })
    }

    #[test]
    fn comparisons_and_logic() {
        let d = doc();
        let t = |e: &str| Expr::parse(e, None).unwrap().eval(&d);
        assert!(t(r#"entity_name == "consul-ecs-web""#));
        assert!(t(r#"entity_name != "x" and entity_path == "/consul-ecs/""#));
        assert!(t(
            r#"entity_tags["consul.hashicorp.com.service-name"] == web"#
        ));
        assert!(t(
            r#"entity_tags.consul.hashicorp.com.service-name == "web""#
        ));
        assert!(t(r#"entity_tags["team"] == """#));
        assert!(t(r#"entity_tags["absent"] == """#));
        assert!(t(r#""v1" in Tags"#));
        assert!(t(r#""v2" not in Tags"#));
        assert!(t(r#"Tags contains "blue""#));
        assert!(t(r#"not (entity_name == "a" or entity_name == "b")"#));
        assert!(t(r#"entity_name matches "^consul-""#));
        assert!(t(r#"entity_tags is not empty"#));
        assert!(!t(r#"entity_name == "a" or entity_name == "b""#));
    }

    #[test]
    fn bad_expressions_and_fields_are_rejected() {
        assert!(Expr::parse("entity_name ==", None).is_err());
        assert!(Expr::parse("(entity_name == a", None).is_err());
        assert!(Expr::parse("bogus == a", Some(&["entity_name"])).is_err());
        assert!(Expr::parse("entity_name == a", Some(&["entity_name"])).is_ok());
    }

    #[test]
    fn interpolation() {
        let vars = |n: &str| (n == "entity_tags.a.b").then(|| "web".to_string());
        assert_eq!(interpolate("x-${entity_tags.a.b}", &vars).unwrap(), "x-web");
        assert!(interpolate("${nope}", &vars).is_err());
        assert!(interpolate("${oops", &vars).is_err());
    }
}
