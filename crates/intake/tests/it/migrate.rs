//! `jcdiag-intake migrate`: an embedded store of 1,000 cases moves into PostgreSQL and the
//! objects (S3 where s3s-fs is installed, else a shared folder); `case list` and `case show`
//! answer the same before and after. Skipped, saying why, without PostgreSQL.

use std::path::Path;
use std::process::{Command, Output};

use chrono::Utc;
use jcdiag_intake::backend::ObjectsConfig;
use jcdiag_intake::backend::postgres::Database;
use jcdiag_intake::ids::UploadId;
use jcdiag_intake::store::{DeclaredBundle, NewCase, Receipt, Store, UploadRecord};
use jcdiag_testkit::{Launch, bundle_of_size, intake_bin, postgres, s3, sha256_hex, zip_of};
use serde_json::Value;

fn cli(
    data: &Path,
    database: Option<&Database>,
    objects: Option<&ObjectsConfig>,
    args: &[&str],
) -> Output {
    let mut command = Command::new(intake_bin());
    command
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("JCDIAG_INTAKE_DATA")
        .env_remove("JCDIAG_INTAKE_DATABASE");
    if let Some(database) = database {
        // The password through the environment, as the command line must never carry it.
        command.arg("--database").arg(&database.url).env(
            "JCDIAG_INTAKE_DATABASE_PASSWORD",
            database.password.as_deref().unwrap_or_default(),
        );
    }
    match objects {
        Some(ObjectsConfig::S3(config)) => {
            let url = format!("s3://{}?endpoint={}", config.bucket, config.endpoint);
            command
                .arg("--objects")
                .arg(url)
                .env("AWS_ACCESS_KEY_ID", &config.access_key)
                .env("AWS_SECRET_ACCESS_KEY", &config.secret_key);
        }
        Some(ObjectsConfig::Folder(folder)) => {
            command.arg("--objects").arg(folder);
        }
        None => {}
    }
    command.run().unwrap()
}

const FINDINGS: &[u8] = include_bytes!("../../../protocol/tests/fixtures/findings.json");

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A data folder as `serve` leaves it: `cases` cases, the first two with an accepted
/// bundle (database row, receipt and file), the first with an escalation.
fn embedded_store(data: &Path, cases: usize) -> Vec<(String, Vec<u8>)> {
    std::fs::create_dir_all(data.join("bundles")).unwrap();
    let store = Store::open(&data.join("intake.sqlite")).unwrap();
    let now = Utc::now();
    // A console account (the hash's value does not matter to the copy).
    store
        .put_staff(
            "ada@support.example.com",
            "$argon2id$v=19$m=19456,t=2,p=1$x$y",
            now,
        )
        .unwrap();
    let mut kept = Vec::new();
    for i in 0..cases {
        // The first case's bundle has findings, which `case show` reads from the bundle.
        let bundle = if i == 0 {
            zip_of(&[
                (
                    "case.json",
                    jcdiag_testkit::case_json().to_string().as_bytes(),
                ),
                ("findings.json", FINDINGS),
            ])
        } else {
            bundle_of_size(1_000 + i)
        };
        let declared = DeclaredBundle {
            sha256: sha256_hex(&bundle),
            size: bundle.len() as u64,
        };
        let case = NewCase {
            org: format!("org{}", i % 7),
            case_json: jcdiag_testkit::case_json().to_string(),
            tier: "premium".parse().unwrap(),
            severity: "2".parse().unwrap(),
            response_due: None,
            intake_tier: Some("premium".parse().unwrap()),
            intake_due: Some("2030-01-01T00:00:00Z".into()),
        };
        let handle = store
            .create_case(&format!("key-{i}"), &case, &declared, now)
            .unwrap();
        if i >= 2 {
            continue;
        }
        let upload = UploadRecord {
            id: UploadId::random().unwrap(),
            case_id: handle.case_id,
            length: bundle.len() as u64,
            offset: bundle.len() as u64,
            sha256: declared.sha256.clone(),
            filename: Some("bundle.zip".into()),
            expires: now,
            receipt: None,
        };
        store
            .insert_upload_checked(&upload, now, |_, _| Ok::<(), ()>(()))
            .unwrap()
            .unwrap();
        let receipt = Receipt {
            receipt_id: format!("r{i}"),
            case_id: handle.case_id.to_string(),
            sha256: declared.sha256.clone(),
            size: bundle.len() as u64,
            received_at: "2026-12-01T10:00:00Z".into(),
        };
        store.complete_upload(&upload, &receipt).unwrap();
        let folder = data.join(format!("bundles/{}", handle.case_id));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{}.zip", declared.sha256)), &bundle).unwrap();
        if i == 0 {
            store
                .add_escalation(handle.case_id, "Production outage", now)
                .unwrap();
            store
                .add_case_event(
                    handle.case_id,
                    "note",
                    "ada@support.example.com",
                    "restarted",
                    now,
                )
                .unwrap();
        }
        kept.push((handle.case_id.to_string(), bundle));
    }
    kept
}

#[test]
#[cfg_attr(windows, ignore = "needs PostgreSQL run as the postgres user (Linux)")]
fn a_store_of_a_thousand_cases_moves_to_postgresql_and_objects_and_reads_the_same() {
    if let Some(reason) = postgres::unavailable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let kept = embedded_store(&data, 1_000);
    let objects = match s3::unavailable() {
        None => ObjectsConfig::S3(s3::server().bucket()),
        Some(reason) => {
            eprintln!("objects in a folder, not S3: {reason}");
            ObjectsConfig::Folder(tmp.path().join("objects"))
        }
    };

    let list_before = json_of(&cli(&data, None, None, &["case", "list", "--json"]));
    assert_eq!(list_before.as_array().unwrap().len(), 1_000);
    let shows_before: Vec<Value> = kept
        .iter()
        .map(|(case, _)| json_of(&cli(&data, None, None, &["case", "show", case, "--json"])))
        .collect();

    let database = postgres::server().database();
    let migrated = cli(&data, Some(&database), Some(&objects), &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let said = String::from_utf8_lossy(&migrated.stdout);
    assert!(
        said.contains("migrated 1000 cases and 2 bundles (and 2 support-console rows)"),
        "{said}"
    );
    // The console's account came along.
    let staff = cli(&data, Some(&database), None, &["staff", "list"]);
    assert!(
        String::from_utf8_lossy(&staff.stdout).starts_with("ada@support.example.com"),
        "{}",
        String::from_utf8_lossy(&staff.stderr)
    );

    // The same answers from PostgreSQL.
    let list_after = json_of(&cli(
        &data,
        Some(&database),
        None,
        &["case", "list", "--json"],
    ));
    assert_eq!(list_after, list_before);
    for ((case, bundle), before) in kept.iter().zip(&shows_before) {
        let after = json_of(&cli(
            &data,
            Some(&database),
            None,
            &["case", "show", case, "--json"],
        ));
        assert_eq!(&after, before);
        let key = format!("bundles/{case}/{}.zip", sha256_hex(bundle));
        let stored = match &objects {
            ObjectsConfig::S3(config) => s3::server().object(config, &key),
            ObjectsConfig::Folder(folder) => std::fs::read(folder.join(&key)).ok(),
        };
        assert!(
            stored.as_ref() == Some(bundle),
            "bundle {key} not copied whole"
        );
    }

    assert!(
        shows_before[0]["findings"].is_object(),
        "{:#}",
        shows_before[0]
    );
    // With the data folder's copies gone, `case show --objects` reads the bundles where
    // they now are (the findings), and says where that is.
    std::fs::remove_dir_all(data.join("bundles")).unwrap();
    for ((case, bundle), before) in kept.iter().zip(&shows_before) {
        let after = json_of(&cli(
            &data,
            Some(&database),
            Some(&objects),
            &["case", "show", case, "--json"],
        ));
        assert_eq!(&after, before);
        let page = cli(
            &data,
            Some(&database),
            Some(&objects),
            &["case", "show", case],
        );
        let page = String::from_utf8_lossy(&page.stdout);
        let key = format!("bundles/{case}/{}.zip", sha256_hex(bundle));
        let location = match &objects {
            ObjectsConfig::S3(config) => format!("s3://{}/{key}", config.bucket),
            ObjectsConfig::Folder(folder) => folder.join(&key).display().to_string(),
        };
        assert!(page.contains(&location), "{location} not in:\n{page}");
        assert!(!page.contains(&data.display().to_string()), "{page}");
    }

    // A second run finds the database taken and changes nothing.
    let again = cli(&data, Some(&database), Some(&objects), &["migrate"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds 1000 cases"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
