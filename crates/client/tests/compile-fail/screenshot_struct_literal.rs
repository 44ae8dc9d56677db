// A screenshot comes only from `screenshots::read`, which checks the bytes are an image.
use jcdiag_client::sources::Screenshot;

fn main() {
    let _ = Screenshot {
        source: "a.png".into(),
        format: "png",
        bytes: b"password=hunter2".to_vec(),
    };
}
