//! Check-string parsing (oslo.policy `_parser.py`): a tokenizer that splits
//! on whitespace and peels parentheses off the ends of words, and a
//! recursive-descent parser with oslo's precedence — `not` binds tighter
//! than `and`, which binds tighter than `or`.
//!
//! oslo.policy reduces tokens greedily on a stack; for every string it
//! accepts, the tree it builds has the same meaning as the one built here.
//! Where oslo logs and fails closed (a word with no `:`, unbalanced
//! parentheses), this parser returns an error with the byte offset.

use crate::check::{Check, Key, Left, Part, Template, py_float};

/// A parse failure: byte offset into the check string and what was wrong.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

impl ParseError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            message: message.into(),
        }
    }
}

/// Parses a whole check string. The empty string is `@`, as in oslo.
pub(crate) fn parse(text: &str) -> Result<Check, ParseError> {
    if text.is_empty() {
        return Ok(Check::Always);
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        end: text.len(),
    };
    let check = parser.or_expr()?;
    match parser.tokens.get(parser.next) {
        None => Ok(check),
        Some(token) => Err(ParseError::new(
            token.offset,
            format!("expected `and`, `or` or the end, found {}", token.kind.describe()),
        )),
    }
}

#[derive(Debug)]
enum Kind {
    LeftParen,
    RightParen,
    And,
    Or,
    Not,
    /// A whole word in quotes: oslo makes it a string token that no rule
    /// accepts.
    Quoted,
    Check(Check),
}

impl Kind {
    fn describe(&self) -> &'static str {
        match self {
            Kind::LeftParen => "`(`",
            Kind::RightParen => "`)`",
            Kind::And => "`and`",
            Kind::Or => "`or`",
            Kind::Not => "`not`",
            Kind::Quoted => "a quoted string",
            Kind::Check(_) => "a check",
        }
    }
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    offset: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    for (start, word) in words(text) {
        let clean = word.trim_start_matches('(');
        let leading = word.len() - clean.len();
        for i in 0..leading {
            tokens.push(Token {
                kind: Kind::LeftParen,
                offset: start + i,
            });
        }
        if clean.is_empty() {
            continue;
        }
        let start = start + leading;
        let core = clean.trim_end_matches(')');
        let kind = if core.eq_ignore_ascii_case("and") {
            Some(Kind::And)
        } else if core.eq_ignore_ascii_case("or") {
            Some(Kind::Or)
        } else if core.eq_ignore_ascii_case("not") {
            Some(Kind::Not)
        } else if core.is_empty() {
            None
        } else if is_quoted(clean) {
            // oslo tests the word with its trailing parentheses still on.
            Some(Kind::Quoted)
        } else {
            Some(Kind::Check(parse_check(core, start)?))
        };
        if let Some(kind) = kind {
            tokens.push(Token { kind, offset: start });
        }
        for i in core.len()..clean.len() {
            tokens.push(Token {
                kind: Kind::RightParen,
                offset: start + i,
            });
        }
    }
    Ok(tokens)
}

/// The whitespace-separated words of `text` with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(char::is_whitespace)
        .filter(|w| !w.is_empty())
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

fn is_quoted(word: &str) -> bool {
    word.len() >= 2
        && ((word.starts_with('"') && word.ends_with('"')) || (word.starts_with('\'') && word.ends_with('\'')))
}

/// One check word: `@`, `!`, `rule:NAME`, `role:NAME`, `http(s):…`, or a
/// generic `left:right`.
fn parse_check(word: &str, offset: usize) -> Result<Check, ParseError> {
    match word {
        "@" => return Ok(Check::Always),
        "!" => return Ok(Check::Never),
        _ => {}
    }
    let Some((kind, value)) = word.split_once(':') else {
        return Err(ParseError::new(
            offset,
            format!("`{word}` is not a check (expected `kind:value`, `@` or `!`)"),
        ));
    };
    let value_offset = offset + kind.len() + 1;
    Ok(match kind {
        "rule" => Check::Rule {
            name: value.to_owned(),
            index: None,
        },
        "role" => Check::Role(template(value, value_offset)?),
        "http" | "https" => {
            tracing::warn!(
                check = word,
                "policy: http checks are not supported; this check never matches"
            );
            Check::Never
        }
        _ => Check::Generic {
            left: left_side(kind),
            right: template(value, value_offset)?,
        },
    })
}

/// oslo tries `ast.literal_eval` on the left side first: a Python literal
/// is compared as a value, anything else is a path into the credentials.
fn left_side(kind: &str) -> Left {
    match python_literal(kind) {
        Some(literal) => Left::Literal(literal),
        None => Left::Path(kind.split('.').map(str::to_owned).collect()),
    }
}

/// `str()` of `kind` if it is a simple Python literal: a quoted string,
/// `True`, `False`, `None`, an integer or a float.
fn python_literal(kind: &str) -> Option<String> {
    match kind {
        "True" | "False" | "None" => return Some(kind.to_owned()),
        _ => {}
    }
    if is_quoted(kind) {
        return Some(kind[1..kind.len() - 1].to_owned());
    }
    let digits = kind.strip_prefix(['-', '+']).unwrap_or(kind);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if let Ok(i) = kind.parse::<i128>() {
        return Some(i.to_string());
    }
    let numeric = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-');
    if !digits.chars().all(numeric) {
        return None;
    }
    kind.parse::<f64>().ok().map(py_float)
}

/// Splits a value into text and `%(key)s` substitutions, as Python's
/// `match % target` would read it. `%%` is a literal `%`; any other `%`
/// form is an error (Python would raise at enforcement time).
fn template(value: &str, offset: usize) -> Result<Template, ParseError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        text.push_str(&rest[..at]);
        let here = offset + (value.len() - rest.len()) + at;
        let after = &rest[at + 1..];
        if let Some(after) = after.strip_prefix('%') {
            text.push('%');
            rest = after;
            continue;
        }
        let Some(inner) = after.strip_prefix('(') else {
            return Err(ParseError::new(
                here,
                "a `%` must start `%(key)s` (or be doubled, `%%`)",
            ));
        };
        // Python matches parentheses inside the key.
        let mut depth = 1;
        let close = inner.char_indices().find_map(|(i, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(i)
        });
        let Some(close) = close else {
            return Err(ParseError::new(here, "unclosed `%(`"));
        };
        let key = &inner[..close];
        let Some(after) = inner[close + 1..].strip_prefix('s') else {
            return Err(ParseError::new(
                here,
                format!("only `%({key})s` substitutions are supported"),
            ));
        };
        if !text.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut text)));
        }
        parts.push(Part::Substitution(Key {
            flat: key.to_owned(),
            path: key.split('.').map(str::to_owned).collect(),
        }));
        rest = after;
    }
    text.push_str(rest);
    if !text.is_empty() || parts.is_empty() {
        parts.push(Part::Literal(text));
    }
    Ok(Template { parts })
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// Offset reported for "unexpected end".
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.next).map(|t| &t.kind)
    }

    /// `and_expr ("or" and_expr)*`
    fn or_expr(&mut self) -> Result<Check, ParseError> {
        let first = self.and_expr()?;
        if !matches!(self.peek(), Some(Kind::Or)) {
            return Ok(first);
        }
        let mut checks = vec![first];
        while matches!(self.peek(), Some(Kind::Or)) {
            self.next += 1;
            checks.push(self.and_expr()?);
        }
        Ok(Check::Or(checks))
    }

    /// `unary ("and" unary)*`
    fn and_expr(&mut self) -> Result<Check, ParseError> {
        let first = self.unary()?;
        if !matches!(self.peek(), Some(Kind::And)) {
            return Ok(first);
        }
        let mut checks = vec![first];
        while matches!(self.peek(), Some(Kind::And)) {
            self.next += 1;
            checks.push(self.unary()?);
        }
        Ok(Check::And(checks))
    }

    /// `"not" unary | "(" or_expr ")" | check`
    fn unary(&mut self) -> Result<Check, ParseError> {
        let Some(token) = self.tokens.get_mut(self.next) else {
            return Err(ParseError::new(
                self.end,
                "unexpected end; expected a check, `not` or `(`",
            ));
        };
        let offset = token.offset;
        match &mut token.kind {
            Kind::Not => {
                self.next += 1;
                Ok(Check::Not(Box::new(self.unary()?)))
            }
            Kind::LeftParen => {
                self.next += 1;
                let inner = self.or_expr()?;
                match self.tokens.get(self.next) {
                    Some(Token {
                        kind: Kind::RightParen, ..
                    }) => {
                        self.next += 1;
                        Ok(inner)
                    }
                    Some(other) => Err(ParseError::new(
                        other.offset,
                        format!(
                            "expected `)` to close the `(` at byte {offset}, found {}",
                            other.kind.describe()
                        ),
                    )),
                    None => Err(ParseError::new(offset, "unclosed `(`")),
                }
            }
            Kind::Check(check) => {
                let check = std::mem::replace(check, Check::Never);
                self.next += 1;
                Ok(check)
            }
            Kind::Quoted => Err(ParseError::new(offset, "a quoted string is not a check")),
            other => Err(ParseError::new(
                offset,
                format!("expected a check, `not` or `(`, found {}", other.describe()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(path: &str, value: &str) -> Check {
        Check::Generic {
            left: Left::Path(path.split('.').map(str::to_owned).collect()),
            right: Template {
                parts: vec![Part::Literal(value.to_owned())],
            },
        }
    }

    fn rule(name: &str) -> Check {
        Check::Rule {
            name: name.to_owned(),
            index: None,
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let got = parse("rule:a or rule:b and rule:c").unwrap();
        assert_eq!(got, Check::Or(vec![rule("a"), Check::And(vec![rule("b"), rule("c")])]));
        let got = parse("rule:a and rule:b or rule:c").unwrap();
        assert_eq!(got, Check::Or(vec![Check::And(vec![rule("a"), rule("b")]), rule("c")]));
    }

    #[test]
    fn not_binds_tightest_and_parentheses_group() {
        let got = parse("not rule:a and rule:b").unwrap();
        assert_eq!(got, Check::And(vec![Check::Not(Box::new(rule("a"))), rule("b")]));
        let got = parse("not (rule:a and rule:b)").unwrap();
        assert_eq!(got, Check::Not(Box::new(Check::And(vec![rule("a"), rule("b")]))));
        let got = parse("((rule:a or rule:b)) and rule:c").unwrap();
        assert_eq!(got, Check::And(vec![Check::Or(vec![rule("a"), rule("b")]), rule("c")]));
    }

    #[test]
    fn operators_are_case_insensitive() {
        let got = parse("rule:a AND NOT rule:b Or rule:c").unwrap();
        let want = Check::Or(vec![
            Check::And(vec![rule("a"), Check::Not(Box::new(rule("b")))]),
            rule("c"),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn checks_and_literals() {
        assert_eq!(parse("").unwrap(), Check::Always);
        assert_eq!(parse("@").unwrap(), Check::Always);
        assert_eq!(parse("(!)").unwrap(), Check::Never);
        assert_eq!(parse("http://example.com/check").unwrap(), Check::Never);
        assert_eq!(parse("system_scope:all").unwrap(), generic("system_scope", "all"));
        let Check::Generic { left, .. } = parse("'member':%(role.name)s").unwrap() else {
            panic!()
        };
        assert_eq!(left, Left::Literal("member".into()));
        let Check::Generic { left, .. } = parse("None:%(x)s").unwrap() else {
            panic!()
        };
        assert_eq!(left, Left::Literal("None".into()));
        let Check::Generic { left, .. } = parse("1.50:%(x)s").unwrap() else {
            panic!()
        };
        assert_eq!(left, Left::Literal("1.5".into()));
        let Check::Generic { left, .. } = parse("007x:%(x)s").unwrap() else {
            panic!()
        };
        assert_eq!(left, Left::Path(vec!["007x".into()]));
    }

    #[test]
    fn templates() {
        let t = template("a%%b", 0).unwrap();
        assert_eq!(t.parts, vec![Part::Literal("a%b".into())]);
        let t = template("pre-%(target.x)s-post", 0).unwrap();
        assert_eq!(t.parts.len(), 3);
        assert_eq!(
            t.parts[1],
            Part::Substitution(Key {
                flat: "target.x".into(),
                path: vec!["target".into(), "x".into()]
            })
        );
        assert_eq!(template("", 0).unwrap().parts, vec![Part::Literal(String::new())]);
        assert_eq!(template("x%(y)d", 3).unwrap_err().offset, 4);
        assert_eq!(template("x%y", 0).unwrap_err().offset, 1);
        assert!(template("%(y", 0).is_err());
    }

    #[test]
    fn errors_carry_offsets() {
        let err = parse("role:a and").unwrap_err();
        assert_eq!(err.offset, 10);
        let err = parse("role:a  bogus").unwrap_err();
        assert_eq!(err.offset, 8);
        assert!(err.message.contains("bogus"), "{}", err.message);
        let err = parse("(role:a or role:b").unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(err.message.contains("unclosed"), "{}", err.message);
        let err = parse("role:a)").unwrap_err();
        assert_eq!(err.offset, 6);
        let err = parse("role:a role:b").unwrap_err();
        assert_eq!(err.offset, 7);
        let err = parse("'quoted'").unwrap_err();
        assert_eq!(err.offset, 0);
        let err = parse("   ").unwrap_err();
        assert_eq!(err.offset, 3);
        let err = parse("not").unwrap_err();
        assert_eq!(err.offset, 3);
        let err = parse("()").unwrap_err();
        assert_eq!(err.offset, 1);
    }
}
