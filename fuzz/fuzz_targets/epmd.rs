//! Fuzzes the EPMD codecs: what an EPMD server reads from a client (requests) and what
//! a client reads from a server (the responses). Nothing may panic, a decoded length
//! never exceeds the input, and a request that decodes re-encodes to bytes that decode to
//! the same request.
#![no_main]

use ferrobeam_proto::epmd::{self, AliveResp, NamesResp, Port2Resp, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = epmd::request_len(data) {
        // The declared body length, checked before anything is buffered for it.
        assert!((1..=epmd::MAX_REQUEST_LEN).contains(&n));
    }
    if let Ok(Some((req, used))) = epmd::decode_request(data) {
        assert!(used <= data.len());
        // Requests are read leniently (OTP's epmd ignores what follows a NAMES_REQ, for
        // instance), so compare what the re-encoding decodes to.
        if let Ok(bytes) = req.encode() {
            let again = epmd::decode_request(&bytes).expect("re-encoding decodes");
            assert_eq!(again, Some((req, bytes.len())), "request re-encodes differently");
        }
    }
    let _ = Request::decode_body(data);
    if let Ok(Some((_, used))) = AliveResp::decode(data) {
        assert!(used <= data.len());
    }
    if let Ok(Some((_, used))) = Port2Resp::decode(data) {
        assert!(used <= data.len());
    }
    let _ = NamesResp::decode(data);
});
