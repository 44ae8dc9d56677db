// Images go in as checked screenshots, not as any bytes.
use jcdiag_client::bundle::BundleWriter;

fn main() {
    let mut writer = BundleWriter::preview(std::path::Path::new("bundle.zip"));
    let _ = writer.add_image("screenshots/a.png", b"password=hunter2".to_vec());
}
