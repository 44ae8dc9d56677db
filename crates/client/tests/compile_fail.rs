//! The bundle writer takes only scrubbed text and checked screenshots: every file in
//! `compile-fail/` tries to get other bytes into a bundle and must not compile.
// Not on Windows: the cross-check runs this binary under wine, from where trybuild cannot run
// the host's cargo. The types are the same on every target, so the host run covers them.
#![cfg(not(windows))]

#[test]
fn unscrubbed_bytes_cannot_reach_the_bundle() {
    trybuild::TestCases::new().compile_fail("tests/compile-fail/*.rs");
}
