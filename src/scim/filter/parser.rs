//! Lexer and bounded recursive-descent parser for RFC 7644 §3.4.2.2 filters; PATCH paths
//! (`crate::scim::path`) reuse it so both grammars share one tokenizer.

use std::str::FromStr;

use super::ast::{
    AttrPath, CompValue, CompareOp, Expr, Filter, NoValuePath, ValueFilter, ValuePath,
};
use crate::scim::error::{ScimError, ScimResult};

/// Longest filter (or PATCH path) accepted, in bytes; bounds parser work per request.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses/`not`/value paths accepted.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Tallest AST accepted: a chain of `and`/`or` terms grows the tree by one level per term, so
/// this is what bounds long `value eq "a" or value eq "b" or …` lists. Bounding nesting and height
/// keeps the parser and every recursive consumer of the tree (eval, SQL, Display, drop) far from
/// the stack's limit whatever the client sends.
pub const MAX_FILTER_HEIGHT: usize = 256;

/// Longest token excerpt quoted back in error messages.
const EXCERPT_CHARS: usize = 40;

/// Parses a `filter` query parameter; errors are `invalidFilter`.
pub fn parse_filter(input: &str) -> ScimResult<Filter> {
    let mut p = Parser::new(input, ErrorKind::Filter)?;
    let (filter, _) = p.parse_or::<ValuePath>()?;
    p.expect_end()?;
    Ok(filter)
}

impl FromStr for Filter {
    type Err = ScimError;

    fn from_str(s: &str) -> ScimResult<Self> {
        parse_filter(s)
    }
}

/// Which `scimType` the parser's errors carry: the same grammar serves filters and PATCH paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Filter,
    Path,
}

impl ErrorKind {
    fn error(self, detail: String) -> ScimError {
        match self {
            ErrorKind::Filter => ScimError::invalid_filter(detail),
            ErrorKind::Path => ScimError::invalid_path(detail),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            ErrorKind::Filter => "filter",
            ErrorKind::Path => "path",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// Any run of characters other than whitespace, brackets, parentheses and `"`: attribute
    /// paths, keywords, operators, numbers and `true`/`false`/`null`.
    Word(&'a str),
    /// A JSON string literal, already unescaped.
    Str(String),
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok<'a>,
    /// Byte offset of the token's first character in the input.
    pos: usize,
}

/// Shortens `s` to a readable excerpt without splitting a character.
fn excerpt(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

fn describe(tok: Option<&Token<'_>>) -> String {
    match tok.map(|t| &t.tok) {
        None => "end of input".to_owned(),
        Some(Tok::LParen) => "'('".to_owned(),
        Some(Tok::RParen) => "')'".to_owned(),
        Some(Tok::LBracket) => "'['".to_owned(),
        Some(Tok::RBracket) => "']'".to_owned(),
        Some(Tok::Word(w)) => format!("'{}'", excerpt(w)),
        Some(Tok::Str(s)) => format!("string \"{}\"", excerpt(s)),
    }
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

fn lex(input: &str, kind: ErrorKind) -> ScimResult<Vec<Token<'_>>> {
    let mut toks = Vec::new();
    let mut iter = input.char_indices().peekable();
    while let Some(&(pos, c)) = iter.peek() {
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(tok) = simple {
            iter.next();
            toks.push(Token { tok, pos });
        } else if c.is_whitespace() {
            iter.next();
        } else if c == '"' {
            let end = string_end(input, pos).ok_or_else(|| {
                kind.error(format!("unterminated string literal starting at {pos}"))
            })?;
            let literal = input.get(pos..=end).unwrap_or_default();
            let value: String = serde_json::from_str(literal).map_err(|_| {
                kind.error(format!("invalid string literal at {pos}: {}", excerpt(literal)))
            })?;
            toks.push(Token { tok: Tok::Str(value), pos });
            while iter.peek().is_some_and(|&(p, _)| p <= end) {
                iter.next();
            }
        } else {
            let mut end = input.len();
            while let Some(&(p, ch)) = iter.peek() {
                if is_delimiter(ch) {
                    end = p;
                    break;
                }
                iter.next();
            }
            let word = input.get(pos..end).unwrap_or_default();
            toks.push(Token { tok: Tok::Word(word), pos });
        }
    }
    Ok(toks)
}

/// Byte index of the `"` closing the string literal opened at `start`.
fn string_end(input: &str, start: usize) -> Option<usize> {
    let bytes = input.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            // Skipping one byte is safe: UTF-8 continuation bytes never equal `"` or `\`.
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Parses a bare attribute path (`[urn:]name[.sub]`) found at byte `pos`.
fn parse_attr_path(word: &str, pos: usize, kind: ErrorKind) -> ScimResult<AttrPath> {
    let is_urn = word.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest, rest_pos) = if is_urn {
        // The attribute starts after the last ':'; URN segments may themselves contain dots.
        let colon = word.rfind(':').unwrap_or(3);
        let urn = &word[..colon];
        if urn.split(':').any(str::is_empty) || urn.split(':').count() < 3 {
            return Err(kind.error(format!("invalid schema URN '{}' at {pos}", excerpt(urn))));
        }
        (Some(urn.to_owned()), &word[colon + 1..], pos + colon + 1)
    } else {
        (None, word, pos)
    };
    let mut parts = rest.splitn(2, '.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    check_name(name, rest_pos, kind)?;
    if let Some(sub) = sub {
        check_name(sub, rest_pos + name.len() + 1, kind)?;
    }
    Ok(AttrPath { urn, name: name.to_owned(), sub: sub.map(str::to_owned) })
}

/// `ATTRNAME = ALPHA *(nameChar)` or `$ref`.
fn is_valid_name(name: &str) -> bool {
    if name == "$ref" {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_name(name: &str, pos: usize, kind: ErrorKind) -> ScimResult<()> {
    if name.is_empty() {
        Err(kind.error(format!("missing attribute name at {pos}")))
    } else if is_valid_name(name) {
        Ok(())
    } else {
        Err(kind.error(format!("invalid attribute name '{}' at {pos}", excerpt(name))))
    }
}

/// Parses a standalone attribute path, as used for the keys of a path-less PATCH value.
pub(crate) fn parse_attr_path_str(input: &str, kind: ErrorKind) -> ScimResult<AttrPath> {
    if input.len() > MAX_FILTER_LEN || input.is_empty() || input.contains(is_delimiter) {
        return Err(kind.error(format!("invalid attribute path '{}'", excerpt(input))));
    }
    parse_attr_path(input, 0, kind)
}

/// The pieces of `attrPath [ "[" valFilter "]" [ "." subAttr ] ]` (RFC 7644 §3.5.2 `PATH`).
pub(crate) fn parse_path_parts(
    input: &str,
    kind: ErrorKind,
) -> ScimResult<(AttrPath, Option<ValueFilter>, Option<String>)> {
    let mut p = Parser::new(input, kind)?;
    let Some(Token { tok: Tok::Word(word), pos }) = p.peek().cloned() else {
        return Err(p.unexpected("an attribute path"));
    };
    p.advance();
    let attr = parse_attr_path(word, pos, kind)?;
    let mut filter = None;
    let mut sub_attr = None;
    if p.peek_is(&Tok::LBracket) {
        let (f, _) = p.parse_value_path_filter(&attr)?;
        filter = Some(f);
        if let Some(Token { tok: Tok::Word(word), pos }) = p.peek().cloned()
            && let Some(sub) = word.strip_prefix('.')
        {
            check_name(sub, pos + 1, kind)?;
            sub_attr = Some(sub.to_owned());
            p.advance();
        }
    }
    p.expect_end()?;
    Ok((attr, filter, sub_attr))
}

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    next: usize,
    input_len: usize,
    /// Current nesting of parentheses, `not` and value paths.
    nesting: usize,
    kind: ErrorKind,
}

/// A parsed sub-tree together with its height, so depth is checked without re-walking.
type Parsed<V> = (Expr<V>, usize);

/// `Expr::And` or `Expr::Or`: joins two operands of a chain.
type Join<V> = fn(Box<Expr<V>>, Box<Expr<V>>) -> Expr<V>;

/// How each level of a filter reads `attr[`: the top level parses the bracketed value filter,
/// the inside of brackets refuses it. This is the only place a nested value path is refused; the
/// tree types cannot hold one.
trait ParseNested: Sized {
    fn value_path(p: &mut Parser<'_>, attr: AttrPath) -> ScimResult<(Self, usize)>;
}

impl ParseNested for ValuePath {
    fn value_path(p: &mut Parser<'_>, attr: AttrPath) -> ScimResult<(Self, usize)> {
        let (filter, h) = p.parse_value_path_filter(&attr)?;
        Ok((ValuePath { attr, filter: Box::new(filter) }, h + 1))
    }
}

impl ParseNested for NoValuePath {
    fn value_path(p: &mut Parser<'_>, _: AttrPath) -> ScimResult<(Self, usize)> {
        Err(p.error(format!("nested value filter at {} is not allowed", p.pos())))
    }
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, kind: ErrorKind) -> ScimResult<Self> {
        if input.len() > MAX_FILTER_LEN {
            return Err(kind.error(format!(
                "{} is {} bytes long, longer than the maximum of {MAX_FILTER_LEN}",
                kind.noun(),
                input.len()
            )));
        }
        let toks = lex(input, kind)?;
        if toks.is_empty() {
            return Err(kind.error(format!("empty {}", kind.noun())));
        }
        Ok(Parser { toks, next: 0, input_len: input.len(), nesting: 0, kind })
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.toks.get(self.next)
    }

    fn peek_is(&self, tok: &Tok<'_>) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
    }

    fn advance(&mut self) {
        self.next += 1;
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.input_len, |t| t.pos)
    }

    fn error(&self, detail: String) -> ScimError {
        self.kind.error(detail)
    }

    fn unexpected(&self, expected: &str) -> ScimError {
        let found = describe(self.peek());
        match self.peek() {
            None => self.error(format!("unexpected end of input, expected {expected}")),
            Some(t) => {
                self.error(format!("unexpected token {found} at {}, expected {expected}", t.pos))
            }
        }
    }

    fn expect(&mut self, tok: &Tok<'_>, expected: &str) -> ScimResult<()> {
        if self.peek_is(tok) {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn expect_end(&self) -> ScimResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(Token { tok: Tok::RParen, pos }) => {
                Err(self.error(format!("unmatched ')' at {pos}")))
            }
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) if w.starts_with('.') && self.kind == ErrorKind::Filter => Err(self.error(format!(
                "unexpected sub-attribute '{}' at {pos}: a sub-attribute after ']' is only allowed in PATCH paths",
                excerpt(w)
            ))),
            Some(_) => Err(self.unexpected(match self.kind {
                ErrorKind::Filter => "'and', 'or' or end of input",
                ErrorKind::Path => "end of path",
            })),
        }
    }

    /// Enters one level of parentheses/`not`/value path, refusing to go past the limit.
    fn enter(&mut self, pos: usize) -> ScimResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_FILTER_DEPTH {
            return Err(self.error(format!(
                "{} nests deeper than the maximum of {MAX_FILTER_DEPTH} at {pos}",
                self.kind.noun()
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    fn check_height(&self, height: usize, pos: usize) -> ScimResult<()> {
        if height > MAX_FILTER_HEIGHT {
            return Err(self.error(format!(
                "{} expression at {pos} has more than the maximum of {MAX_FILTER_HEIGHT} nested terms",
                self.kind.noun()
            )));
        }
        Ok(())
    }

    /// `or` binds loosest; left-associative.
    fn parse_or<V: ParseNested>(&mut self) -> ScimResult<Parsed<V>> {
        self.parse_chain("or", Self::parse_and, Expr::Or)
    }

    fn parse_and<V: ParseNested>(&mut self) -> ScimResult<Parsed<V>> {
        self.parse_chain("and", Self::parse_unary, Expr::And)
    }

    /// `operand (keyword operand)*`, folded to the left with `join`; each join adds one level to
    /// the height that `check_height` bounds.
    fn parse_chain<V: ParseNested>(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> ScimResult<Parsed<V>>,
        join: Join<V>,
    ) -> ScimResult<Parsed<V>> {
        let (mut left, mut height) = operand(self)?;
        while self.peek_keyword(keyword) {
            let pos = self.pos();
            self.advance();
            let (right, rh) = operand(self)?;
            height = height.max(rh) + 1;
            self.check_height(height, pos)?;
            left = join(Box::new(left), Box::new(right));
        }
        Ok((left, height))
    }

    /// `"(" filter ")"`, `not "(" filter ")"`, or an attribute expression / value path.
    fn parse_unary<V: ParseNested>(&mut self) -> ScimResult<Parsed<V>> {
        let pos = self.pos();
        match self.peek().map(|t| &t.tok) {
            Some(Tok::LParen) => {
                self.enter(pos)?;
                self.advance();
                let parsed = self.parse_or()?;
                self.expect(&Tok::RParen, &format!("')' closing the '(' at {pos}"))?;
                self.leave();
                Ok(parsed)
            }
            Some(Tok::Word(w))
                if w.eq_ignore_ascii_case("not")
                    && self.toks.get(self.next + 1).is_some_and(|t| t.tok == Tok::LParen) =>
            {
                self.enter(pos)?;
                self.advance();
                self.advance();
                let (inner, h) = self.parse_or()?;
                self.expect(&Tok::RParen, &format!("')' closing the 'not (' at {pos}"))?;
                self.leave();
                self.check_height(h + 1, pos)?;
                Ok((Expr::Not(Box::new(inner)), h + 1))
            }
            Some(Tok::Word(_)) => self.parse_attr_expr(),
            _ => Err(self.unexpected("an attribute path, '(' or 'not ('")),
        }
    }

    /// `attrPath "pr"`, `attrPath compareOp compValue`, or `attrPath "[" valFilter "]"`.
    fn parse_attr_expr<V: ParseNested>(&mut self) -> ScimResult<Parsed<V>> {
        let Some(Token { tok: Tok::Word(word), pos }) = self.peek().cloned() else {
            return Err(self.unexpected("an attribute path"));
        };
        self.advance();
        let path = parse_attr_path(word, pos, self.kind)?;
        if self.peek_is(&Tok::LBracket) {
            return V::value_path(self, path).map(|(nested, h)| (Expr::ValuePath(nested), h));
        }
        let op_word = match self.peek() {
            Some(Token { tok: Tok::Word(w), .. }) => *w,
            _ => return Err(self.unexpected("a comparison operator or 'pr'")),
        };
        if op_word.eq_ignore_ascii_case("pr") {
            self.advance();
            return Ok((Expr::Present(path), 1));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            return Err(self.unexpected("a comparison operator or 'pr'"));
        };
        self.advance();
        let value = self.parse_comp_value()?;
        Ok((Expr::Compare { path, op, value }, 1))
    }

    /// Parses `"[" valFilter "]"` after `attr`; returns the inner filter and its height + 1.
    fn parse_value_path_filter(&mut self, attr: &AttrPath) -> ScimResult<Parsed<NoValuePath>> {
        let pos = self.pos();
        if attr.sub.is_some() {
            return Err(self.error(format!(
                "value filter at {pos} must follow an attribute, not the sub-attribute '{attr}'"
            )));
        }
        self.enter(pos)?;
        self.advance();
        let (inner, h): (ValueFilter, usize) = self.parse_or()?;
        self.expect(&Tok::RBracket, &format!("']' closing the '[' at {pos}"))?;
        self.leave();
        self.check_height(h + 1, pos)?;
        Ok((inner, h + 1))
    }

    fn parse_comp_value(&mut self) -> ScimResult<CompValue> {
        let expected = "a comparison value (string, number, true, false or null)";
        let value = match self.peek() {
            Some(Token { tok: Tok::Str(s), .. }) => CompValue::Str(s.clone()),
            Some(Token { tok: Tok::Word(w), pos }) => {
                if w.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if w.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if w.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else if let Ok(n) = serde_json::from_str::<serde_json::Number>(w) {
                    CompValue::Number(n)
                } else {
                    return Err(self.error(format!(
                        "invalid comparison value '{}' at {pos}, expected {expected}",
                        excerpt(w)
                    )));
                }
            }
            _ => return Err(self.unexpected(expected)),
        };
        self.advance();
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn path(s: &str) -> AttrPath {
        parse_attr_path_str(s, ErrorKind::Filter).unwrap()
    }
    fn cmp(p: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path: path(p), op, value }
    }
    fn st(s: &str) -> CompValue {
        CompValue::Str(s.to_owned())
    }
    fn num(s: &str) -> CompValue {
        CompValue::Number(serde_json::from_str(s).unwrap())
    }
    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }
    fn and(l: Filter, r: Filter) -> Filter {
        Filter::And(Box::new(l), Box::new(r))
    }
    fn or(l: Filter, r: Filter) -> Filter {
        Filter::Or(Box::new(l), Box::new(r))
    }
    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }
    fn vp(attr: &str, f: Filter) -> Filter {
        let inner = value_filter(f);
        Filter::ValuePath(ValuePath { attr: path(attr), filter: Box::new(inner) })
    }
    /// The test trees are built as top-level filters; inside brackets they hold no value path.
    fn value_filter(f: Filter) -> ValueFilter {
        match f {
            Expr::Compare { path, op, value } => Expr::Compare { path, op, value },
            Expr::Present(p) => Expr::Present(p),
            Expr::And(l, r) => Expr::And(Box::new(value_filter(*l)), Box::new(value_filter(*r))),
            Expr::Or(l, r) => Expr::Or(Box::new(value_filter(*l)), Box::new(value_filter(*r))),
            Expr::Not(f) => Expr::Not(Box::new(value_filter(*f))),
            Expr::ValuePath(v) => panic!("nested value path in a test tree: {v}"),
        }
    }
    fn err(input: &str) -> ScimError {
        match parse_filter(input) {
            Ok(f) => panic!("{input:?} parsed as {f:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_valid_filters() {
        use CompareOp::*;
        let ent_input = format!("{ENT}:employeeNumber eq \"701984\"");
        let core_input = format!("{CORE}:name.familyName pr");
        let cases: Vec<(&str, Filter)> = vec![
            (r#"userName eq "bjensen""#, cmp("userName", Eq, st("bjensen"))),
            (r#"userName EQ "bjensen""#, cmp("userName", Eq, st("bjensen"))),
            (r#"userName Eq"bjensen""#, cmp("userName", Eq, st("bjensen"))),
            (r#"title ne "x""#, cmp("title", Ne, st("x"))),
            (r#"name.familyName co "O'Malley""#, cmp("name.familyName", Co, st("O'Malley"))),
            (r#"userName sw "J""#, cmp("userName", Sw, st("J"))),
            (r#"userName ew "n""#, cmp("userName", Ew, st("n"))),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Gt, st("2011-05-13T04:42:34Z")),
            ),
            (r#"x GE "a""#, cmp("x", Ge, st("a"))),
            (r#"x lt 5"#, cmp("x", Lt, num("5"))),
            (r#"x le -1.5"#, cmp("x", Le, num("-1.5"))),
            (r#"x eq 1e3"#, cmp("x", Eq, num("1e3"))),
            (r#"x eq 0"#, cmp("x", Eq, num("0"))),
            ("title pr", pr("title")),
            ("title PR", pr("title")),
            ("active eq true", cmp("active", Eq, CompValue::Bool(true))),
            ("active eq False", cmp("active", Eq, CompValue::Bool(false))),
            ("active eq TRUE", cmp("active", Eq, CompValue::Bool(true))),
            ("manager eq NULL", cmp("manager", Eq, CompValue::Null)),
            ("members.$ref eq \"u\"", cmp("members.$ref", Eq, st("u"))),
            ("$ref pr", pr("$ref")),
            ("a-b_c9 pr", pr("a-b_c9")),
            (r#"  userName   eq   "x"  "#, cmp("userName", Eq, st("x"))),
            // Escapes and non-ASCII survive.
            (r#"x eq "a\"b\\c\u00e9\n/\/""#, cmp("x", Eq, st("a\"b\\cé\n//"))),
            ("x eq \"日本語 é\"", cmp("x", Eq, st("日本語 é"))),
            // URNs: the attribute starts after the last ':'.
            (
                &ent_input,
                Filter::Compare {
                    path: AttrPath {
                        urn: Some(ENT.to_owned()),
                        name: "employeeNumber".to_owned(),
                        sub: None,
                    },
                    op: Eq,
                    value: st("701984"),
                },
            ),
            (
                &core_input,
                Filter::Present(AttrPath {
                    urn: Some(CORE.to_owned()),
                    name: "name".to_owned(),
                    sub: Some("familyName".to_owned()),
                }),
            ),
            // Precedence: and binds tighter than or.
            (
                "a eq 1 or b eq 2 and c eq 3",
                or(cmp("a", Eq, num("1")), and(cmp("b", Eq, num("2")), cmp("c", Eq, num("3")))),
            ),
            (
                "a eq 1 and b eq 2 or c eq 3",
                or(and(cmp("a", Eq, num("1")), cmp("b", Eq, num("2"))), cmp("c", Eq, num("3"))),
            ),
            // Left associativity.
            ("a pr and b pr and c pr", and(and(pr("a"), pr("b")), pr("c"))),
            ("a pr or b pr OR c pr", or(or(pr("a"), pr("b")), pr("c"))),
            ("a pr AND b pr", and(pr("a"), pr("b"))),
            // Parentheses.
            (
                "(a eq 1 or b eq 2) and c eq 3",
                and(or(cmp("a", Eq, num("1")), cmp("b", Eq, num("2"))), cmp("c", Eq, num("3"))),
            ),
            ("((a pr))", pr("a")),
            ("a pr and (b pr or c pr)", and(pr("a"), or(pr("b"), pr("c")))),
            // not.
            ("not (a pr)", not(pr("a"))),
            ("NOT(a pr) and b pr", and(not(pr("a")), pr("b"))),
            ("not (a pr or b pr)", not(or(pr("a"), pr("b")))),
            ("not (not (a pr))", not(not(pr("a")))),
            // An attribute that happens to be called `not`.
            ("not pr", pr("not")),
            // Value paths.
            (r#"emails[type eq "work"]"#, vp("emails", cmp("type", Eq, st("work")))),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                or(
                    vp(
                        "emails",
                        and(cmp("type", Eq, st("work")), cmp("value", Co, st("@example.com"))),
                    ),
                    vp("ims", and(cmp("type", Eq, st("xmpp")), cmp("value", Co, st("@foo.com")))),
                ),
            ),
            (
                r#"emails[not (primary eq true)]"#,
                vp("emails", not(cmp("primary", Eq, CompValue::Bool(true)))),
            ),
            (
                r#"emails[(type eq "a" or type eq "b") and value pr]"#,
                vp(
                    "emails",
                    and(or(cmp("type", Eq, st("a")), cmp("type", Eq, st("b"))), pr("value")),
                ),
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                and(
                    cmp("userType", Eq, st("Employee")),
                    vp(
                        "emails",
                        and(cmp("type", Eq, st("work")), cmp("value", Co, st("@example.com"))),
                    ),
                ),
            ),
        ];
        for (input, expected) in cases {
            let got = parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(got, expected, "{input:?}");
            // Round-trip through the canonical text.
            let text = got.to_string();
            assert_eq!(parse_filter(&text).unwrap(), got, "{input:?} → {text:?}");
            assert_eq!(input.parse::<Filter>().unwrap(), got);
        }
    }

    #[test]
    fn display_is_canonical() {
        let cases = [
            (r#"userName EQ "bjensen""#, r#"userName eq "bjensen""#),
            ("a eq 1 or b eq 2 and c eq 3", "a eq 1 or b eq 2 and c eq 3"),
            ("(a eq 1 or b eq 2) and c eq 3", "(a eq 1 or b eq 2) and c eq 3"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("((a pr) and b pr)", "a pr and b pr"),
            ("NOT(a pr)", "not (a pr)"),
            ("active eq TRUE", "active eq true"),
            ("x eq NuLL", "x eq null"),
            ("x eq 1e3", "x eq 1000.0"),
            (r#"x eq "a\u0022\t""#, r#"x eq "a\"\t""#),
            (r#"emails[type eq "work"]"#, r#"emails[type eq "work"]"#),
        ];
        for (input, canonical) in cases {
            assert_eq!(parse_filter(input).unwrap().to_string(), canonical, "{input:?}");
        }
    }

    #[test]
    fn display_round_trips_constructed_trees() {
        let trees = [
            or(pr("a"), or(pr("b"), pr("c"))),
            and(pr("a"), and(pr("b"), pr("c"))),
            and(or(pr("a"), pr("b")), or(pr("c"), pr("d"))),
            not(and(pr("a"), not(pr("b")))),
            vp("emails", or(pr("a"), and(pr("b"), pr("c")))),
            cmp("x", CompareOp::Eq, st("quote \" backslash \\ control \u{1}")),
        ];
        for tree in trees {
            let text = tree.to_string();
            assert_eq!(parse_filter(&text).unwrap(), tree, "{text}");
        }
    }

    #[test]
    fn reports_errors_with_position() {
        let cases = [
            ("", "empty filter"),
            ("   ", "empty filter"),
            ("userName", "unexpected end of input, expected a comparison operator or 'pr'"),
            ("userName xx \"a\"", "unexpected token 'xx' at 9, expected a comparison operator"),
            ("userName eq", "unexpected end of input, expected a comparison value"),
            ("userName eq bob", "invalid comparison value 'bob' at 12"),
            ("userName eq 01", "invalid comparison value '01' at 12"),
            ("userName eq (", "unexpected token '(' at 12, expected a comparison value"),
            ("(userName pr", "expected ')' closing the '(' at 0"),
            ("userName pr)", "unmatched ')' at 11"),
            ("userName pr and", "unexpected end of input, expected an attribute path"),
            (
                "userName pr or or x pr",
                "unexpected token 'x' at 18, expected a comparison operator",
            ),
            (
                "userName pr userName pr",
                "unexpected token 'userName' at 12, expected 'and', 'or' or end of input",
            ),
            ("1abc eq 1", "invalid attribute name '1abc' at 0"),
            ("a.b.c eq 1", "invalid attribute name 'b.c' at 2"),
            ("a. eq 1", "missing attribute name at 2"),
            ("a:b eq 1", "invalid attribute name 'a:b' at 0"),
            ("urn:x eq 1", "invalid schema URN 'urn' at 0"),
            ("urn:a::b:c eq 1", "invalid schema URN"),
            ("urn:a:b: eq 1", "missing attribute name at 8"),
            ("x eq \"unterminated", "unterminated string literal starting at 5"),
            ("x eq \"bad \\q escape\"", "invalid string literal at 5"),
            ("x eq \"ctl \u{1}\"", "invalid string literal at 5"),
            (
                r#"emails[type eq "work"].value eq "x""#,
                "sub-attribute '.value' at 22: a sub-attribute after ']' is only allowed in PATCH paths",
            ),
            (r#"emails[type eq "work"]"x""#, "unexpected token string \"x\" at 22"),
            ("emails[type[value eq 1]]", "nested value filter at 11"),
            ("emails[type eq 1", "expected ']' closing the '[' at 6"),
            (
                "emails.value[type eq 1]",
                "must follow an attribute, not the sub-attribute 'emails.value'",
            ),
            ("emails[]", "unexpected token ']' at 7, expected an attribute path"),
            ("()", "unexpected token ')' at 1, expected an attribute path"),
            ("not (a pr", "expected ')' closing the 'not (' at 0"),
            ("not a pr", "unexpected token 'a' at 4, expected a comparison operator"),
            ("]", "unexpected token ']' at 0"),
            ("a pr and not", "unexpected end of input, expected a comparison operator"),
            ("é eq 1", "invalid attribute name 'é' at 0"),
            ("a eq 1 é", "unexpected token 'é' at 7"),
        ];
        for (input, expected) in cases {
            let e = err(input);
            assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidFilter), "{input:?}");
            assert_eq!(e.status, 400);
            assert!(
                e.detail.contains(expected),
                "{input:?}: got {:?}, want {expected:?}",
                e.detail
            );
        }
    }

    #[test]
    fn enforces_length_limit() {
        let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
        assert!(err(&long).detail.contains("maximum of 4096"));
        // Exactly at the limit is fine.
        let value = "a".repeat(MAX_FILTER_LEN - "x eq \"\"".len());
        assert!(parse_filter(&format!("x eq \"{value}\"")).is_ok());
        // A huge nesting attack is rejected up front and cannot overflow the stack.
        let attack = "(".repeat(100_000);
        assert!(err(&attack).detail.contains("maximum of 4096"));
    }

    #[test]
    fn enforces_nesting_limit() {
        let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nested(MAX_FILTER_DEPTH)).is_ok());
        assert!(
            err(&nested(MAX_FILTER_DEPTH + 1))
                .detail
                .contains("nests deeper than the maximum of 32")
        );
        // Unbalanced but deep input fails on depth, long before the missing ')' is noticed.
        assert!(err(&"(".repeat(4000)).detail.contains("nests deeper"));
        assert!(err(&"not (".repeat(800)).detail.contains("nests deeper"));

        let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
        assert_eq!(parse_filter(&nots(MAX_FILTER_DEPTH)).unwrap().depth(), MAX_FILTER_DEPTH + 1);
        assert!(err(&nots(MAX_FILTER_DEPTH + 1)).detail.contains("nests deeper than the maximum"));
    }

    #[test]
    fn enforces_tree_height_limit() {
        let chain = |n: usize| vec!["a pr"; n].join(" and ");
        let ok = parse_filter(&chain(MAX_FILTER_HEIGHT)).unwrap();
        assert_eq!(ok.depth(), MAX_FILTER_HEIGHT);
        assert!(err(&chain(MAX_FILTER_HEIGHT + 1)).detail.contains("nested terms"));
        // Long `or` lists of ids (as sent for membership checks) fit well within the limit.
        let ors = vec!["value eq \"2819c223-7f76-453a-919d-413861904646\""; 80].join(" or ");
        assert!(parse_filter(&ors).is_ok());
        let vp = format!("emails[{}]", vec!["a pr"; MAX_FILTER_HEIGHT].join(" and "));
        assert!(err(&vp).detail.contains("nested terms"));
    }

    /// Deterministic fuzzing: no input may panic, and every success must round-trip.
    #[test]
    fn never_panics_on_arbitrary_input() {
        let atoms = [
            "(",
            ")",
            "[",
            "]",
            "\"",
            "\\",
            " ",
            "eq",
            "and",
            "or",
            "not",
            "pr",
            "a",
            ".",
            ":",
            "urn:",
            "1",
            "-",
            "e",
            "é",
            "日",
            "\u{1F600}",
            "\"x\"",
            "true",
            "$ref",
            "emails",
            "\\u00",
            "\u{0}",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 12) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(atoms[(seed % atoms.len() as u64) as usize]);
            }
            if let Ok(f) = parse_filter(&s) {
                assert_eq!(parse_filter(&f.to_string()).unwrap(), f, "{s:?}");
            }
        }
        // Every char-boundary prefix of a rich filter.
        let rich = r#"emails[type eq "wörk" and not (value co "日本")] or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x\u00e9""#;
        for (i, _) in rich.char_indices() {
            let _ = parse_filter(&rich[..i]);
        }
    }

    #[test]
    fn attr_path_helper_rejects_garbage() {
        for bad in ["", "a b", "a[", "1x", "a.b.c", "\"a\""] {
            assert!(parse_attr_path_str(bad, ErrorKind::Path).is_err(), "{bad:?}");
        }
        let e = parse_attr_path_str("1x", ErrorKind::Path).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }
}
