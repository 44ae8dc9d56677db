// The bundle writer's `add` takes scrubbed text, not bytes.
use jcdiag_client::bundle::BundleWriter;

fn main() {
    let mut writer = BundleWriter::preview(std::path::Path::new("bundle.zip"));
    let _ = writer.add("notes.txt", b"password=hunter2".to_vec());
}
