// The writer's raw entry method stays private.
use jcdiag_client::bundle::BundleWriter;

fn main() {
    let mut writer = BundleWriter::preview(std::path::Path::new("bundle.zip"));
    let _ = writer.add_bytes("notes.txt", b"password=hunter2".to_vec());
}
