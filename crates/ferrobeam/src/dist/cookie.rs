//! The magic cookie: where it comes from and how it is created.
//!
//! As with `erl`: an explicit cookie wins; otherwise the cookie is read from
//! `~/.erlang.cookie`. If that file does not exist it is created with 20 random
//! uppercase letters and mode `0400`, so that later `erl` and ferrobeam nodes of the same
//! user share it. The cookie is never logged.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A distribution cookie. Its `Debug` form hides the value so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(String);

impl Cookie {
    /// Wraps a cookie value.
    pub fn new(value: impl Into<String>) -> Cookie {
        Cookie(value.into())
    }

    /// The cookie's text (the handshake digests it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<hidden>)")
    }
}

/// Why the cookie file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// `$HOME` is not set, so `~/.erlang.cookie` cannot be found.
    #[error("cannot find ~/.erlang.cookie: HOME is not set; pass --cookie")]
    NoHome,
    /// Reading or creating the file failed.
    #[error("cannot use cookie file {path}: {source}; pass --cookie or fix the file")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file exists but holds no cookie.
    #[error("cookie file {0} is empty; put a cookie in it or pass --cookie")]
    Empty(PathBuf),
}

/// The default cookie file, `$HOME/.erlang.cookie`.
pub fn default_cookie_path() -> Result<PathBuf, CookieError> {
    let home = std::env::var_os("HOME").ok_or(CookieError::NoHome)?;
    Ok(Path::new(&home).join(".erlang.cookie"))
}

/// Reads the cookie from `path`, creating the file like `erl` does if it is missing.
pub fn read_or_create(path: &Path) -> Result<Cookie, CookieError> {
    let io = |source| CookieError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            // erl takes the first line, without surrounding whitespace.
            let cookie = text.lines().next().unwrap_or("").trim().to_string();
            if cookie.is_empty() {
                Err(CookieError::Empty(path.to_path_buf()))
            } else {
                Ok(Cookie(cookie))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cookie = random_cookie();
            write_new(path, &cookie).map_err(io)?;
            Ok(Cookie(cookie))
        }
        Err(e) => Err(io(e)),
    }
}

fn write_new(path: &Path, cookie: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)?;
    f.write_all(cookie.as_bytes())?;
    Ok(())
}

/// 20 uppercase letters from a random source, as `erl` generates.
fn random_cookie() -> String {
    let mut seed = crate::dist::random::random_u64();
    (0..20)
        .map(|_| {
            seed = crate::dist::random::splitmix(seed);
            (b'A' + (seed % 26) as u8) as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_a_private_cookie_file_and_reads_it_back() {
        let dir = std::env::temp_dir().join(format!("fb-cookie-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".erlang.cookie");
        let c = read_or_create(&path).unwrap();
        assert_eq!(c.expose().len(), 20);
        assert!(c.expose().bytes().all(|b| b.is_ascii_uppercase()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
        assert_eq!(read_or_create(&path).unwrap(), c);
        assert_eq!(format!("{c:?}"), "Cookie(<hidden>)");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
