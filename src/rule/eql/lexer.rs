//! EQL lexer: text -> tokens with byte offsets.
//!
//! Hand-written and allocation-light. Every token carries the byte offset of
//! its first character so the parser can report `line:column` for any error.

use super::EqlError;

/// A lexical token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword (`process`, `where`, `startsWith`), with
    /// `tilde` set when a `~` follows immediately (`in~`, `like~`, `endsWith~`).
    Ident {
        /// The text.
        name: String,
        /// A `~` directly after the name.
        tilde: bool,
    },
    /// A backtick-quoted name (`` `my-field` ``).
    Quoted(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// An integer literal, with an optional unit directly after it (`5m`).
    Int(i64, Option<String>),
    /// A floating-point literal.
    Float(f64),
    /// `==` (also `=` outside `with` clauses, as the grammar allows).
    EqEq,
    /// `=`
    Assign,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `:`
    Colon,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `![`: a missing-event stage.
    MissingOpen,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `|`
    Pipe,
    /// `?` directly before a field name (optional field).
    Question,
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident { name, tilde } => format!("'{name}{}'", if *tilde { "~" } else { "" }),
            Tok::Quoted(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Int(n, None) => format!("number {n}"),
            Tok::Int(n, Some(u)) => format!("'{n}{u}'"),
            Tok::Float(f) => format!("number {f}"),
            Tok::Eof => "end of query".into(),
            other => {
                let s = match other {
                    Tok::EqEq => "==",
                    Tok::Assign => "=",
                    Tok::Ne => "!=",
                    Tok::Lt => "<",
                    Tok::Le => "<=",
                    Tok::Gt => ">",
                    Tok::Ge => ">=",
                    Tok::Colon => ":",
                    Tok::LParen => "(",
                    Tok::RParen => ")",
                    Tok::LBracket => "[",
                    Tok::MissingOpen => "![",
                    Tok::RBracket => "]",
                    Tok::Comma => ",",
                    Tok::Dot => ".",
                    Tok::Plus => "+",
                    Tok::Minus => "-",
                    Tok::Star => "*",
                    Tok::Slash => "/",
                    Tok::Percent => "%",
                    Tok::Pipe => "|",
                    Tok::Question => "?",
                    _ => "?",
                };
                format!("'{s}'")
            }
        }
    }
}

/// A token and where it starts and ends (byte offsets into the query).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
}

/// Upper bound on tokens per query: hostile rule text cannot make the parser
/// hold an unbounded token vector.
pub const MAX_TOKENS: usize = 200_000;

/// Splits `src` into tokens (the last one is [`Tok::Eof`]).
///
/// # Errors
/// On an unterminated string or comment, a bad escape, a stray character,
/// or more than [`MAX_TOKENS`] tokens; the error names the line and column.
pub fn lex(src: &str) -> Result<Vec<Token>, EqlError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, msg: String| EqlError::at(src, at, msg);
    while i < b.len() {
        if out.len() > MAX_TOKENS {
            return Err(err(i, "query too long".into()));
        }
        let c = b[i];
        let start = i;
        // Whitespace and comments.
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            match src[i + 2..].find("*/") {
                Some(n) => i += 2 + n + 2,
                None => return Err(err(start, "unterminated /* comment".into())),
            }
            continue;
        }
        let two = |x: u8| b.get(i + 1) == Some(&x);
        let (tok, len) = match c {
            b'"' if src[i..].starts_with("\"\"\"") => {
                let body = i + 3;
                match src[body..].find("\"\"\"") {
                    Some(n) => {
                        // `""""x""""`: extra quotes at the end belong to the text.
                        let mut end = body + n;
                        while b.get(end + 3) == Some(&b'"') {
                            end += 1;
                        }
                        (Tok::Str(src[body..end].to_string()), end + 3 - i)
                    }
                    None => return Err(err(start, "unterminated \"\"\" string".into())),
                }
            }
            b'"' => {
                let (s, n) = string(src, i)?;
                (Tok::Str(s), n)
            }
            b'\'' => {
                return Err(err(
                    start,
                    "single-quoted strings are not supported; use double quotes".into(),
                ));
            }
            b'?' if matches!(b.get(i + 1), Some(b'"')) => {
                // Raw string: no escape processing; `\"` keeps both characters.
                let body = i + 2;
                let mut j = body;
                loop {
                    match b.get(j) {
                        None => return Err(err(start, "unterminated raw string".into())),
                        Some(b'\\') if b.get(j + 1).is_some() => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                    }
                }
                (Tok::Str(src[body..j].to_string()), j + 1 - i)
            }
            b'?' => (Tok::Question, 1),
            b'`' => match src[i + 1..].find('`') {
                Some(n) => (Tok::Quoted(src[i + 1..i + 1 + n].to_string()), n + 2),
                None => return Err(err(start, "unterminated backtick-quoted name".into())),
            },
            b'=' if two(b'=') => (Tok::EqEq, 2),
            b'=' => (Tok::Assign, 1),
            b'!' if two(b'=') => (Tok::Ne, 2),
            b'!' if two(b'[') => (Tok::MissingOpen, 2),
            b'<' if two(b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if two(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b':' => (Tok::Colon, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'[' => (Tok::LBracket, 1),
            b']' => (Tok::RBracket, 1),
            b',' => (Tok::Comma, 1),
            b'.' if !b.get(i + 1).is_some_and(u8::is_ascii_digit) => (Tok::Dot, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'*' => (Tok::Star, 1),
            b'/' => (Tok::Slash, 1),
            b'%' => (Tok::Percent, 1),
            b'|' => (Tok::Pipe, 1),
            b'0'..=b'9' | b'.' => number(src, i)?,
            c if c == b'_' || c == b'@' || c == b'$' || c.is_ascii_alphabetic() || c >= 0x80 => {
                let mut j = i;
                while j < b.len() {
                    let d = b[j];
                    if d == b'_' || d == b'@' || d == b'$' || d.is_ascii_alphanumeric() || d >= 0x80
                    {
                        j += 1;
                    } else {
                        break;
                    }
                }
                // Stop at a char boundary (non-ASCII identifier bytes are kept whole).
                while !src.is_char_boundary(j) {
                    j += 1;
                }
                let name = src[i..j].to_string();
                let tilde = b.get(j) == Some(&b'~');
                let n = j - i + usize::from(tilde);
                (Tok::Ident { name, tilde }, n)
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(start, format!("unexpected character {ch:?}")));
            }
        };
        i += len;
        out.push(Token { tok, start, end: i });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

/// A double-quoted string starting at `at`: (text, length in bytes).
fn string(src: &str, at: usize) -> Result<(String, usize), EqlError> {
    let mut s = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return Ok((s, k + 2)),
            '\n' | '\r' => {
                return Err(EqlError::at(
                    src,
                    at,
                    "unterminated string (use \"\"\" for multi-line text)".into(),
                ));
            }
            '\\' => {
                let pos = at + 1 + k;
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    '0' => s.push('\0'),
                    '"' => s.push('"'),
                    '\'' => s.push('\''),
                    '\\' => s.push('\\'),
                    'u' => {
                        // \u{X..} (1-8 hex digits) or \uXXXX.
                        let rest = &src[at + 1 + k + 2..];
                        let (hex, used) = if let Some(r) = rest.strip_prefix('{') {
                            match r.find('}') {
                                Some(n) if (1..=8).contains(&n) => (&r[..n], n + 2),
                                _ => {
                                    return Err(EqlError::at(
                                        src,
                                        pos,
                                        "bad \\u{...} escape: 1 to 8 hex digits expected".into(),
                                    ));
                                }
                            }
                        } else if rest.len() >= 4 && rest.is_char_boundary(4) {
                            (&rest[..4], 4)
                        } else {
                            return Err(EqlError::at(src, pos, "bad \\u escape".into()));
                        };
                        let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                        match ch {
                            Some(ch) => s.push(ch),
                            None => {
                                return Err(EqlError::at(
                                    src,
                                    pos,
                                    format!("bad \\u escape: {hex:?} is not a character"),
                                ));
                            }
                        }
                        for _ in 0..used {
                            chars.next();
                        }
                    }
                    other => {
                        return Err(EqlError::at(
                            src,
                            pos,
                            format!("unknown escape sequence \\{other}"),
                        ));
                    }
                }
            }
            c => s.push(c),
        }
    }
    Err(EqlError::at(src, at, "unterminated string".into()))
}

/// A number starting at `at`: integer (with an optional unit suffix) or float.
fn number(src: &str, at: usize) -> Result<(Tok, usize), EqlError> {
    let b = src.as_bytes();
    let mut j = at;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    let mut float = false;
    if j < b.len() && b[j] == b'.' && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        float = true;
        j += 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
    }
    if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        if k < b.len() && b[k].is_ascii_digit() {
            float = true;
            j = k;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
    }
    let text = &src[at..j];
    if float {
        return match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok((Tok::Float(f), j - at)),
            _ => Err(EqlError::at(src, at, format!("bad number {text:?}"))),
        };
    }
    let n: i64 = text
        .parse()
        .map_err(|_| EqlError::at(src, at, format!("integer {text} out of range")))?;
    // A unit directly after the digits: `5m`, `500ms`.
    let mut k = j;
    while k < b.len() && b[k].is_ascii_alphabetic() {
        k += 1;
    }
    if k > j {
        return Ok((Tok::Int(n, Some(src[j..k].to_string())), k - at));
    }
    Ok((Tok::Int(n, None), j - at))
}
