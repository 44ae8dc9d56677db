//! Turns `src/profile.toml` into JSON when the crate is built. The profile stays TOML for the
//! people who edit it; the binary reads it with serde_json, whose generated readers for the
//! profile's types are about a third the size of toml's (the stripped jcdiag has a size goal).
//! A TOML error in the profile fails the build here, with toml's message.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=src/profile.toml");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let text = std::fs::read_to_string(manifest.join("src/profile.toml"))
        .expect("src/profile.toml is readable");
    let value: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("src/profile.toml is not valid TOML: {e}"));
    let json = serde_json::to_string(&value).expect("a TOML value is JSON");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("profile.json");
    std::fs::write(out, json).expect("OUT_DIR is writable");
}
