// No empty scrubbed text to fill in afterwards.
use jcdiag_scrub::Scrubbed;

fn main() {
    let _ = Scrubbed::default();
}
