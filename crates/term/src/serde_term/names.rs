//! Rust names to atoms: `NickInUse` → `nick_in_use`, `'EXIT'` → `EXIT`, and
//! `Result::Err` → `error`.

/// The text between the quotes of a name written as a quoted atom (`'EXIT'`).
fn unquoted(name: &str) -> Option<&str> {
    name.strip_prefix('\'')?.strip_suffix('\'')
}

/// True if the name is written as a quoted atom.
pub(crate) fn is_quoted(name: &str) -> bool {
    unquoted(name).is_some()
}

/// The atom text of a struct field name: the name itself, or the text between quotes.
pub(crate) fn field_atom(name: &str) -> &str {
    unquoted(name).unwrap_or(name)
}

/// Feeds the snake_case form of `name` to `push`, a character at a time.
///
/// An underscore goes before an upper-case letter that follows a lower-case letter or
/// a digit, or that starts a new word after an acronym (`HTTPError` → `http_error`).
fn snake(name: &str, push: &mut impl FnMut(char)) {
    let mut prev: Option<char> = None;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_uppercase() {
            if let Some(p) = prev {
                let next_lower = chars.peek().is_some_and(|n| n.is_lowercase());
                if p != '_'
                    && (p.is_lowercase() || p.is_numeric() || (p.is_uppercase() && next_lower))
                {
                    push('_');
                }
            }
            for l in c.to_lowercase() {
                push(l);
            }
        } else {
            push(c);
        }
        prev = Some(c);
    }
}

/// Calls `f` with the atom text of a variant or unit struct name, without allocating
/// for names of up to 64 bytes.
pub(crate) fn with_atom<R>(name: &str, f: impl FnOnce(&str) -> R) -> R {
    if let Some(inner) = unquoted(name) {
        return f(inner);
    }
    if !name.chars().any(char::is_uppercase) {
        return f(name);
    }
    let mut buf = [0u8; 64];
    let mut len = 0;
    let mut overflow = false;
    snake(name, &mut |c| {
        let n = c.len_utf8();
        if !overflow && len + n <= buf.len() {
            c.encode_utf8(&mut buf[len..]);
            len += n;
        } else {
            overflow = true;
        }
    });
    if !overflow {
        if let Ok(s) = std::str::from_utf8(&buf[..len]) {
            return f(s);
        }
    }
    let mut s = String::with_capacity(name.len() + 8);
    snake(name, &mut |c| s.push(c));
    f(&s)
}

/// Calls `f` with the atom text of a variant of the enum `enum_name`.
pub(crate) fn with_variant_atom<R>(enum_name: &str, variant: &str, f: impl FnOnce(&str) -> R) -> R {
    if enum_name == "Result" && variant == "Err" {
        return f("error");
    }
    with_atom(variant, f)
}

/// True if `atom` is the atom text of `name` (as [`with_atom`] gives it).
fn atom_matches(name: &str, atom: &str) -> bool {
    if let Some(inner) = unquoted(name) {
        return inner == atom;
    }
    let mut rest = atom.chars();
    let mut same = true;
    snake(name, &mut |c| {
        if same {
            same = rest.next() == Some(c);
        }
    });
    same && rest.next().is_none()
}

/// True if `atom` names the variant `variant` of the enum `enum_name`.
pub(crate) fn variant_matches(enum_name: &str, variant: &str, atom: &str) -> bool {
    if enum_name == "Result" && variant == "Err" {
        return atom == "error";
    }
    atom_matches(variant, atom)
}

/// The atom texts of an enum's variants, for error messages: `connect, disconnect`.
pub(crate) fn variant_list(enum_name: &str, variants: &[&str]) -> String {
    let mut out = String::new();
    for (i, v) in variants.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        with_variant_atom(enum_name, v, |a| out.push_str(a));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(name: &str) -> String {
        with_atom(name, str::to_string)
    }

    #[test]
    fn snake_case() {
        for (name, want) in [
            ("NickInUse", "nick_in_use"),
            ("Connect", "connect"),
            ("ListUsers", "list_users"),
            ("HTTPError", "http_error"),
            ("IOError", "io_error"),
            ("EXIT", "exit"),
            ("V2Name", "v2_name"),
            ("Foo_Bar", "foo_bar"),
            ("already_snake", "already_snake"),
            ("$gen_call", "$gen_call"),
            ("'EXIT'", "EXIT"),
            ("Ärger", "ärger"),
            ("", ""),
        ] {
            assert_eq!(atom(name), want, "{name}");
            assert!(atom_matches(name, want), "{name}");
            assert!(!atom_matches(name, "x"), "{name}");
        }
        let long = "A".repeat(40) + "Bcd";
        assert_eq!(atom(&long).len(), long.len() + 1);
        assert!(atom_matches(&long, &atom(&long)));
        assert!(!atom_matches("NickInUse", "nick_in_use_"));
        assert!(!atom_matches("NickInUse", "nick_in_us"));
    }

    #[test]
    fn result_err_is_error() {
        assert!(variant_matches("Result", "Err", "error"));
        assert!(!variant_matches("Result", "Err", "err"));
        assert!(variant_matches("Other", "Err", "err"));
        assert_eq!(variant_list("Result", &["Ok", "Err"]), "ok, error");
    }
}
