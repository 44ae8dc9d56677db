//! The `jcdiag` binary: parse, run, print, exit with the documented code.

use std::process::ExitCode;

use clap::Parser;
use jcdiag::app::{self, Failure};
use jcdiag::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (json, silent, quiet) = (cli.global.json, cli.global.silent, cli.global.quiet);
    // Commands that collect or send leave one line in <state dir>/jcdiag.log: what an MDM
    // admin looks at after an unattended run.
    let logged = match &cli.command {
        Some(Command::Collect(_)) => Some("collect"),
        Some(Command::Submit(_)) => Some("submit"),
        Some(Command::Outbox(_)) => Some("outbox"),
        _ => None,
    }
    .map(|name| (name, app::run_log_path(&cli.global)));
    match app::run(cli) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(report)) => {
            if let Some((name, log)) = &logged {
                let outcome = format!("exit={} {}", report.exit_code, report.line);
                app::append_run_log(log, name, &outcome);
            }
            if json {
                println!("{}", report.json);
            } else if silent {
                println!("{}", report.line);
            } else {
                print!("{}", report.human);
                if !quiet {
                    for warning in &report.warnings {
                        eprintln!("warning: {warning}");
                    }
                }
            }
            if let Some(problem) = report.problem.as_ref().filter(|_| !silent) {
                eprintln!("jcdiag: {problem}");
            }
            ExitCode::from(report.exit_code as u8)
        }
        Err(failure) => {
            let code = failure.exit_code();
            if let Some((name, log)) = &logged {
                app::append_run_log(log, name, &format!("exit={code} failed: {failure}"));
            }
            report_failure(&failure, code, json, silent);
            ExitCode::from(code as u8)
        }
    }
}

/// Scripts get the failure where they look for results: the JSON object or the result line.
fn report_failure(failure: &Failure, code: i32, json: bool, silent: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": failure.to_string(), "exit_code": code })
        );
    } else if silent {
        println!(
            "failed exit={code}: {}",
            failure.to_string().replace('\n', "; ")
        );
    } else {
        eprintln!("jcdiag: error: {failure}");
    }
}
