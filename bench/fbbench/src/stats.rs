//! Percentiles and the `RESULT` lines.

use std::fmt::Write;

/// A value in a `RESULT` line.
pub enum V {
    /// An integer.
    I(u64),
    /// A float, printed with 4 decimals.
    F(f64),
}

/// Prints `RESULT rep=I k=v ...`.
pub fn result(rep: u64, kvs: &[(&str, V)]) {
    let mut line = format!("RESULT rep={rep}");
    for (k, v) in kvs {
        match v {
            V::I(i) => write!(line, " {k}={i}"),
            V::F(f) => write!(line, " {k}={f:.4}"),
        }
        .expect("write to a String");
    }
    println!("{line}");
}

/// p50, p99 and max of nanosecond samples, in microseconds (nearest rank, as
/// `fbb_driver:pcts/1` computes them).
pub fn pcts(samples: &mut [u64]) -> (f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    samples.sort_unstable();
    let n = samples.len();
    let at = |q: f64| {
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        samples[rank - 1] as f64 / 1000.0
    };
    (at(0.50), at(0.99), samples[n - 1] as f64 / 1000.0)
}

/// A payload of `size` bytes that does not compress to nothing (as
/// `fbb_driver:payload/1` makes it).
pub fn payload(size: usize) -> Vec<u8> {
    (1..=size).map(|i| (i & 255) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(pcts(&mut v), (50.0, 99.0, 100.0));
        let mut one = vec![5000];
        assert_eq!(pcts(&mut one), (5.0, 5.0, 5.0));
    }
}
