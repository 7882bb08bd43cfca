//! Fuzzes the ETF decoder: no input may panic, and whatever decodes must survive an
//! encode → decode round trip unchanged.
#![no_main]

use bytes::Bytes;
use ferrobeam_term::etf::{self, DecodeOptions};
use ferrobeam_term::{Atom, Term};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks a mode, so one corpus exercises every entry point.
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = Bytes::copy_from_slice(rest);
    let cache = [Some(Atom::new("cached")), None, Some(Atom::new("n@h"))];
    let opts = DecodeOptions {
        max_depth: 64,
        atom_cache: if mode & 1 == 1 { Some(&cache) } else { None },
        max_inflated_size: 1 << 20,
        max_terms: 1 << 20,
    };
    let decoded = if mode & 2 == 0 {
        etf::decode_with(input, &opts)
    } else {
        etf::decode_no_version_with(input, &opts)
    };
    if let Ok((term, used)) = decoded {
        assert!(used <= rest.len());
        check_round_trip(&term);
    }
});

fn check_round_trip(term: &Term) {
    let bytes = etf::encode(term);
    assert_eq!(bytes.len(), etf::encoded_len(term));
    let back = etf::decode(&bytes).expect("an encoded term decodes");
    assert_eq!(&back, term);
}
