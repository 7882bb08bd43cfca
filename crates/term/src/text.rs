//! Erlang text syntax for terms.
//!
//! # Printing
//!
//! `Display` for [`Term`] writes the term the way Erlang source spells it, compactly
//! (no spaces except around `=>`), so that `erl_scan:string/1` + `erl_parse:parse_term/1`
//! read it back as an equal term:
//!
//! * atoms are quoted when needed (`ok`, `'EXIT'`, `'end'`, `'a b'`, `'ü'`);
//! * binaries print as text when they are printable UTF-8 (`<<"hi">>`, `<<"ü"/utf8>>`),
//!   otherwise as bytes (`<<1,2,3>>`); bitstrings end with a sized segment (`<<1,2:3>>`);
//! * proper lists of printable Latin-1 code points print as strings (`"abc"`), as the
//!   Erlang shell does; `[]` stays `[]`;
//! * floats use the shortest text that reads back as the same `f64`, always with a digit
//!   after the point (`0.1`, `1.0e100`, `-0.0`, `5.0e-324`); of the plain and the
//!   exponent form the shorter is used, the plain one on a tie, and always the exponent
//!   form from 2^53 up, exactly as `float_to_list(F, [short])` and `~p` do;
//! * maps print as `#{a => 1,b => 2}`, tuples as `{a,b}`, improper lists as `[1|2]`;
//! * atoms containing U+FFFE or U+FFFF print as `'\x{FFFF}'`, which this parser reads but
//!   Erlang's scanner refuses (it has no syntax for them at all);
//! * pids, ports, references and closures print as the shell shows them (`<0.85.0>`,
//!   `#Port<0.5>`, `#Ref<0.1.2.3>`, `#Fun<m.1.2>`). Erlang cannot read those back; this
//!   parser can (see below). Export funs print as `fun m:f/1`, which both can read.
//!
//! # Parsing
//!
//! [`parse`] (also `str::parse::<Term>()`) reads one term, with an optional trailing
//! `.`. It accepts what `erl_parse:parse_term/1` accepts for literal terms: integers in
//! any base (`16#ff`), with `_` separators, char literals (`$a`, `$\n`), floats, atoms,
//! strings (adjacent strings are joined), binaries with literal segments (`<<1,2:3>>`,
//! `<<"a"/utf8>>`, `<<1.5/float>>`, `<<258:16/little>>`), lists, tuples, maps, and export
//! funs (`fun lists:map/2`). `%` comments are skipped.
//!
//! It also reads the printed forms of pids (`<0.85.0>`), ports (`#Port<0.5>`) and
//! references (`#Ref<0.1.2.3>`). Their text does not name a node, so the parsed values
//! belong to [`PLACEHOLDER_NODE`] with creation 0, and the first number is ignored.
//! Closures (`#Fun<...>`) cannot be parsed.
//!
//! The parser does not recurse, so no input can overflow the stack; nesting deeper than
//! [`MAX_DEPTH`] is refused. Integer literals are limited to [`MAX_INTEGER_DIGITS`]
//! digits, and sized binary segments to [`MAX_SIZED_BITS`] bits in total, so that a
//! short text cannot demand unbounded time or memory.
//!
//! ```
//! use ferrobeam_term::Term;
//! let t: Term = "{ok, \"hi\", <<\"x\">>, #{a => 1.5}, 16#ff}.".parse().unwrap();
//! assert_eq!(t.to_string(), r#"{ok,"hi",<<"x">>,#{a => 1.5},255}"#);
//! let err = "{ok x}".parse::<Term>().unwrap_err();
//! assert_eq!(err.to_string(), "cannot parse term at column 5: expected ',' or '}'");
//! ```

use crate::{Atom, BigInt, Fun, Pid, Port, Ref, Term, TermMap};
use bytes::Bytes;
use std::fmt;

/// Why text could not be parsed as a term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse term at column {column}: {reason}")]
pub struct ParseError {
    /// 1-based column (character index) of the problem.
    ///
    /// Columns count characters from the start of the whole text; line breaks count as
    /// one character each.
    pub column: usize,
    /// What was wrong.
    pub reason: String,
}

/// The node that parsed pids, ports and references belong to, since their printed form
/// does not name one.
pub const PLACEHOLDER_NODE: &str = "nonode@nohost";

/// Deepest nesting of lists, tuples and maps the parser accepts.
pub const MAX_DEPTH: usize = 1000;

/// Most digits an integer literal may have (about 3.3 million bits in base 10).
pub const MAX_INTEGER_DIGITS: usize = 1_000_000;

/// Most bits that explicitly sized binary segments (`<<0:800>>`) may produce in one
/// parse: 64 MiB. Text segments are not counted, since their size follows the input.
pub const MAX_SIZED_BITS: u64 = 64 * 1024 * 1024 * 8;

/// Words that are not atoms unless quoted.
const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "else", "end", "fun", "if", "let", "maybe", "not", "of", "or",
    "orelse", "query", "receive", "rem", "try", "when", "xor",
];

/// True if `text` must be quoted to be read as an atom: it is empty, does not start with
/// a lowercase ASCII letter, contains characters other than ASCII letters, digits, `_`
/// and `@`, or is a reserved word.
///
/// ```
/// use ferrobeam_term::text::atom_needs_quotes;
/// assert!(!atom_needs_quotes("ok"));
/// assert!(!atom_needs_quotes("node@host"));
/// assert!(atom_needs_quotes("EXIT"));
/// assert!(atom_needs_quotes("end"));
/// assert!(atom_needs_quotes("ü"));
/// ```
pub fn atom_needs_quotes(text: &str) -> bool {
    let mut bytes = text.bytes();
    match bytes.next() {
        Some(b'a'..=b'z') => {}
        _ => return true,
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'@') {
        return true;
    }
    RESERVED.contains(&text)
}

/// Writes an atom in Erlang syntax, quoting it when needed.
pub fn write_atom(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    write_atom_to(f, text)
}

fn write_atom_to<W: fmt::Write + ?Sized>(w: &mut W, text: &str) -> fmt::Result {
    if !atom_needs_quotes(text) {
        return w.write_str(text);
    }
    w.write_char('\'')?;
    for c in text.chars() {
        write_char_escaped(w, c, '\'')?;
    }
    w.write_char('\'')
}

/// Writes one character inside a quoted atom or string delimited by `quote`.
fn write_char_escaped<W: fmt::Write + ?Sized>(w: &mut W, c: char, quote: char) -> fmt::Result {
    match c {
        '\\' => w.write_str("\\\\"),
        '\n' => w.write_str("\\n"),
        '\r' => w.write_str("\\r"),
        '\t' => w.write_str("\\t"),
        '\u{b}' => w.write_str("\\v"),
        '\u{8}' => w.write_str("\\b"),
        '\u{c}' => w.write_str("\\f"),
        '\u{1b}' => w.write_str("\\e"),
        '\u{7f}' => w.write_str("\\d"),
        c if c == quote => {
            w.write_char('\\')?;
            w.write_char(c)
        }
        c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
            write!(w, "\\x{{{:X}}}", c as u32)
        }
        c => w.write_char(c),
    }
}

/// True for the characters that print in a string or binary text: Latin-1 printable
/// characters plus the ones with a letter escape (`\n`, `\t`, ...), like Erlang's
/// `io_lib:printable_latin1_list/1`.
fn is_printable_latin1(cp: i64) -> bool {
    matches!(cp, 0x20..=0x7e | 0xa0..=0xff | 8..=13 | 27)
}

/// True for characters allowed in a binary printed as UTF-8 text. U+FFFE and U+FFFF are
/// left out: Erlang's scanner refuses them, even escaped.
fn is_printable_unicode(c: char) -> bool {
    is_printable_latin1(c as i64)
        || (c as u32 >= 0xa0 && !c.is_control() && c != '\u{fffe}' && c != '\u{ffff}')
}

/// Writes a float so that Erlang reads it back as the same value.
fn write_float<W: fmt::Write + ?Sized>(w: &mut W, v: f64) -> fmt::Result {
    if !v.is_finite() {
        // Erlang has no such floats, and no syntax for them: print something that no
        // parser takes for a number.
        let name = if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return write!(w, "#Float<{name}>");
    }
    if v.is_sign_negative() {
        w.write_char('-')?;
    }
    // `{:e}` gives the shortest digits that read back exactly, e.g. `1.2345e16`.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let (first, rest) = digits.split_at(1.min(digits.len()));
    let rest_or_zero = if rest.is_empty() { "0" } else { rest };
    let scientific = format!("{first}.{rest_or_zero}e{exp}");
    let n = digits.len() as i64;
    let plain = if exp >= 0 {
        if n - 1 <= exp {
            let zeros = "0".repeat((exp - (n - 1)) as usize);
            format!("{digits}{zeros}.0")
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        }
    } else {
        let zeros = "0".repeat((-exp - 1) as usize);
        format!("0.{zeros}{digits}")
    };
    // Like Erlang, never spell out integral digits beyond 2^53, where not every integer
    // is a float.
    if v.abs() < 9_007_199_254_740_992.0 && plain.len() <= scientific.len() {
        w.write_str(&plain)
    } else {
        w.write_str(&scientific)
    }
}

fn write_binary<W: fmt::Write + ?Sized>(w: &mut W, data: &[u8], bits: u8) -> fmt::Result {
    let partial = (1..=7).contains(&bits) && !data.is_empty();
    if !partial {
        if let Ok(s) = std::str::from_utf8(data) {
            if !s.is_empty() && s.chars().all(is_printable_unicode) {
                w.write_str("<<\"")?;
                for c in s.chars() {
                    write_char_escaped(w, c, '"')?;
                }
                return if s.is_ascii() {
                    w.write_str("\">>")
                } else {
                    w.write_str("\"/utf8>>")
                };
            }
        }
    }
    w.write_str("<<")?;
    let (full, last) = if partial {
        (&data[..data.len() - 1], data.last().copied())
    } else {
        (data, None)
    };
    let mut sep = "";
    for b in full {
        write!(w, "{sep}{b}")?;
        sep = ",";
    }
    if let Some(last) = last {
        write!(w, "{sep}{}:{bits}", last >> (8 - bits))?;
    }
    w.write_str(">>")
}

fn write_elements<W: fmt::Write + ?Sized>(w: &mut W, elements: &[Term]) -> fmt::Result {
    let mut sep = "";
    for e in elements {
        w.write_str(sep)?;
        write_term(w, e)?;
        sep = ",";
    }
    Ok(())
}

fn write_term<W: fmt::Write + ?Sized>(w: &mut W, term: &Term) -> fmt::Result {
    match term {
        Term::Int(i) => write!(w, "{i}"),
        Term::BigInt(b) => write!(w, "{b}"),
        Term::Float(v) => write_float(w, *v),
        Term::Atom(a) => write_atom_to(w, a.as_str()),
        Term::Binary(b) => write_binary(w, b, 0),
        Term::BitBinary { data, bits } => write_binary(w, data, *bits),
        Term::List(l) => {
            let printable = !l.is_empty()
                && l.iter()
                    .all(|e| matches!(e, Term::Int(i) if is_printable_latin1(*i)));
            if printable {
                w.write_char('"')?;
                for e in l {
                    if let Term::Int(i) = e {
                        if let Some(c) = u32::try_from(*i).ok().and_then(char::from_u32) {
                            write_char_escaped(w, c, '"')?;
                        }
                    }
                }
                w.write_char('"')
            } else {
                w.write_char('[')?;
                write_elements(w, l)?;
                w.write_char(']')
            }
        }
        Term::ImproperList { elements, tail } => {
            if elements.is_empty() {
                // Not a valid representation; the tail alone is what it means.
                return write_term(w, tail);
            }
            w.write_char('[')?;
            write_elements(w, elements)?;
            w.write_char('|')?;
            write_term(w, tail)?;
            w.write_char(']')
        }
        Term::Tuple(t) => {
            w.write_char('{')?;
            write_elements(w, t)?;
            w.write_char('}')
        }
        Term::Map(m) => {
            w.write_str("#{")?;
            let mut sep = "";
            for (k, v) in m.iter() {
                w.write_str(sep)?;
                write_term(w, k)?;
                w.write_str(" => ")?;
                write_term(w, v)?;
                sep = ",";
            }
            w.write_char('}')
        }
        Term::Pid(p) => write!(w, "{p}"),
        Term::Port(p) => write!(w, "{p}"),
        Term::Ref(r) => write!(w, "{r}"),
        Term::Fun(fun) => write!(w, "{fun}"),
    }
}

impl fmt::Display for Term {
    /// Writes the term in Erlang syntax; see the [module documentation](crate::text).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_term(f, self)
    }
}

impl std::str::FromStr for Term {
    type Err = ParseError;

    /// Parses a term in Erlang syntax; see [`parse`].
    fn from_str(s: &str) -> Result<Term, ParseError> {
        parse(s)
    }
}

/// Parses one term in Erlang syntax, with an optional trailing `.`.
///
/// See the [module documentation](crate::text) for what is accepted.
///
/// ```
/// use ferrobeam_term::{text::parse, Term};
/// assert_eq!(parse("[1,2|3]").unwrap(), Term::improper_list(vec![1.into(), 2.into()], 3.into()));
/// assert_eq!(parse("$a").unwrap(), Term::Int(97));
/// assert!(parse("{1,").is_err());
/// ```
pub fn parse(text: &str) -> Result<Term, ParseError> {
    Parser {
        src: text,
        pos: 0,
        sized_bits: 0,
    }
    .parse_all()
}

/// A container being parsed.
enum Frame {
    /// Elements so far, after `[`.
    List(Vec<Term>),
    /// Elements before `|`; the tail is being parsed.
    ListTail(Vec<Term>),
    /// Elements so far, after `{`.
    Tuple(Vec<Term>),
    /// Pairs so far; a key is being parsed.
    MapKey(Vec<(Term, Term)>),
    /// Pairs so far and the key; its value is being parsed.
    MapValue(Vec<(Term, Term)>, Term),
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset, always on a character boundary.
    pos: usize,
    /// Bits produced so far by explicitly sized binary segments.
    sized_bits: u64,
}

type PResult<T> = Result<T, ParseError>;

/// Binary segment type, from the `/...` specifiers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SegType {
    Integer,
    Float,
    Utf8,
    Utf16,
    Utf32,
}

/// A segment value.
enum SegValue {
    Int(Term),
    Float(f64),
    Text(Vec<u32>),
}

impl<'a> Parser<'a> {
    // ---- low level -------------------------------------------------------------------

    fn error_at(&self, pos: usize, reason: impl Into<String>) -> ParseError {
        let column = self
            .src
            .char_indices()
            .take_while(|(i, _)| *i < pos)
            .count()
            + 1;
        ParseError {
            column,
            reason: reason.into(),
        }
    }

    /// "expected X" at the current position, naming the end of input if it is there.
    fn expected(&self, what: &str) -> ParseError {
        if self.pos >= self.src.len() {
            self.error_at(self.pos, format!("expected {what}, found end of input"))
        } else {
            self.error_at(self.pos, format!("expected {what}"))
        }
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn peek_byte(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn peek_byte_at(&self, ahead: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn starts_with(&self, s: &str) -> bool {
        self.src.as_bytes()[self.pos.min(self.src.len())..].starts_with(s.as_bytes())
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str, what: &str) -> PResult<()> {
        self.skip_ws();
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// Skips whitespace and `%` comments.
    fn skip_ws(&mut self) {
        while let Some(b) = self.peek_byte() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'%' => {
                    while let Some(b) = self.peek_byte() {
                        if b == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => {
                    // Non-breaking space counts as whitespace in Erlang too.
                    if self.peek() == Some('\u{a0}') {
                        self.pos += 2;
                    } else {
                        break;
                    }
                }
            }
        }
    }

    // ---- terms -----------------------------------------------------------------------

    fn parse_all(mut self) -> PResult<Term> {
        let term = self.parse_nested()?;
        self.skip_ws();
        if self.peek_byte() == Some(b'.') {
            self.pos += 1;
            self.skip_ws();
        }
        if self.pos < self.src.len() {
            return Err(self.error_at(self.pos, "expected end of input"));
        }
        Ok(term)
    }

    /// Parses a term, keeping containers on an explicit stack instead of recursing.
    fn parse_nested(&mut self) -> PResult<Term> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            // Read the start of a value: either a whole scalar, or an opening bracket.
            self.skip_ws();
            let start = self.pos;
            let opens = matches!(self.peek_byte(), Some(b'[' | b'{')) || self.starts_with("#{");
            if opens && stack.len() >= MAX_DEPTH {
                return Err(self.error_at(start, format!("nesting deeper than {MAX_DEPTH} levels")));
            }
            let mut value = match self.peek_byte() {
                Some(b'[') | Some(b'{') => {
                    let open = self.peek_byte();
                    self.pos += 1;
                    self.skip_ws();
                    let (close, empty, frame) = if open == Some(b'[') {
                        (b']', Term::nil(), Frame::List(Vec::new()))
                    } else {
                        (b'}', Term::Tuple(Vec::new()), Frame::Tuple(Vec::new()))
                    };
                    if self.peek_byte() == Some(close) {
                        self.pos += 1;
                        empty
                    } else {
                        stack.push(frame);
                        continue 'value;
                    }
                }
                Some(b'#') if self.peek_byte_at(1) == Some(b'{') => {
                    self.pos += 2;
                    self.skip_ws();
                    if self.peek_byte() == Some(b'}') {
                        self.pos += 1;
                        Term::Map(TermMap::new())
                    } else {
                        stack.push(Frame::MapKey(Vec::new()));
                        continue 'value;
                    }
                }
                _ => self.parse_scalar()?,
            };
            // A value is complete: hand it to the enclosing containers, closing as many
            // as the text closes.
            loop {
                let Some(frame) = stack.pop() else {
                    return Ok(value);
                };
                self.skip_ws();
                match frame {
                    Frame::List(mut elements) => {
                        elements.push(value);
                        match self.peek_byte() {
                            Some(b',') => {
                                self.pos += 1;
                                stack.push(Frame::List(elements));
                                continue 'value;
                            }
                            Some(b'|') => {
                                self.pos += 1;
                                stack.push(Frame::ListTail(elements));
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                value = Term::List(elements);
                            }
                            _ => return Err(self.expected("',', '|' or ']'")),
                        }
                    }
                    Frame::ListTail(elements) => {
                        if self.peek_byte() != Some(b']') {
                            return Err(self.expected("']'"));
                        }
                        self.pos += 1;
                        value = Term::improper_list(elements, value);
                    }
                    Frame::Tuple(mut elements) => {
                        elements.push(value);
                        match self.peek_byte() {
                            Some(b',') => {
                                self.pos += 1;
                                stack.push(Frame::Tuple(elements));
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                value = Term::Tuple(elements);
                            }
                            _ => return Err(self.expected("',' or '}'")),
                        }
                    }
                    Frame::MapKey(pairs) => {
                        if !self.eat("=>") {
                            return Err(self.expected("'=>'"));
                        }
                        stack.push(Frame::MapValue(pairs, value));
                        continue 'value;
                    }
                    Frame::MapValue(mut pairs, key) => {
                        pairs.push((key, value));
                        match self.peek_byte() {
                            Some(b',') => {
                                self.pos += 1;
                                stack.push(Frame::MapKey(pairs));
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                value = Term::Map(TermMap::from_pairs(pairs));
                            }
                            _ => return Err(self.expected("',' or '}'")),
                        }
                    }
                }
            }
        }
    }

    /// Parses a term that is not a list, tuple or map.
    fn parse_scalar(&mut self) -> PResult<Term> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.expected("a term"));
        };
        match c {
            '0'..='9' | '-' | '+' | '$' => self.parse_number_term(),
            '\'' => {
                let text = self.parse_quoted_atom()?;
                Ok(Term::Atom(text))
            }
            '"' => {
                let chars = self.parse_strings()?;
                Ok(Term::List(
                    chars.into_iter().map(|c| Term::Int(c as i64)).collect(),
                ))
            }
            '<' if self.peek_byte_at(1) == Some(b'<') => self.parse_binary(),
            '<' => self.parse_pid(),
            '#' => self.parse_hash(),
            c if is_atom_start(c) => {
                let word = self.parse_bare_word();
                if word == "fun" {
                    return self.parse_fun();
                }
                if RESERVED.contains(&word) {
                    return Err(self.error_at(
                        start,
                        format!("'{word}' is a reserved word; quote it to make an atom"),
                    ));
                }
                self.make_atom(word, start).map(Term::Atom)
            }
            c if c == '_' || c.is_ascii_uppercase() || is_latin1_upper(c) => Err(self.error_at(
                start,
                "expected a term, found a variable (quote it to make an atom)",
            )),
            _ => Err(self.expected("a term")),
        }
    }

    fn make_atom(&self, text: &str, start: usize) -> PResult<Atom> {
        Atom::try_new(text).ok_or_else(|| {
            self.error_at(
                start,
                format!("atom longer than {} characters", crate::MAX_ATOM_CHARS),
            )
        })
    }

    /// Reads a bare atom's characters.
    fn parse_bare_word(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '@' || is_latin1_letter(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        &self.src[start..self.pos]
    }

    /// Reads a bare or quoted atom.
    fn parse_atom(&mut self, what: &str) -> PResult<Atom> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('\'') => self.parse_quoted_atom(),
            Some(c) if is_atom_start(c) => {
                let word = self.parse_bare_word();
                if RESERVED.contains(&word) {
                    return Err(self.error_at(start, format!("expected {what}")));
                }
                self.make_atom(word, start)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn parse_quoted_atom(&mut self) -> PResult<Atom> {
        let start = self.pos;
        let chars = self.parse_quoted('\'')?;
        let mut text = String::with_capacity(chars.len());
        for (cp, at) in chars {
            match char::from_u32(cp) {
                Some(c) => text.push(c),
                None => return Err(self.error_at(at, "not a valid character in an atom")),
            }
        }
        self.make_atom(&text, start)
    }

    /// Reads one or more adjacent string literals, joined.
    fn parse_strings(&mut self) -> PResult<Vec<u32>> {
        let mut out: Vec<u32> = self
            .parse_quoted('"')?
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.peek_byte() == Some(b'"') {
                out.extend(self.parse_quoted('"')?.into_iter().map(|(c, _)| c));
            } else {
                self.pos = save;
                return Ok(out);
            }
        }
    }

    /// Reads a literal delimited by `quote` (the current character), returning each code
    /// point with the byte offset where it started.
    fn parse_quoted(&mut self, quote: char) -> PResult<Vec<(u32, usize)>> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => {
                    let kind = if quote == '"' {
                        "string"
                    } else {
                        "quoted atom"
                    };
                    return Err(self.error_at(open, format!("unterminated {kind}")));
                }
                Some(c) if c == quote => return Ok(out),
                Some('\\') => out.push((self.parse_escape(at)?, at)),
                Some(c) => out.push((c as u32, at)),
            }
        }
    }

    /// Reads an escape sequence after its backslash, which was at `at`.
    fn parse_escape(&mut self, at: usize) -> PResult<u32> {
        let Some(c) = self.bump() else {
            return Err(self.error_at(at, "unterminated escape sequence"));
        };
        Ok(match c {
            'b' => 8,
            'd' => 127,
            'e' => 27,
            'f' => 12,
            'n' => 10,
            'r' => 13,
            's' => 32,
            't' => 9,
            'v' => 11,
            '0'..='7' => {
                let mut v = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek_byte() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                v
            }
            'x' => {
                if self.peek_byte() == Some(b'{') {
                    self.pos += 1;
                    let mut v: u32 = 0;
                    let mut n = 0;
                    while let Some(d) = self.peek_byte().and_then(|b| (b as char).to_digit(16)) {
                        self.pos += 1;
                        n += 1;
                        v = v.saturating_mul(16).saturating_add(d);
                    }
                    if n == 0 || self.peek_byte() != Some(b'}') {
                        return Err(self.error_at(at, "bad escape: expected \\x{HEX}"));
                    }
                    self.pos += 1;
                    if v > 0x10ffff {
                        return Err(self.error_at(at, "character code above 16#10FFFF"));
                    }
                    v
                } else {
                    let mut v = 0;
                    for _ in 0..2 {
                        match self.peek_byte().and_then(|b| (b as char).to_digit(16)) {
                            Some(d) => {
                                v = v * 16 + d;
                                self.pos += 1;
                            }
                            None => {
                                return Err(
                                    self.error_at(at, "bad escape: expected \\xHH or \\x{HEX}")
                                )
                            }
                        }
                    }
                    v
                }
            }
            '^' => match self.bump() {
                Some(c) => c as u32 & 31,
                None => return Err(self.error_at(at, "unterminated escape sequence")),
            },
            other => other as u32,
        })
    }

    // ---- numbers ---------------------------------------------------------------------

    /// Reads an optionally signed integer, char literal or float.
    fn parse_number_term(&mut self) -> PResult<Term> {
        let start = self.pos;
        let negative = match self.peek_byte() {
            Some(b'-') => {
                self.pos += 1;
                self.skip_ws();
                true
            }
            Some(b'+') => {
                self.pos += 1;
                self.skip_ws();
                false
            }
            _ => false,
        };
        if self.peek_byte() == Some(b'$') {
            let c = self.parse_char_literal()? as i64;
            return Ok(Term::Int(if negative { -c } else { c }));
        }
        if !matches!(self.peek_byte(), Some(b'0'..=b'9')) {
            return Err(if self.pos == start {
                self.expected("a term")
            } else {
                self.expected("a number")
            });
        }
        self.parse_unsigned_number(negative)
    }

    fn parse_char_literal(&mut self) -> PResult<u32> {
        let at = self.pos;
        self.pos += 1; // '$'
        match self.bump() {
            None => Err(self.error_at(at, "expected a character after '$'")),
            Some('\\') => self.parse_escape(self.pos - 1),
            Some(c) => Ok(c as u32),
        }
    }

    /// Reads decimal digits with `_` separators (each `_` between two digits).
    fn read_digits(&mut self, radix: u32) -> PResult<Vec<u8>> {
        let mut digits = Vec::new();
        loop {
            match self.peek_byte().and_then(|b| (b as char).to_digit(radix)) {
                Some(d) => {
                    digits.push(d as u8);
                    self.pos += 1;
                    if digits.len() > MAX_INTEGER_DIGITS {
                        return Err(self.error_at(
                            self.pos,
                            format!("number longer than {MAX_INTEGER_DIGITS} digits"),
                        ));
                    }
                }
                None => {
                    let next_is_digit = self
                        .peek_byte_at(1)
                        .and_then(|b| (b as char).to_digit(radix))
                        .is_some();
                    if self.peek_byte() == Some(b'_') && !digits.is_empty() && next_is_digit {
                        self.pos += 1;
                    } else {
                        return Ok(digits);
                    }
                }
            }
        }
    }

    /// Reads an unsigned integer (any base) or float, starting at a digit.
    fn parse_unsigned_number(&mut self, negative: bool) -> PResult<Term> {
        let start = self.pos;
        let digits = self.read_digits(10)?;
        // Base syntax: `16#ff`.
        if self.peek_byte() == Some(b'#') {
            let base = digits
                .iter()
                .fold(0u32, |a, &d| a.saturating_mul(10).saturating_add(d as u32));
            if !(2..=36).contains(&base) {
                return Err(self.error_at(start, "base must be between 2 and 36"));
            }
            self.pos += 1;
            let based = self.read_digits(base)?;
            if based.is_empty() {
                return Err(self.expected(&format!("digits in base {base}")));
            }
            return Ok(int_from_digits(&based, base, negative));
        }
        // Float: a `.` followed by a digit.
        if self.peek_byte() == Some(b'.') && matches!(self.peek_byte_at(1), Some(b'0'..=b'9')) {
            self.pos += 1;
            let frac = self.read_digits(10)?;
            let mut text = String::with_capacity(digits.len() + frac.len() + 8);
            if negative {
                text.push('-');
            }
            text.extend(digits.iter().map(|d| (b'0' + d) as char));
            text.push('.');
            text.extend(frac.iter().map(|d| (b'0' + d) as char));
            if matches!(self.peek_byte(), Some(b'e' | b'E')) {
                self.pos += 1;
                let mut sign = "";
                if let Some(s @ (b'+' | b'-')) = self.peek_byte() {
                    sign = if s == b'-' { "-" } else { "" };
                    self.pos += 1;
                }
                let exp = self.read_digits(10)?;
                if exp.is_empty() {
                    return Err(self.expected("an exponent"));
                }
                text.push('e');
                text.push_str(sign);
                text.extend(exp.iter().map(|d| (b'0' + d) as char));
            }
            return match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Term::Float(v)),
                _ => Err(self.error_at(start, "float out of range")),
            };
        }
        Ok(int_from_digits(&digits, 10, negative))
    }

    /// Reads a plain unsigned decimal number (no signs, separators or bases), for the
    /// fields of pids, ports and references.
    fn parse_plain_u64(&mut self) -> PResult<u64> {
        self.skip_ws();
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek_byte() {
            self.pos += 1;
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add((d - b'0') as u64))
                .ok_or_else(|| self.error_at(start, "number too large"))?;
        }
        if self.pos == start {
            return Err(self.expected("a number"));
        }
        Ok(v)
    }

    fn parse_plain_u32(&mut self) -> PResult<u32> {
        self.skip_ws();
        let start = self.pos;
        let v = self.parse_plain_u64()?;
        u32::try_from(v).map_err(|_| self.error_at(start, "number too large (above 2^32-1)"))
    }

    // ---- identifiers -----------------------------------------------------------------

    /// `<A.B.C>`: a pid.
    fn parse_pid(&mut self) -> PResult<Term> {
        self.pos += 1; // '<'
        self.parse_plain_u64()?;
        self.expect(".", "'.'")?;
        let id = self.parse_plain_u32()?;
        self.expect(".", "'.'")?;
        let serial = self.parse_plain_u32()?;
        self.expect(">", "'>'")?;
        Ok(Term::Pid(Pid::new(PLACEHOLDER_NODE, id, serial, 0)))
    }

    /// `#Ref<...>`, `#Port<...>`, or `#Fun<...>` (refused).
    fn parse_hash(&mut self) -> PResult<Term> {
        let start = self.pos;
        if self.eat("#Ref<") {
            self.parse_plain_u64()?;
            let mut words = Vec::new();
            loop {
                self.skip_ws();
                if self.eat(">") {
                    break;
                }
                self.expect(".", "'.' or '>'")?;
                if words.len() == crate::MAX_REF_WORDS {
                    return Err(self.error_at(
                        self.pos,
                        format!("a reference has at most {} numbers", crate::MAX_REF_WORDS),
                    ));
                }
                words.push(self.parse_plain_u32()?);
            }
            words.reverse();
            return match Ref::new(PLACEHOLDER_NODE, 0, &words) {
                Some(r) => Ok(Term::from(r)),
                None => Err(self.error_at(start, "a reference needs 1 to 5 numbers after 0")),
            };
        }
        if self.eat("#Port<") {
            self.parse_plain_u64()?;
            self.expect(".", "'.'")?;
            let id = self.parse_plain_u64()?;
            self.expect(">", "'>'")?;
            return Ok(Term::from(Port::new(PLACEHOLDER_NODE, id, 0)));
        }
        if self.starts_with("#Fun<") {
            return Err(self.error_at(start, "closures (#Fun<...>) cannot be parsed"));
        }
        if self.starts_with("#Float<") {
            return Err(self.error_at(start, "Erlang floats cannot be infinite or NaN"));
        }
        self.pos += 1;
        Err(self.error_at(self.pos, "expected '{' after '#' (records are not terms)"))
    }

    /// `fun M:F/A`, after the word `fun`.
    fn parse_fun(&mut self) -> PResult<Term> {
        let module = self.parse_atom("a module name after 'fun'")?;
        self.expect(":", "':' (only funs of the form fun M:F/A are terms)")?;
        let function = self.parse_atom("a function name")?;
        self.expect("/", "'/'")?;
        self.skip_ws();
        let at = self.pos;
        let arity = self.parse_plain_u64()?;
        let arity = u8::try_from(arity).map_err(|_| self.error_at(at, "arity above 255"))?;
        Ok(Term::from(Fun::export(module, function, arity)))
    }

    // ---- binaries --------------------------------------------------------------------

    fn parse_binary(&mut self) -> PResult<Term> {
        self.pos += 2; // "<<"
        let mut out = BitWriter::default();
        self.skip_ws();
        if self.eat(">>") {
            return Ok(out.finish());
        }
        loop {
            self.parse_segment(&mut out)?;
            self.skip_ws();
            if self.eat(">>") {
                return Ok(out.finish());
            }
            if !self.eat(",") {
                return Err(self.expected("',' or '>>'"));
            }
        }
    }

    fn parse_segment(&mut self, out: &mut BitWriter) -> PResult<()> {
        self.skip_ws();
        let start = self.pos;
        let value = match self.peek_byte() {
            Some(b'"') => SegValue::Text(self.parse_strings()?),
            Some(b'0'..=b'9' | b'-' | b'+' | b'$') => match self.parse_number_term()? {
                Term::Float(v) => SegValue::Float(v),
                t => SegValue::Int(t),
            },
            _ => return Err(self.expected("a number or a string in a binary")),
        };
        self.skip_ws();
        let mut size: Option<(u64, usize)> = None;
        if self.eat(":") {
            self.skip_ws();
            let at = self.pos;
            size = Some((self.parse_plain_u64()?, at));
        }
        // Type specifiers.
        let mut ty = match value {
            SegValue::Float(_) => SegType::Float,
            _ => SegType::Integer,
        };
        let mut explicit_type = false;
        let mut little = false;
        let mut unit: Option<u64> = None;
        self.skip_ws();
        if self.eat("/") {
            loop {
                self.skip_ws();
                let at = self.pos;
                let word = match self.peek() {
                    Some(c) if c.is_ascii_lowercase() => self.parse_bare_word(),
                    _ => return Err(self.expected("a type specifier")),
                };
                match word {
                    "integer" | "float" | "utf8" | "utf16" | "utf32" => {
                        if explicit_type {
                            return Err(self.error_at(at, "conflicting type specifiers"));
                        }
                        explicit_type = true;
                        ty = match word {
                            "integer" => SegType::Integer,
                            "float" => SegType::Float,
                            "utf8" => SegType::Utf8,
                            "utf16" => SegType::Utf16,
                            _ => SegType::Utf32,
                        };
                    }
                    "signed" | "unsigned" | "big" => {}
                    "little" => little = true,
                    "native" => little = cfg!(target_endian = "little"),
                    "unit" => {
                        self.expect(":", "':' after unit")?;
                        let u_at = self.pos;
                        let u = self.parse_plain_u64()?;
                        if !(1..=256).contains(&u) {
                            return Err(self.error_at(u_at, "unit must be 1 to 256"));
                        }
                        unit = Some(u);
                    }
                    "binary" | "bytes" | "bitstring" | "bits" => {
                        return Err(self.error_at(
                            at,
                            "binary segments need a binary value, which a term literal cannot hold",
                        ))
                    }
                    _ => return Err(self.error_at(at, format!("unknown type specifier '{word}'"))),
                }
                self.skip_ws();
                if !self.eat("-") {
                    break;
                }
            }
        }
        let is_utf = matches!(ty, SegType::Utf8 | SegType::Utf16 | SegType::Utf32);
        if is_utf && (size.is_some() || unit.is_some()) {
            return Err(self.error_at(start, "utf8/utf16/utf32 segments take no size or unit"));
        }
        if unit.is_some() && size.is_none() {
            return Err(self.error_at(start, "a unit needs a size"));
        }
        let bits: Option<u64> = match size {
            None => None,
            Some((n, at)) => Some(
                n.checked_mul(unit.unwrap_or(1))
                    .ok_or_else(|| self.error_at(at, "segment too large"))?,
            ),
        };
        match value {
            SegValue::Text(chars) => {
                for c in chars {
                    let v = Term::Int(c as i64);
                    self.write_value(out, &SegValue::Int(v), ty, bits, little, start)?;
                }
                Ok(())
            }
            v => self.write_value(out, &v, ty, bits, little, start),
        }
    }

    fn charge(&mut self, bits: u64, at: usize) -> PResult<()> {
        self.sized_bits = self.sized_bits.saturating_add(bits);
        if self.sized_bits > MAX_SIZED_BITS {
            return Err(self.error_at(
                at,
                format!("sized binary segments above {MAX_SIZED_BITS} bits in total"),
            ));
        }
        Ok(())
    }

    fn write_value(
        &mut self,
        out: &mut BitWriter,
        value: &SegValue,
        ty: SegType,
        bits: Option<u64>,
        little: bool,
        at: usize,
    ) -> PResult<()> {
        match ty {
            SegType::Integer => {
                let SegValue::Int(v) = value else {
                    return Err(self.error_at(at, "an integer segment needs an integer"));
                };
                let n = match bits {
                    Some(n) => {
                        self.charge(n, at)?;
                        n
                    }
                    None => {
                        // Erlang would keep the low 8 bits; refuse instead, since a text
                        // character above 255 is almost surely meant as UTF-8.
                        if !matches!(v, Term::Int(-128..=255)) {
                            return Err(self.error_at(
                                at,
                                "value does not fit in 8 bits (for text add /utf8, for \
                                 numbers a size such as :16)",
                            ));
                        }
                        8
                    }
                };
                if little && n % 8 != 0 {
                    return Err(
                        self.error_at(at, "little-endian segments need a size in whole bytes")
                    );
                }
                let mut bytes = twos_complement_be(v, n);
                if little {
                    bytes.reverse();
                }
                out.push_bits(&bytes, n);
                Ok(())
            }
            SegType::Float => {
                let v = match value {
                    SegValue::Float(v) => *v,
                    SegValue::Int(Term::Int(i)) => *i as f64,
                    SegValue::Int(Term::BigInt(b)) => b.to_f64(),
                    _ => return Err(self.error_at(at, "a float segment needs a number")),
                };
                let n = bits.unwrap_or(64);
                let mut bytes = match n {
                    64 => v.to_be_bytes().to_vec(),
                    32 => {
                        let f = v as f32;
                        if !f.is_finite() {
                            return Err(self.error_at(at, "float does not fit in 32 bits"));
                        }
                        f.to_be_bytes().to_vec()
                    }
                    _ => return Err(self.error_at(at, "float segments must be 32 or 64 bits")),
                };
                if little {
                    bytes.reverse();
                }
                out.push_bits(&bytes, n);
                Ok(())
            }
            SegType::Utf8 | SegType::Utf16 | SegType::Utf32 => {
                let c = match value {
                    SegValue::Int(Term::Int(i)) => u32::try_from(*i).ok().and_then(char::from_u32),
                    _ => None,
                };
                let Some(c) = c else {
                    return Err(self.error_at(at, "not a Unicode code point"));
                };
                let mut bytes: Vec<u8> = match ty {
                    SegType::Utf8 => c.encode_utf8(&mut [0; 4]).as_bytes().to_vec(),
                    SegType::Utf16 => {
                        let mut units = [0u16; 2];
                        let units = c.encode_utf16(&mut units);
                        units
                            .iter()
                            .flat_map(|u| {
                                if little {
                                    u.to_le_bytes()
                                } else {
                                    u.to_be_bytes()
                                }
                            })
                            .collect()
                    }
                    _ => {
                        if little {
                            (c as u32).to_le_bytes().to_vec()
                        } else {
                            (c as u32).to_be_bytes().to_vec()
                        }
                    }
                };
                let n = bytes.len() as u64 * 8;
                out.push_bits(&std::mem::take(&mut bytes), n);
                Ok(())
            }
        }
    }
}

fn is_atom_start(c: char) -> bool {
    c.is_ascii_lowercase() || (('\u{df}'..='\u{ff}').contains(&c) && c != '\u{f7}')
}

fn is_latin1_upper(c: char) -> bool {
    ('\u{c0}'..='\u{de}').contains(&c) && c != '\u{d7}'
}

fn is_latin1_letter(c: char) -> bool {
    ('\u{c0}'..='\u{ff}').contains(&c) && c != '\u{d7}' && c != '\u{f7}'
}

/// Builds an integer from digit values (most significant first) in `base`.
fn int_from_digits(digits: &[u8], base: u32, negative: bool) -> Term {
    // Fast path: fits in u128.
    let mut small: Option<u128> = Some(0);
    for &d in digits {
        small = small
            .and_then(|v| v.checked_mul(base as u128))
            .and_then(|v| v.checked_add(d as u128));
        if small.is_none() {
            break;
        }
    }
    if let Some(v) = small {
        if let Ok(v) = i128::try_from(v) {
            return Term::int(if negative { -v } else { v });
        }
    }
    // Little-endian u64 limbs; fold in as many digits at a time as fit in a u64.
    let base = base as u64;
    let mut per_chunk = 1;
    let mut chunk_mul = base;
    while chunk_mul.checked_mul(base).is_some() {
        chunk_mul *= base;
        per_chunk += 1;
    }
    let mut limbs: Vec<u64> = vec![0];
    for chunk in digits.chunks(per_chunk) {
        let mut mul: u64 = 1;
        let mut add: u64 = 0;
        for &d in chunk {
            mul *= base;
            add = add * base + d as u64;
        }
        let mut carry = add as u128;
        for limb in limbs.iter_mut() {
            let cur = *limb as u128 * mul as u128 + carry;
            *limb = cur as u64;
            carry = cur >> 64;
        }
        if carry > 0 {
            limbs.push(carry as u64);
        }
    }
    let le: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    Term::from_bigint(BigInt::from_le_bytes(negative, &le))
}

/// The low `n` bits of an integer in two's complement, big-endian, right-aligned in
/// `ceil(n / 8)` bytes.
fn twos_complement_be(v: &Term, n: u64) -> Vec<u8> {
    let (negative, mag): (bool, Vec<u8>) = match v {
        Term::Int(i) => (*i < 0, i.unsigned_abs().to_le_bytes().to_vec()),
        Term::BigInt(b) => (b.is_negative(), b.magnitude_le().to_vec()),
        _ => (false, Vec::new()),
    };
    let nbytes = n.div_ceil(8) as usize;
    // Little-endian two's complement over nbytes.
    let mut le: Vec<u8> = (0..nbytes)
        .map(|i| mag.get(i).copied().unwrap_or(0))
        .collect();
    if negative {
        let mut carry = true;
        for b in le.iter_mut() {
            let (s, c) = (!*b).overflowing_add(carry as u8);
            *b = s;
            carry = c;
        }
    }
    // Clear the bits above n.
    let extra = (nbytes as u64 * 8 - n) as u32;
    if extra > 0 {
        if let Some(top) = le.last_mut() {
            *top &= 0xffu8 >> extra;
        }
    }
    le.reverse();
    le
}

/// Accumulates a bitstring.
#[derive(Default)]
struct BitWriter {
    data: Vec<u8>,
    /// Bits used in the last byte of `data`, 0 meaning a whole byte (or no data).
    partial: u32,
}

impl BitWriter {
    /// Appends the low `n` bits of `bytes` (big-endian, right-aligned in
    /// `ceil(n / 8)` bytes).
    fn push_bits(&mut self, bytes: &[u8], n: u64) {
        if n == 0 {
            return;
        }
        let lead = (bytes.len() as u64 * 8 - n) as u32; // unused high bits of bytes[0]
        if lead == 0 && self.partial == 0 {
            self.data.extend_from_slice(bytes);
            return;
        }
        // Bit by byte: walk the source bits from the most significant.
        let mut remaining = n;
        let mut first = true;
        for &b in bytes {
            let (byte, count) = if first {
                first = false;
                (b, 8 - lead)
            } else {
                (b, 8)
            };
            let count = count.min(remaining as u32);
            if count == 0 {
                break;
            }
            // The `count` bits to append are the low `count` bits of `byte`.
            let chunk = if count == 8 {
                byte
            } else {
                byte & ((1u8 << count) - 1)
            };
            self.push_small(chunk, count);
            remaining -= count as u64;
        }
    }

    /// Appends the low `count` (1..=8) bits of `v`.
    fn push_small(&mut self, v: u8, count: u32) {
        if self.partial == 0 {
            // Start a new byte, bits at the top.
            self.data.push(((v as u16) << (8 - count)) as u8);
            self.partial = count % 8;
            return;
        }
        let free = 8 - self.partial;
        let last = self.data.len() - 1;
        if count <= free {
            self.data[last] |= ((v as u16) << (free - count)) as u8;
            self.partial = (self.partial + count) % 8;
        } else {
            let spill = count - free;
            self.data[last] |= v >> spill;
            let rest = v & ((1u16 << spill) - 1) as u8;
            self.data.push(((rest as u16) << (8 - spill)) as u8);
            self.partial = spill;
        }
    }

    fn finish(self) -> Term {
        if self.partial == 0 {
            Term::Binary(Bytes::from(self.data))
        } else {
            Term::BitBinary {
                data: Bytes::from(self.data),
                bits: self.partial as u8,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_erlang_short() {
        for (v, s) in [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (1000.0, "1.0e3"),
            (123456.0, "123456.0"),
            (1.0e15, "1.0e15"),
            (1234567890123456.0, "1234567890123456.0"),
            (12345678901234567.0, "1.2345678901234568e16"),
            (0.001, "0.001"),
            (0.0001, "0.0001"),
            (1.0e-5, "1.0e-5"),
            (1.5e-7, "1.5e-7"),
            (1.0e100, "1.0e100"),
            (5.0e-324, "5.0e-324"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (9007199254740990.0, "9007199254740990.0"),
            (9007199254740992.0, "9.007199254740992e15"),
            (0.000123, "1.23e-4"),
            (0.0012345, "0.0012345"),
            (12000.0, "1.2e4"),
            (4503599627370496.5, "4503599627370496.0"),
        ] {
            let mut out = String::new();
            write_float(&mut out, v).unwrap();
            assert_eq!(out, s, "{v:e}");
        }
    }

    #[test]
    fn bit_writer() {
        let mut w = BitWriter::default();
        w.push_bits(&[1], 3);
        w.push_bits(&[0xff], 8);
        w.push_bits(&[0x01, 0xff], 9);
        // 001 11111111 111111111 -> 0011 1111 1111 1111 1111 (20 bits)
        let t = w.finish();
        assert_eq!(t, Term::bitstring(&[0x3f, 0xff, 0xf0], 20).unwrap());
    }

    #[test]
    fn twos_complement() {
        assert_eq!(twos_complement_be(&Term::Int(-1), 12), vec![0x0f, 0xff]);
        assert_eq!(twos_complement_be(&Term::Int(258), 16), vec![1, 2]);
        assert_eq!(twos_complement_be(&Term::Int(-2), 72)[0], 0xff);
        assert_eq!(twos_complement_be(&Term::Int(5), 3), vec![5]);
    }
}
