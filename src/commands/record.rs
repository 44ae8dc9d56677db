//! `jcdiag record`.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::collect::{Extras, collect_with, offer_screenshots};
use super::submit::{plan_submit, submit_planned};
use super::{can_prompt, start_log};
use crate::cli::{GlobalArgs, RecordArgs, SubmitArgs};
use crate::exit::CommandError;
use crate::output::Report;
use crate::settings::{caps, check_out, configured_out, layered_form, load_config, place_of};
use crate::wizard::Scope;
use jcdiag_client::record::{self, Recorder, Watch};
use jcdiag_fs::fsafe::Trust;
use jcdiag_profile::Profile;

/// `record`: watch the logs and screenshot folders until Ctrl-C, `--for` or `--stop-file`,
/// then bundle like `collect`, or send like `submit` with `--submit`. Everything that could
/// refuse the bundle or the upload is checked before the recording starts.
pub(crate) fn record_command(
    global: &GlobalArgs,
    args: RecordArgs,
) -> Result<Report, CommandError> {
    let RecordArgs {
        duration,
        stop_file,
        submit,
        poll,
        include_new_screenshots,
        collect,
        send,
    } = args;
    let mut submit_args = SubmitArgs {
        bundle: None,
        collect,
        send,
        email: Default::default(),
        // The recording is what `record` is for: its findings stay offline, like `collect`'s.
        network: crate::cli::NetworkCheckArgs {
            offline: true,
            ..Default::default()
        },
    };
    let plan = if submit {
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if !(global.yes || global.silent || terminal) {
            return Err(CommandError::Usage(
                "consent: no terminal to ask on after the recording; pass --yes (or --silent) to send without asking"
                    .into(),
            ));
        }
        let ask = can_prompt(global).then_some(Scope::Required);
        Some(plan_submit(global, &mut submit_args, ask, "record")?)
    } else {
        None
    };
    let config = load_config(global)?;
    if !submit {
        start_log(global, &config, "record");
    }
    let form = layered_form(&submit_args.collect.form, &config)?;
    form.validate(&[])?;
    let collection = &submit_args.collect.collection;
    if let Some(out) = configured_out(collection, &config) {
        check_out(&out)?;
    } else if !submit {
        check_out(Path::new("."))?;
    }
    let (os, sysroot, live) = place_of(&submit_args.collect.place)?;
    let caps = caps(collection, &config);
    let mut recorder = Recorder::start(record::Options {
        profile: Profile::builtin(),
        os,
        sysroot,
        live,
        trust: Trust {
            require_root_owner: jcdiag_client::collect::system::is_elevated(),
        },
        poll,
        per_file_cap: caps.per_file,
    })?;
    let window = jcdiag_client::interrupt::begin_recording();
    let talk = !global.quiet;
    if talk {
        let how = match recorder.watch() {
            Watch::Events => "watching for file events".to_string(),
            Watch::Polling(why) => format!("polling ({why})"),
        };
        let until = match duration {
            Some(d) => format!("for {}s, or until Ctrl-C", d.as_secs()),
            None => "until Ctrl-C".into(),
        };
        eprintln!(
            "jcdiag: recording since {} ({how}); reproduce the problem now. Recording {until}.",
            recorder
                .start_time()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
    let deadline = duration.map(|d| Instant::now() + d);
    let stop = || {
        window.stop_requested()
            || deadline.is_some_and(|d| Instant::now() >= d)
            || stop_file.as_deref().is_some_and(|f| f.exists())
    };
    let live_status = talk && !global.silent && !global.json && std::io::stderr().is_terminal();
    let mut show = |status: &record::Status| {
        if live_status {
            eprint!("\r\x1b[2K{}", status_line(status));
        }
    };
    let result = recorder.run(&stop, &mut show);
    let recording_ended = Instant::now();
    drop(window);
    if live_status {
        eprint!("\r\x1b[2K");
    }
    result?;
    let recording = recorder.finish()?;
    if talk {
        let lines: u64 = recording.logs.iter().map(|l| l.lines).sum();
        eprintln!(
            "jcdiag: recorded {} to {}: {lines} log lines, {} new screenshots",
            recording.start_rfc3339(),
            recording.end_rfc3339(),
            recording.new_screenshots.len()
        );
    }
    let window = json!({ "start": recording.start_rfc3339(), "end": recording.end_rfc3339() });
    let found_screenshots = offer_screenshots(
        global,
        "Screenshots taken during the recording",
        recording.new_screenshots.clone(),
        include_new_screenshots,
    );
    let extras = Extras {
        recording: Some(recording),
        found_screenshots,
        ..Extras::default()
    };
    let mut report = match plan {
        Some(mut plan) => {
            // `--deadline` bounds the sending part, counted from the end of the recording.
            plan.deadline_from = Some(recording_ended);
            submit_planned(global, submit_args, plan, extras)?
        }
        None => collect_with(
            global,
            &config,
            &form,
            &submit_args.collect,
            extras,
            "record",
        )?,
    };
    if report.json.is_object() && !report.json.get("dry_run").is_some_and(|v| v == true) {
        report.json["recording"] = window;
    }
    Ok(report)
}

/// `recording 01:05  jcagent.log 120 lines, jcUpdate.log 3 lines  screenshots 1  (Ctrl-C ends)`
pub(crate) fn status_line(status: &record::Status) -> String {
    let secs = status.elapsed.as_secs();
    let logs = if status.logs.is_empty() {
        "no log lines yet".to_string()
    } else {
        status
            .logs
            .iter()
            .map(|(name, lines)| format!("{name} {lines} lines"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "recording {:02}:{:02}  {logs}  screenshots {}  (Ctrl-C ends)",
        secs / 60,
        secs % 60,
        status.screenshots
    )
}
