//! The `jcdiag` binary: parse, run, print, exit with the documented code.

use std::process::ExitCode;

mod cli;
mod commands;
mod config;
mod exit;
mod output;
mod settings;
mod wizard;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::CommandError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (json, silent, quiet) = (cli.global.json, cli.global.silent, cli.global.quiet);
    // Progress bars and the labels below share one decision.
    console::set_colors_enabled_stderr(cli.global.color.on_stderr());
    match commands::run(cli) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(report)) => {
            if json {
                println!("{}", report.json);
            } else if silent {
                println!("{}", report.line);
            } else {
                print!("{}", report.human);
                if !quiet {
                    for warning in &report.warnings {
                        eprintln!(
                            "{} {warning}",
                            console::style("warning:").for_stderr().yellow().bold()
                        );
                    }
                }
            }
            match &report.problem {
                Some(problem) => tracing::warn!(exit_code = report.exit_code, "{problem}"),
                None => tracing::info!(exit_code = report.exit_code, "run finished"),
            }
            if let Some(problem) = report.problem.as_ref().filter(|_| !silent) {
                eprintln!("jcdiag: {problem}");
            }
            ExitCode::from(report.exit_code as u8)
        }
        Err(failure) => {
            let code = failure.exit_code();
            tracing::error!(exit_code = code, "{failure}");
            report_failure(&failure, code, json, silent);
            ExitCode::from(code as u8)
        }
    }
}

/// Scripts get the failure where they look for results: the JSON object or the result line.
fn report_failure(failure: &CommandError, code: i32, json: bool, silent: bool) {
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
        eprintln!(
            "jcdiag: {} {failure}",
            console::style("error:").for_stderr().red().bold()
        );
    }
}
