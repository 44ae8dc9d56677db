// The bundle writer's `add` takes scrubbed text, not a string.
use jcdiag_client::bundle::BundleWriter;

fn main() {
    let mut writer = BundleWriter::preview(std::path::Path::new("bundle.zip"));
    let _ = writer.add("notes.txt", "password=hunter2");
}
