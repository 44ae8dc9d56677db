// Scrubbed text cannot be read back from JSON either.
use jcdiag_scrub::Scrubbed;

fn main() {
    let _: Result<Scrubbed, _> = serde_json::from_str(r#"{"bytes":[],"redactions":{}}"#);
}
