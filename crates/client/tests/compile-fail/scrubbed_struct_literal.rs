// Scrubbed text cannot be written by hand: its fields are private.
use jcdiag_scrub::{Redactions, Scrubbed};

fn main() {
    let _ = Scrubbed {
        bytes: b"password=hunter2".to_vec(),
        redactions: Redactions::default(),
    };
}
