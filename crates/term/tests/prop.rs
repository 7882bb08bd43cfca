//! Property tests of the ETF codec: encode → decode is the identity, and no input makes
//! the decoder panic.

mod support;

use bytes::Bytes;
use ferrobeam_term::etf::{self, DecodeOptions, EncodeOptions};
use ferrobeam_term::{decode, encode};
use proptest::prelude::*;
use support::arb::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_decode_is_identity(t in arb_term()) {
        let bytes = encode(&t);
        prop_assert_eq!(bytes.len(), etf::encoded_len(&t));
        let back = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &t);
        // Canonical: encoding the decoded term gives the same bytes.
        prop_assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn utf8_atoms_and_no_version_round_trip(t in arb_term()) {
        let opts = EncodeOptions { version: false, utf8_atoms: true };
        let mut bytes = Vec::new();
        etf::encode_with(&t, &opts, &mut bytes);
        prop_assert_eq!(bytes.len(), etf::encoded_len_with(&t, &opts));
        let n = bytes.len();
        let (back, used) = etf::decode_no_version_with(Bytes::from(bytes), &DecodeOptions::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(used, n);
        prop_assert_eq!(back, t);
    }

    #[test]
    fn decoding_at_an_offset_is_decoding_the_slice(
        t in arb_term(),
        prefix in prop::collection::vec(any::<u8>(), 0..16),
        at in 0usize..64,
    ) {
        let opts = EncodeOptions { version: false, utf8_atoms: true };
        let mut bytes = prefix.clone();
        etf::encode_with(&t, &opts, &mut bytes);
        let end = bytes.len();
        let bytes = Bytes::from(bytes);
        let (back, to) = etf::decode_no_version_at(&bytes, prefix.len(), &DecodeOptions::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!((back, to), (t, end));
        // Any offset up to the end: the same outcome as the slice, offsets moved. Past
        // the end (where a slice would panic): an error.
        let direct = etf::decode_no_version_at(&bytes, at, &DecodeOptions::default());
        if at > end {
            prop_assert!(direct.is_err(), "decoded past the end: {:?}", direct);
        } else {
            let sliced = etf::decode_no_version_with(bytes.slice(at..), &DecodeOptions::default());
            match (sliced, direct) {
                (Ok((a, n)), Ok((b, m))) => prop_assert_eq!((a, n + at), (b, m)),
                (Err(_), Err(_)) => {}
                (x, y) => prop_assert!(false, "slice {:?} but offset {:?}", x, y),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(mut v in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&v);
        if !v.is_empty() {
            v[0] = 131;
        }
        let _ = decode(&v);
        let _ = etf::decode_no_version_with(Bytes::from(v), &DecodeOptions::default());
    }

    #[test]
    fn mutated_encodings_never_panic(
        t in arb_term(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let mut v = encode(&t);
        for (i, b, kind) in edits {
            let len = v.len();
            match kind {
                0 => { let i = i.index(len); v[i] = b; }
                1 => { let i = i.index(len); v[i] ^= 1 << (b % 8); }
                2 => { let i = i.index(len + 1); v.insert(i, b); }
                _ => { let i = i.index(len); v.truncate(i.max(1)); }
            }
        }
        let _ = decode(&v);
    }

    #[test]
    fn truncations_are_errors(t in arb_term()) {
        let v = encode(&t);
        for cut in 0..v.len() {
            prop_assert!(decode(&v[..cut]).is_err(), "prefix of {} bytes decoded", cut);
        }
    }

    #[test]
    fn decode_with_reports_consumed(t in arb_term(), extra in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut v = encode(&t);
        let n = v.len();
        v.extend_from_slice(&extra);
        let (back, used) = etf::decode_with(Bytes::from(v), &DecodeOptions::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(used, n);
        prop_assert_eq!(back, t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn vectored_encoding_has_the_same_bytes(t in arb_term(), min in prop_oneof![Just(1usize), Just(16), Just(1024)]) {
        let mut v = etf::Vectored::new();
        etf::encode_vectored(&t, &EncodeOptions::default(), min, &mut v);
        prop_assert_eq!(v.to_vec(), encode(&t));
        prop_assert_eq!(v.len(), encode(&t).len());
        prop_assert!(v.binaries.iter().all(|(_, b)| b.len() >= min));
    }
}
