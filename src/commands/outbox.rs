//! `jcdiag outbox list | flush | purge`.

use std::time::Instant;

use serde_json::{Value, json};

use super::{block_on, start_log};
use crate::cli::{GlobalArgs, OutboxAction, OutboxArgs};
use crate::exit::{CommandError, delivery_exit_code};
use crate::output::Report;
use crate::settings::{
    DEFAULT_DEADLINE, chunk_size, connection_or, deadline, load_config, state_dir,
};
use jcdiag_client::deliver::{self, Api, DeliverError, Outbox};

pub(crate) fn outbox_command(
    global: &GlobalArgs,
    args: OutboxArgs,
) -> Result<Report, CommandError> {
    let config = load_config(global)?;
    if !matches!(args.action, None | Some(OutboxAction::List)) {
        start_log(global, &config, "outbox");
    }
    let outbox = Outbox::new(&state_dir(global, &config));
    match args.action.unwrap_or(OutboxAction::List) {
        OutboxAction::List => {
            let entries = outbox.list()?;
            let mut rows = Vec::new();
            let mut human = String::new();
            for entry in entries {
                match entry {
                    Ok(e) => {
                        let s = &e.state;
                        rows.push(json!({
                            "id": s.id, "case_id": s.case_id, "created": s.created,
                            "size": s.size, "attempts": s.attempts, "last_error": s.last_error,
                        }));
                        human.push_str(&format!(
                            "{}  case {}  {} bytes  created {}  attempts {}{}\n",
                            s.id,
                            s.case_id.as_deref().unwrap_or("(new)"),
                            s.size,
                            s.created,
                            s.attempts,
                            s.last_error
                                .as_ref()
                                .map(|e| format!("\n    last error: {e}"))
                                .unwrap_or_default()
                        ));
                    }
                    Err(e) => human.push_str(&format!("damaged entry: {e}\n")),
                }
            }
            if rows.is_empty() {
                human.push_str("The outbox is empty.\n");
            }
            let count = rows.len();
            Ok(Report::ok(
                Value::Array(rows),
                format!("outbox entries={count}"),
                human,
            ))
        }
        OutboxAction::Purge { id } => {
            // An id that is not in the outbox is the user's mistake, not a broken outbox.
            let entry = outbox
                .get(&id)
                .map_err(|e| CommandError::Usage(e.to_string()))?;
            outbox.remove(&entry)?;
            Ok(Report::ok(
                json!({ "purged": id }),
                format!("purged {id}"),
                format!("Removed {id} from the outbox.\n"),
            ))
        }
        OutboxAction::Flush(send) => {
            let entries = outbox.list()?;
            // Each case goes to the endpoint given now or, failing that, the one it was sent to.
            let connections = entries
                .iter()
                .flatten()
                .map(|entry| {
                    let stored = &entry.state;
                    connection_or(&send, &config, stored.endpoint.as_deref(), &stored.ca_file)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let deadline = Instant::now() + deadline(&send, &config, DEFAULT_DEADLINE);
            let results = block_on(async {
                let mut results = Vec::new();
                for (entry, connection) in entries.into_iter().flatten().zip(connections) {
                    let api = Api::new(connection)?;
                    let id = entry.state.id.clone();
                    let outcome =
                        deliver::deliver(&api, &outbox, entry, deadline, chunk_size(&send), &())
                            .await;
                    results.push((id, outcome));
                }
                Ok::<_, DeliverError>(results)
            })??;
            let mut rows = Vec::new();
            let mut human = String::new();
            let mut exit_code = 0;
            for (id, outcome) in results {
                match outcome {
                    Ok(d) => {
                        human.push_str(&format!("{id}: delivered as case {}\n", d.case_id));
                        rows.push(json!({ "id": id, "case_id": d.case_id, "status": "delivered" }));
                    }
                    Err(e) => {
                        exit_code = exit_code.max(delivery_exit_code(&e));
                        human.push_str(&format!("{id}: {e}\n"));
                        rows.push(json!({ "id": id, "status": "queued", "error": e.to_string() }));
                    }
                }
            }
            if rows.is_empty() {
                human.push_str("The outbox is empty: nothing to send.\n");
            }
            let delivered = rows.iter().filter(|r| r["status"] == "delivered").count();
            let line = format!(
                "flushed delivered={delivered} kept={}",
                rows.len() - delivered
            );
            Ok(Report {
                json: Value::Array(rows),
                line,
                human,
                warnings: Vec::new(),
                exit_code,
                problem: (exit_code != 0).then(|| "some cases are still in the outbox".to_string()),
            })
        }
    }
}
