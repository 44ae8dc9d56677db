//! `manifest.json`'s `commands` (issue #14) is optional both ways: a manifest written before it
//! reads with none and writes back without the key, and one with it keeps every field; a
//! reader that does not know the key (an older intake) ignores it.

use jcdiag_protocol::{CommandRun, Manifest};
use serde_json::Value;

#[test]
fn commands_are_optional_and_kept() {
    let old: Manifest = serde_json::from_str(include_str!("fixtures/manifest.json")).unwrap();
    assert!(old.commands.is_empty());
    assert!(
        serde_json::to_value(&old)
            .unwrap()
            .get("commands")
            .is_none()
    );

    let mut new = old.clone();
    new.commands.push(CommandRun {
        name: "hang".into(),
        source: "commands".into(),
        command: vec!["/usr/local/bin/hang".into()],
        status: "timed out".into(),
        reason: Some("timed out after 10 s".into()),
        exit_code: None,
        duration_ms: Some(10_004),
        entry: Some("commands/hang.txt".into()),
    });
    let written = serde_json::to_value(&new).unwrap();
    assert_eq!(written["commands"][0]["reason"], "timed out after 10 s");
    let back: Manifest = serde_json::from_value(written.clone()).unwrap();
    assert_eq!(back, new);

    // An older reader: the same struct without the field, as serde reads unknown keys.
    #[derive(serde::Deserialize)]
    struct OlderManifest {
        entries: Vec<Value>,
    }
    let older: OlderManifest = serde_json::from_value(written).unwrap();
    assert_eq!(older.entries.len(), old.entries.len());
}
