//! `ferrobeam term decode|encode|format`: converts between the External Term Format and
//! Erlang text syntax, through stdin and stdout.

use ferrobeam_term::{decode, encode, Term};
use std::io::{Read, Write};
use std::process::ExitCode;

/// Term conversion commands.
#[derive(clap::Subcommand)]
pub enum TermCommand {
    /// Read ETF bytes (starting with 131) on stdin, print the term in Erlang syntax.
    Decode(DecodeArgs),
    /// Read a term in Erlang syntax on stdin, write its ETF bytes to stdout.
    Encode(EncodeArgs),
    /// Read a term in Erlang syntax on stdin, print it back in canonical form.
    Format,
}

/// Options of `ferrobeam term decode`.
#[derive(clap::Args)]
pub struct DecodeArgs {
    /// The input is hexadecimal text (whitespace is ignored), not raw bytes.
    #[arg(long)]
    hex: bool,
}

/// Options of `ferrobeam term encode`.
#[derive(clap::Args)]
pub struct EncodeArgs {
    /// Write the bytes as hexadecimal text followed by a newline, not raw bytes.
    #[arg(long)]
    hex: bool,
}

/// Runs a term command.
pub fn run(cmd: TermCommand) -> Result<ExitCode, String> {
    match cmd {
        TermCommand::Decode(args) => {
            let input = read_stdin()?;
            let bytes = if args.hex {
                let text =
                    std::str::from_utf8(&input).map_err(|_| "hex input is not text".to_string())?;
                unhex(text)?
            } else {
                input
            };
            if bytes.is_empty() {
                return Err("no input: expected ETF bytes on stdin".into());
            }
            let term = decode(&bytes).map_err(|e| e.to_string())?;
            write_stdout(format!("{term}\n").as_bytes())?;
        }
        TermCommand::Encode(args) => {
            let term = read_term()?;
            let bytes = encode(&term);
            if args.hex {
                write_stdout(format!("{}\n", hex(&bytes)).as_bytes())?;
            } else {
                write_stdout(&bytes)?;
            }
        }
        TermCommand::Format => {
            let term = read_term()?;
            write_stdout(format!("{term}\n").as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> Result<Vec<u8>, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(input)
}

/// Reads stdin as Erlang text and parses it.
fn read_term() -> Result<Term, String> {
    let input = read_stdin()?;
    let text = String::from_utf8(input).map_err(|e| {
        format!(
            "input is not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    text.parse::<Term>().map_err(|e| e.to_string())
}

fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hexadecimal text, ignoring whitespace.
fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    for (i, c) in text.chars().enumerate() {
        if c.is_whitespace() {
            continue;
        }
        let Some(d) = c.to_digit(16) else {
            return Err(format!(
                "invalid hex digit {c:?} at character {} of the input",
                i + 1
            ));
        };
        match high.take() {
            None => high = Some(d as u8),
            Some(h) => out.push(h << 4 | d as u8),
        }
    }
    if high.is_some() {
        return Err("odd number of hex digits".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x83, 0x6a, 0x00, 0xff]), "836a00ff");
        assert_eq!(unhex("83 6A\n00ff").unwrap(), vec![0x83, 0x6a, 0x00, 0xff]);
        assert!(unhex("836").is_err());
        assert_eq!(
            unhex("83x6").unwrap_err(),
            "invalid hex digit 'x' at character 3 of the input"
        );
    }
}
