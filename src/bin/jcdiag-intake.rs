//! `jcdiag-intake`: the support endpoint. The server lands with the delivery work; for now it
//! only reports its version.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("jcdiag-intake {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    eprintln!(
        "jcdiag-intake {}: the server is not built into this version yet",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
