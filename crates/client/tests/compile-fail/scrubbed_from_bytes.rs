// No conversion turns bytes into scrubbed text.
use jcdiag_scrub::Scrubbed;

fn main() {
    let _: Scrubbed = b"password=hunter2".to_vec().into();
}
