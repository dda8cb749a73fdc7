//! Windows command-line splitting with `CommandLineToArgvW` semantics.
//!
//! Windows passes a process one string; each program splits it itself. The
//! rules below are the ones `CommandLineToArgvW` and the MSVC C runtime (2008
//! and later) apply, as Rust's standard library documents and implements them
//! for `std::env::args` on Windows:
//!
//! - `argv[0]` (the program): if it starts with `"`, everything up to the next
//!   `"` (no escapes); otherwise everything up to the first space or tab.
//! - later arguments are separated by spaces and tabs outside quotes;
//! - `2n` backslashes followed by `"` give `n` backslashes and the quote opens
//!   or closes a quoted span; `2n+1` backslashes followed by `"` give `n`
//!   backslashes and a literal `"`; backslashes not followed by `"` are literal;
//! - inside a quoted span, `""` is a literal `"` (and the span goes on).

/// Splits a Windows command line into arguments (see the module docs).
///
/// ```
/// use tripline_parsers::sysmon::cmdline::split;
/// assert_eq!(
///     split(r#""C:\Program Files\x.exe" /a "b c" d\"e"#),
///     vec![r"C:\Program Files\x.exe", "/a", "b c", "d\"e"],
/// );
/// ```
pub fn split(cmd: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut it = cmd.chars().peekable();

    // argv[0]: no escape processing.
    let mut first = String::new();
    if it.peek() == Some(&'"') {
        it.next();
        for c in it.by_ref() {
            if c == '"' {
                break;
            }
            first.push(c);
        }
        // Anything glued to the closing quote belongs to argv[0] too.
        while let Some(&c) = it.peek() {
            if c == ' ' || c == '\t' {
                break;
            }
            first.push(c);
            it.next();
        }
    } else {
        while let Some(&c) = it.peek() {
            if c == ' ' || c == '\t' {
                break;
            }
            first.push(c);
            it.next();
        }
    }
    if cmd.is_empty() {
        return args;
    }
    args.push(first);

    let mut cur = String::new();
    let mut in_arg = false;
    let mut in_quotes = false;
    while let Some(c) = it.next() {
        match c {
            ' ' | '\t' if !in_quotes => {
                if in_arg {
                    args.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            '\\' => {
                in_arg = true;
                let mut n = 1usize;
                while it.peek() == Some(&'\\') {
                    it.next();
                    n += 1;
                }
                if it.peek() == Some(&'"') {
                    cur.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        cur.push('"');
                        it.next();
                    }
                } else {
                    cur.extend(std::iter::repeat_n('\\', n));
                }
            }
            '"' => {
                in_arg = true;
                if in_quotes {
                    if it.peek() == Some(&'"') {
                        it.next();
                        cur.push('"');
                    } else {
                        in_quotes = false;
                    }
                } else {
                    in_quotes = true;
                }
            }
            c => {
                in_arg = true;
                cur.push(c);
            }
        }
    }
    if in_arg {
        args.push(cur);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn msdn_examples() {
        // The table in the CommandLineToArgvW / "Parsing C++ command-line arguments" docs.
        assert_eq!(split(r#"x "a b c" d e"#), vec!["x", "a b c", "d", "e"]);
        assert_eq!(split(r#"x "ab\"c" "\\" d"#), vec!["x", "ab\"c", "\\", "d"]);
        assert_eq!(
            split(r#"x a\\\b d"e f"g h"#),
            vec!["x", r"a\\\b", "de fg", "h"]
        );
        assert_eq!(split(r#"x a\\\"b c d"#), vec!["x", r#"a\"b"#, "c", "d"]);
        assert_eq!(split(r#"x a\\\\"b c" d e"#), vec!["x", r"a\\b c", "d", "e"]);
        assert_eq!(split(r#"x a"b"" c d"#), vec!["x", r#"ab" c d"#]);
    }

    #[test]
    fn program_name_rules() {
        assert_eq!(
            split(r#""C:\Program Files\a b\x.exe"  -k  "#),
            vec![r"C:\Program Files\a b\x.exe", "-k"]
        );
        // argv[0] takes backslashes literally, even before a quote.
        assert_eq!(split(r#"C:\x\"y z"#), vec![r#"C:\x\"y"#, "z"]);
        assert_eq!(split("cmd.exe"), vec!["cmd.exe"]);
        assert!(split("").is_empty());
        assert_eq!(split(" a"), vec!["", "a"]);
        assert_eq!(split(r#"x """#), vec!["x", ""]);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        for s in [
            "\"",
            "\\",
            "\"\\\"",
            "x \"\\",
            "x \\\\\\",
            "\u{0}\"\u{202e}",
        ] {
            let _ = split(s);
        }
    }
}
