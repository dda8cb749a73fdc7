//! One audit.log line -> one [`Record`].
//!
//! ```text
//! [node=NAME ]type=TYPE msg=audit(SEC.MILLIS:SERIAL): key=value ... [\x1d KEY=value ...]
//! ```
//!
//! The line is kept as one owned byte buffer and every field is a pair of
//! byte ranges into it, so parsing allocates twice per record (the buffer and
//! the field vector), never per field. Values are decoded (unquoted,
//! hex-decoded, `(null)`) only when the ECS mapping asks for them, see
//! [`Record::value`].
//!
//! Value forms, as auditd and auparse write them:
//!
//! | form | example | decoded |
//! |---|---|---|
//! | double-quoted | `comm="cat"` | `cat` |
//! | bare | `pid=42`, `tty=(none)`, `hostname=?` | as written |
//! | bare hex, in a field auditd may encode | `exe=2F62696E2F7368` | `/bin/sh` |
//! | `(null)` | `key=(null)` | JSON `null` |
//! | single-quoted `msg='...'` (user-space records) | `msg='op=login acct="x" res=success'` | inner key=values parsed as fields |
//! | braced (enriched) | `SADDR={ fam=inet laddr=1.2.3.4 lport=80 }` | `fam=inet laddr=1.2.3.4 lport=80` |
//!
//! Everything after the first `0x1D` byte is the ENRICHED part (auditd
//! `log_format = ENRICHED`): interpreted fields with upper-case names such as
//! `ARCH=x86_64 SYSCALL=execve AUID="root"`. They are kept as fields of the
//! same record, with [`Origin::Enriched`].
//!
//! A value is taken as hex only when the field is one auditd may encode
//! (`exe`, `comm`, `cwd`, `name`, `path`, `proctitle`, `key`, `acct`, `cmd`,
//! EXECVE `aN` / `aN[i]`, ...; see [`is_encodable`]), it is unquoted, and
//! it is non-empty, of even length and all hex digits: auditd quotes every
//! value of those fields that it does not encode, so this is unambiguous for
//! kernel-written records (auparse `au_unescape` does the same).

use std::borrow::Cow;
use std::ops::Range;

use super::tables;

/// Where a field came from inside the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A raw `key=value` of the record body.
    Raw,
    /// Inside a user-space `msg='...'`.
    Nested,
    /// After the `0x1D` separator (auditd ENRICHED format).
    Enriched,
}

/// How a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// Unquoted (may be hex, `(null)`, a number, ...).
    Bare,
    /// `"..."` or `'...'`.
    Quoted,
    /// `{ ... }` (enriched SADDR).
    Braced,
}

/// A field's name: a range of the line, or a name tripline gives to an
/// unnamed token (AVC `seresult`, `seperms`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Span(Range<usize>),
    Static(&'static str),
}

/// One `key=value` of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    key: Key,
    val: Range<usize>,
    quote: Quote,
    origin: Origin,
}

/// One parsed audit record (one line). Fields borrow from the owned line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    line: Box<[u8]>,
    node: Option<Range<usize>>,
    rtype: Range<usize>,
    /// Canonical type name when the line gave a number (`type=1300`).
    rtype_named: Option<&'static str>,
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// The event serial number.
    pub serial: u64,
    fields: Vec<Field>,
}

/// A decoded field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// `(null)`.
    Null,
    /// Text (lossy UTF-8 when the bytes were not UTF-8).
    Text(Cow<'a, str>),
}

impl<'a> Value<'a> {
    /// The text, or `None` for `(null)`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Null => None,
            Value::Text(t) => Some(t),
        }
    }
}

impl Record {
    /// The record type as written (`SYSCALL`, `UNKNOWN[1420]`), or the
    /// canonical name when the line gave a number.
    pub fn rtype(&self) -> Cow<'_, str> {
        match self.rtype_named {
            Some(n) => Cow::Borrowed(n),
            None => String::from_utf8_lossy(&self.line[self.rtype.clone()]),
        }
    }

    /// True if the record type is `t`.
    pub fn is(&self, t: &str) -> bool {
        match self.rtype_named {
            Some(n) => n == t,
            None => &self.line[self.rtype.clone()] == t.as_bytes(),
        }
    }

    /// The `node=` value, if any.
    pub fn node(&self) -> Option<&[u8]> {
        self.node.clone().map(|r| &self.line[r])
    }

    /// `@timestamp` in nanoseconds since the epoch.
    pub fn timestamp_ns(&self) -> i64 {
        self.sec
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }

    /// Bytes held by this record (for per-event memory caps).
    pub fn byte_len(&self) -> usize {
        self.line.len() + self.fields.len() * std::mem::size_of::<Field>()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True if the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn key_bytes(&self, f: &Field) -> &[u8] {
        match &f.key {
            Key::Span(r) => &self.line[r.clone()],
            Key::Static(s) => s.as_bytes(),
        }
    }

    /// Iterates over `(key, raw value bytes, quote, origin)` in line order.
    pub fn raw_fields(&self) -> impl Iterator<Item = (&[u8], &[u8], Quote, Origin)> + '_ {
        self.fields.iter().map(|f| {
            (
                self.key_bytes(f),
                &self.line[f.val.clone()],
                f.quote,
                f.origin,
            )
        })
    }

    /// The raw (undecoded) bytes of the first field named `key`.
    pub fn raw(&self, key: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| self.key_bytes(f) == key.as_bytes())
            .map(|f| &self.line[f.val.clone()])
    }

    /// The decoded value of the first field named `key`.
    pub fn value(&self, key: &str) -> Option<Value<'_>> {
        let f = self
            .fields
            .iter()
            .find(|f| self.key_bytes(f) == key.as_bytes())?;
        Some(self.decode(f))
    }

    /// The decoded text of the first field named `key` (`None` for `(null)`).
    pub fn text(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.value(key)? {
            Value::Null => None,
            Value::Text(t) => Some(t),
        }
    }

    /// The decoded bytes of the first field named `key` (hex decoded when
    /// encoded), for binary values such as PROCTITLE and EXECVE args.
    pub fn bytes(&self, key: &str) -> Option<Cow<'_, [u8]>> {
        let f = self
            .fields
            .iter()
            .find(|f| self.key_bytes(f) == key.as_bytes())?;
        Some(self.decode_bytes(f))
    }

    /// Iterates over `(key, decoded value)` in line order.
    pub fn fields(&self) -> impl Iterator<Item = (Cow<'_, str>, Value<'_>, Origin)> + '_ {
        self.fields.iter().map(|f| {
            (
                String::from_utf8_lossy(self.key_bytes(f)),
                self.decode(f),
                f.origin,
            )
        })
    }

    /// Like [`Record::fields`] but lossless: a hex value whose decoded bytes
    /// are not UTF-8 stays as the hex text.
    pub fn fields_lossless(&self) -> impl Iterator<Item = (Cow<'_, str>, Value<'_>)> + '_ {
        self.fields.iter().map(|f| {
            let key = String::from_utf8_lossy(self.key_bytes(f));
            let raw = &self.line[f.val.clone()];
            let v = match self.decode_bytes(f) {
                Cow::Owned(b) => match String::from_utf8(b) {
                    Ok(s) => Value::Text(Cow::Owned(s)),
                    Err(_) => Value::Text(String::from_utf8_lossy(raw)),
                },
                // Not decoded: `(null)` or the raw text (as `decode` would
                // give, without decoding a second time).
                Cow::Borrowed(b) if f.quote == Quote::Bare && b == b"(null)" => Value::Null,
                Cow::Borrowed(b) => Value::Text(String::from_utf8_lossy(b)),
            };
            (key, v)
        })
    }

    /// Iterates over `(key, decoded bytes, is_null)` in line order: hex
    /// decoded where auditd encodes, quotes removed.
    pub fn fields_bytes(&self) -> impl Iterator<Item = (&[u8], Cow<'_, [u8]>, bool)> + '_ {
        self.fields.iter().map(|f| {
            let raw = &self.line[f.val.clone()];
            let null = f.quote == Quote::Bare && raw == b"(null)";
            (self.key_bytes(f), self.decode_bytes(f), null)
        })
    }

    fn decode_bytes<'s>(&'s self, f: &Field) -> Cow<'s, [u8]> {
        let raw = &self.line[f.val.clone()];
        if f.quote == Quote::Bare
            && f.origin != Origin::Enriched
            && is_encodable(self.key_bytes(f), self.is("EXECVE"))
            && let Some(b) = hex_decode(raw)
        {
            return Cow::Owned(b);
        }
        Cow::Borrowed(raw)
    }

    fn decode<'s>(&'s self, f: &Field) -> Value<'s> {
        let raw = &self.line[f.val.clone()];
        if f.quote == Quote::Bare && raw == b"(null)" {
            return Value::Null;
        }
        match self.decode_bytes(f) {
            Cow::Borrowed(b) => Value::Text(String::from_utf8_lossy(b)),
            Cow::Owned(b) => Value::Text(Cow::Owned(match String::from_utf8(b) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })),
        }
    }
}

/// True for fields whose values auditd hex-encodes when they contain spaces,
/// quotes, control characters or non-ASCII bytes (auparse `typetab.h`
/// `AUPARSE_TYPE_ESCAPED*`). EXECVE `aN` / `aN[i]` only count inside EXECVE
/// records (SYSCALL `a0..a3` are hex numbers).
pub fn is_encodable(key: &[u8], in_execve: bool) -> bool {
    // A match, not a list search: this runs for every bare value.
    matches!(
        key,
        b"exe"
            | b"comm"
            | b"cwd"
            | b"name"
            | b"path"
            | b"proctitle"
            | b"file"
            | b"watch"
            | b"dir"
            | b"cmd"
            | b"acct"
            | b"key"
            | b"ocomm"
            | b"data"
            | b"new-disk"
            | b"old-disk"
            | b"new-chardev"
            | b"old-chardev"
            | b"new-fs"
            | b"old-fs"
            | b"new-net"
            | b"old-net"
            | b"new-rng"
            | b"old-rng"
            | b"vm"
            | b"sw"
            | b"root_dir"
            | b"grp"
            | b"new_group"
            | b"cgroup"
            | b"device"
    ) || (in_execve && is_execve_arg_key(key))
}

/// `aN` or `aN[i]`.
fn is_execve_arg_key(key: &[u8]) -> bool {
    parse_execve_key(key).is_some()
}

/// Parses `aN` -> `(N, None)` and `aN[i]` -> `(N, Some(i))`.
pub fn parse_execve_key(key: &[u8]) -> Option<(usize, Option<usize>)> {
    let rest = key.strip_prefix(b"a")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let n: usize = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let tail = &rest[digits..];
    if tail.is_empty() {
        return Some((n, None));
    }
    let inner = tail.strip_prefix(b"[")?.strip_suffix(b"]")?;
    if inner.is_empty() || inner.len() > 9 || !inner.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let i: usize = std::str::from_utf8(inner).ok()?.parse().ok()?;
    Some((n, Some(i)))
}

/// Decodes an even-length, all-hex-digit byte string; `None` otherwise.
pub fn hex_decode(s: &[u8]) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 2);
    for pair in s.chunks_exact(2) {
        let hi = hex_val(pair[0])?;
        let lo = hex_val(pair[1])?;
        out.push(hi << 4 | lo);
    }
    Some(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Separator auditd puts before the ENRICHED fields.
const ENRICHED_SEP: u8 = 0x1d;

/// Parses one line (without its newline). Blank lines are the caller's
/// business; this returns an error for them.
///
/// # Errors
/// A lowercase message when the line has no `type=`, no `audit(...)` stamp
/// or a malformed stamp. Unknown record types and odd fields are not errors.
pub fn parse_line(input: &[u8]) -> Result<Record, String> {
    let line: Box<[u8]> = trim(input).into();
    let n = line.len();
    let mut pos = 0;
    let mut node = None;

    // Optional `node=X ` prefix, then `type=`. Tolerate a syslog/kernel
    // prefix ("... audit: type=1300 audit(...)") by searching for the first
    // `type=` that starts a token.
    if line.starts_with(b"node=") {
        let end = token_end(&line, 5);
        node = Some(5..end);
        pos = skip_spaces(&line, end);
    }
    if !line[pos..].starts_with(b"type=") {
        let found = find_token(&line, pos, b"type=")
            .ok_or_else(|| "not an audit record: no `type=`".to_string())?;
        if node.is_none()
            && let Some(ns) = find_token(&line[..found], 0, b"node=")
        {
            let end = token_end(&line, ns + 5).min(found);
            node = Some(ns + 5..end);
        }
        pos = found;
    }
    pos += 5;
    let tend = token_end(&line, pos);
    if tend == pos {
        return Err("empty record type".into());
    }
    let rtype = pos..tend;
    let tname = &line[rtype.clone()];
    let rtype_named = if tname.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(tname)
            .ok()
            .and_then(|s| s.parse().ok())
            .and_then(tables::record_type_name)
    } else {
        None
    };
    pos = skip_spaces(&line, tend);

    // `msg=audit(` or a bare `audit(` (kernel printk format).
    if line[pos..].starts_with(b"msg=audit(") {
        pos += 10;
    } else if line[pos..].starts_with(b"audit(") {
        pos += 6;
    } else {
        return Err("missing `msg=audit(` time stamp".into());
    }
    let close = memchr::memchr(b')', &line[pos..])
        .map(|i| pos + i)
        .ok_or_else(|| "unterminated `audit(` time stamp".to_string())?;
    let (sec, nanos, serial) = parse_stamp(&line[pos..close])?;
    pos = close + 1;
    if pos < n && line[pos] == b':' {
        pos += 1;
    }

    let (body_end, enriched) = match memchr::memchr(ENRICHED_SEP, &line[pos..]) {
        Some(i) => (pos + i, Some(pos + i + 1)),
        None => (n, None),
    };
    let mut fields = Vec::with_capacity(16);
    let is_avc = matches!(tname, b"AVC" | b"USER_AVC" | b"1400" | b"1107");
    parse_fields(&line, pos, body_end, Origin::Raw, None, is_avc, &mut fields);
    if let Some(e) = enriched {
        parse_fields(&line, e, n, Origin::Enriched, None, false, &mut fields);
    }
    Ok(Record {
        line,
        node,
        rtype,
        rtype_named,
        sec,
        nanos,
        serial,
        fields,
    })
}

/// `1492037289.295:58` -> (seconds, nanoseconds, serial).
fn parse_stamp(s: &[u8]) -> Result<(i64, u32, u64), String> {
    let bad = || "malformed `audit(SEC.MILLIS:SERIAL)` time stamp".to_string();
    let colon = memchr::memchr(b':', s).ok_or_else(bad)?;
    let (time, serial) = (&s[..colon], &s[colon + 1..]);
    let (secs, frac) = match memchr::memchr(b'.', time) {
        Some(d) => (&time[..d], &time[d + 1..]),
        None => (time, &b""[..]),
    };
    let sec = parse_digits(secs).ok_or_else(bad)?;
    if sec > i64::MAX as u64 / 1_000_000_000 {
        return Err(bad());
    }
    if frac.len() > 9 || !frac.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let mut nanos: u32 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    let serial = parse_digits(serial).ok_or_else(bad)?;
    Ok((sec as i64, nanos, serial))
}

fn parse_digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t')
}

fn skip_spaces(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

fn token_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && !is_space(s[i]) {
        i += 1;
    }
    i
}

/// Position of `pat` at `from..` where it starts a token (start of input or
/// after a space).
fn find_token(s: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    let mut at = from;
    while at < s.len() {
        let i = at + memchr::memmem::find(&s[at..], pat)?;
        if i == 0 || is_space(s[i - 1]) {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

/// Tokenizes `line[start..end]` into fields. With `term = Some(b'\'')` the
/// scan stops at an unquoted `'` (end of a nested `msg='...'`) and returns
/// the position after it.
fn parse_fields(
    line: &[u8],
    start: usize,
    end: usize,
    origin: Origin,
    term: Option<u8>,
    is_avc: bool,
    out: &mut Vec<Field>,
) -> usize {
    let mut i = start;
    let mut in_perms: Option<usize> = None;
    loop {
        i = skip_spaces(line, i);
        if i >= end {
            return end;
        }
        if Some(line[i]) == term {
            return i + 1;
        }
        // Token: up to '=', space, or terminator.
        let tok_start = i;
        while i < end && line[i] != b'=' && !is_space(line[i]) && Some(line[i]) != term {
            i += 1;
        }
        if i >= end || line[i] != b'=' {
            // A token without a value: AVC `denied`, `{ read write }`, PAM
            // prose. Kept only where auparse gives them names.
            let tok = &line[tok_start..i];
            if is_avc {
                match tok {
                    b"denied" | b"granted" if in_perms.is_none() => out.push(Field {
                        key: Key::Static("seresult"),
                        val: tok_start..i,
                        quote: Quote::Bare,
                        origin,
                    }),
                    b"{" => in_perms = Some(i),
                    b"}" => {
                        if let Some(ps) = in_perms.take() {
                            let (a, b) = trim_range(line, ps, tok_start);
                            out.push(Field {
                                key: Key::Static("seperms"),
                                val: a..b,
                                quote: Quote::Bare,
                                origin,
                            });
                        }
                    }
                    _ => {}
                }
            }
            if i == tok_start {
                // Lone terminator handled at loop top; skip one byte to progress.
                if i < end && Some(line[i]) != term {
                    i += 1;
                }
            }
            continue;
        }
        let mut key = tok_start..i;
        if origin == Origin::Nested {
            // Old PAM format: `(hostname=?, addr=?, terminal=cron res=success)`.
            while key.start < key.end && line[key.start] == b'(' {
                key.start += 1;
            }
        }
        i += 1; // '='
        if i >= end {
            out.push(Field {
                key: Key::Span(key),
                val: end..end,
                quote: Quote::Bare,
                origin,
            });
            return end;
        }
        match line[i] {
            b'"' => {
                let vs = i + 1;
                let ve = memchr::memchr(b'"', &line[vs..end]).map_or(end, |p| vs + p);
                out.push(Field {
                    key: Key::Span(key),
                    val: vs..ve,
                    quote: Quote::Quoted,
                    origin,
                });
                i = (ve + 1).min(end);
            }
            b'\'' if term.is_none() => {
                if &line[key.clone()] == b"msg" {
                    i = parse_fields(line, i + 1, end, Origin::Nested, Some(b'\''), false, out);
                    // A user AVC carries `avc: denied { ... }` inside msg.
                    if is_avc {
                        fixup_nested_avc(line, out);
                    }
                } else {
                    let vs = i + 1;
                    let ve = memchr::memchr(b'\'', &line[vs..end]).map_or(end, |p| vs + p);
                    out.push(Field {
                        key: Key::Span(key),
                        val: vs..ve,
                        quote: Quote::Quoted,
                        origin,
                    });
                    i = (ve + 1).min(end);
                }
            }
            b'{' => {
                let vs = i + 1;
                let ve = memchr::memchr(b'}', &line[vs..end]).map_or(end, |p| vs + p);
                let (a, b) = trim_range(line, vs, ve);
                out.push(Field {
                    key: Key::Span(key),
                    val: a..b,
                    quote: Quote::Braced,
                    origin,
                });
                i = (ve + 1).min(end);
            }
            _ => {
                let vs = i;
                while i < end && !is_space(line[i]) && Some(line[i]) != term {
                    i += 1;
                }
                let mut ve = i;
                if origin == Origin::Nested {
                    while ve > vs && matches!(line[ve - 1], b',' | b')') {
                        ve -= 1;
                    }
                }
                out.push(Field {
                    key: Key::Span(key),
                    val: vs..ve,
                    quote: Quote::Bare,
                    origin,
                });
            }
        }
    }
}

/// USER_AVC `msg='avc:  denied  { x } for ...'`: re-scan the nested part
/// for `seresult`/`seperms`. Cheap and rare, so it searches the line.
fn fixup_nested_avc(line: &[u8], out: &mut Vec<Field>) {
    if out.iter().any(|f| f.key == Key::Static("seresult")) {
        return;
    }
    for word in [&b"denied"[..], b"granted"] {
        if let Some(p) = find_token(line, 0, word) {
            out.push(Field {
                key: Key::Static("seresult"),
                val: p..p + word.len(),
                quote: Quote::Bare,
                origin: Origin::Nested,
            });
            if let (Some(a), Some(b)) = (
                memchr::memchr(b'{', &line[p..]).map(|x| p + x + 1),
                memchr::memchr(b'}', &line[p..]).map(|x| p + x),
            ) && a <= b
            {
                let (a, b) = trim_range(line, a, b);
                out.push(Field {
                    key: Key::Static("seperms"),
                    val: a..b,
                    quote: Quote::Bare,
                    origin: Origin::Nested,
                });
            }
            return;
        }
    }
}

fn trim_range(line: &[u8], mut a: usize, mut b: usize) -> (usize, usize) {
    while a < b && is_space(line[a]) {
        a += 1;
    }
    while b > a && is_space(line[b - 1]) {
        b -= 1;
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(r: &Record, k: &str) -> Option<String> {
        r.text(k).map(|c| c.into_owned())
    }

    #[test]
    fn syscall_with_hex_exe_and_null_key() {
        let r = parse_line(b"type=SYSCALL msg=audit(1492037289.295:58): arch=c000003e syscall=42 success=no exit=-115 a0=6 comm=\"google_accounts\" exe=2F7573722F62696E2F707974686F6E322E37 key=(null)").unwrap();
        assert!(r.is("SYSCALL"));
        assert_eq!(r.sec, 1492037289);
        assert_eq!(r.nanos, 295_000_000);
        assert_eq!(r.serial, 58);
        assert_eq!(txt(&r, "exe").as_deref(), Some("/usr/bin/python2.7"));
        assert_eq!(txt(&r, "comm").as_deref(), Some("google_accounts"));
        assert_eq!(r.value("key"), Some(Value::Null));
        // a0 in SYSCALL is a hex number, never decoded.
        assert_eq!(txt(&r, "a0").as_deref(), Some("6"));
        assert_eq!(txt(&r, "exit").as_deref(), Some("-115"));
    }

    #[test]
    fn node_prefix_and_enriched() {
        let r = parse_line(b"node=work type=SYSCALL msg=audit(1615114232.375:15558): arch=c000003e syscall=59 uid=0 key=(null)\x1dARCH=x86_64 SYSCALL=execve AUID=\"user\" UID=\"root\"").unwrap();
        assert_eq!(r.node(), Some(&b"work"[..]));
        assert_eq!(txt(&r, "SYSCALL").as_deref(), Some("execve"));
        assert_eq!(txt(&r, "AUID").as_deref(), Some("user"));
        assert_eq!(txt(&r, "uid").as_deref(), Some("0"));
        let origins: Vec<_> = r.fields().map(|(_, _, o)| o).collect();
        assert_eq!(origins.last(), Some(&Origin::Enriched));
    }

    #[test]
    fn enriched_braced_saddr() {
        let r = parse_line(b"type=SOCKADDR msg=audit(1.2:3): saddr=100000000000000000000000\x1dSADDR={ fam=netlink nlnk-fam=16 nlnk-pid=0 }").unwrap();
        assert_eq!(
            txt(&r, "SADDR").as_deref(),
            Some("fam=netlink nlnk-fam=16 nlnk-pid=0")
        );
        assert_eq!(
            txt(&r, "saddr").as_deref(),
            Some("100000000000000000000000")
        );
    }

    #[test]
    fn nested_user_msg() {
        let r = parse_line(b"type=USER_ACCT msg=audit(1615113648.981:15220): pid=9460 uid=1000 auid=1000 ses=1 msg='op=PAM:accounting grantors=pam_permit acct=\"user\" exe=\"/usr/bin/sudo\" hostname=? addr=? terminal=/dev/pts/1 res=success'\x1dUID=\"user\" AUID=\"user\"").unwrap();
        assert_eq!(txt(&r, "op").as_deref(), Some("PAM:accounting"));
        assert_eq!(txt(&r, "acct").as_deref(), Some("user"));
        assert_eq!(txt(&r, "res").as_deref(), Some("success"));
        assert_eq!(txt(&r, "terminal").as_deref(), Some("/dev/pts/1"));
        assert_eq!(txt(&r, "UID").as_deref(), Some("user"));
        assert_eq!(txt(&r, "pid").as_deref(), Some("9460"));
    }

    #[test]
    fn nested_old_pam_format_and_hex_acct() {
        let r = parse_line(b"type=USER_START msg=audit(1170021601.344:297): user pid=13015 uid=0 auid=0 subj=system_u:system_r:crond_t:s0-s0:c0.c1023 msg='PAM: session open acct=root : exe=\"/usr/sbin/crond\" (hostname=?, addr=?, terminal=cron res=success)'").unwrap();
        assert_eq!(txt(&r, "hostname").as_deref(), Some("?"));
        assert_eq!(txt(&r, "terminal").as_deref(), Some("cron"));
        assert_eq!(txt(&r, "res").as_deref(), Some("success"));
        assert_eq!(txt(&r, "acct").as_deref(), Some("root"));
        let r = parse_line(b"type=USER_LOGIN msg=audit(1492896301.818:19955): pid=12635 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" hostname=? addr=179.38.151.221 terminal=sshd res=failed'").unwrap();
        assert_eq!(txt(&r, "acct").as_deref(), Some("(invalid user)"));
        assert_eq!(txt(&r, "addr").as_deref(), Some("179.38.151.221"));
    }

    #[test]
    fn avc_selinux_perms() {
        let r = parse_line(b"type=AVC msg=audit(1170021493.977:293): avc:  denied  { read write } for  pid=13010 comm=\"pickup\" name=\"maildrop\" tclass=dir").unwrap();
        assert_eq!(txt(&r, "seresult").as_deref(), Some("denied"));
        assert_eq!(txt(&r, "seperms").as_deref(), Some("read write"));
        assert_eq!(txt(&r, "tclass").as_deref(), Some("dir"));
    }

    #[test]
    fn execve_chunks_and_hex_args() {
        let r = parse_line(b"type=EXECVE msg=audit(1.5:1): argc=3 a0=\"perl\" a1=\"-e\" a2=75736520 a3_len=4 a3[0]=6869 a3[1]=\"x\"").unwrap();
        assert_eq!(txt(&r, "a2").as_deref(), Some("use "));
        assert_eq!(txt(&r, "a3[0]").as_deref(), Some("hi"));
        assert_eq!(txt(&r, "a3[1]").as_deref(), Some("x"));
        assert_eq!(txt(&r, "a3_len").as_deref(), Some("4"));
        assert_eq!(parse_execve_key(b"a12[3]"), Some((12, Some(3))));
        assert_eq!(parse_execve_key(b"a3_len"), None);
        assert_eq!(parse_execve_key(b"argc"), None);
    }

    #[test]
    fn quoted_odd_values() {
        let r = parse_line(b"type=SYSCALL msg=audit(1.0:1): success=\"yes\" tty=\"(none)\" subj==unconfined comm=\"a b\"").unwrap();
        assert_eq!(txt(&r, "success").as_deref(), Some("yes"));
        assert_eq!(txt(&r, "tty").as_deref(), Some("(none)"));
        assert_eq!(txt(&r, "subj").as_deref(), Some("=unconfined"));
    }

    #[test]
    fn unknown_types_numeric_types_and_prefixes() {
        let r = parse_line(
            b"type=UNKNOWN[1420] msg=audit(1661853391.646:4486226): subj_apparmor=unconfined",
        )
        .unwrap();
        assert_eq!(r.rtype(), "UNKNOWN[1420]");
        let r = parse_line(b"Apr  1 00:00:00 host kernel: audit: type=1300 audit(1.250:7): arch=c000003e syscall=59").unwrap();
        assert!(r.is("SYSCALL"));
        assert_eq!(r.serial, 7);
        assert_eq!(r.nanos, 250_000_000);
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            &b"garbage"[..],
            b"type=SYSCALL",
            b"type=SYSCALL msg=audit(",
            b"type=SYSCALL msg=audit(abc:1): x=1",
            b"type=SYSCALL msg=audit(1.2): x=1",
            b"type= msg=audit(1.2:3):",
            b"type=X msg=audit(99999999999999999999.1:1):",
        ] {
            assert!(
                parse_line(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn hostile_bytes_do_not_panic() {
        let mut line = b"type=SYSCALL msg=audit(1.2:3): comm=\"\xff\xfe\" exe=\x1b[31m a=\"unterminated b='x c={ d=".to_vec();
        line.extend_from_slice(&[0, 0x1d, b'=', b'"', 0x1d]);
        let r = parse_line(&line).unwrap();
        assert_eq!(txt(&r, "comm").as_deref(), Some("\u{fffd}\u{fffd}"));
        let _ = r.fields().count();
        let _ = r.fields_lossless().count();
        // hex decoding to invalid UTF-8 stays lossless as hex text
        let r = parse_line(b"type=PATH msg=audit(1.2:3): name=FF00").unwrap();
        let (_, v) = r.fields_lossless().next().unwrap();
        assert_eq!(v.as_str(), Some("FF00"));
    }

    #[test]
    fn hex_rules() {
        assert_eq!(hex_decode(b"4142"), Some(b"AB".to_vec()));
        assert_eq!(hex_decode(b"414"), None);
        assert_eq!(hex_decode(b"41zz"), None);
        assert_eq!(hex_decode(b""), None);
        // lower-case hex (seen in the wild for proctitle)
        assert_eq!(hex_decode(b"6f6b"), Some(b"ok".to_vec()));
    }
}
