//! Property tests of the ETF codec.

mod support;

use proptest::prelude::*;
use support::arb::*;

proptest! {
    #[test]
    fn arb_terms_are_canonical(t in arb_term()) {
        // Generated terms compare equal to themselves.
        prop_assert_eq!(&t, &t.clone());
    }
}
