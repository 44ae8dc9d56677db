//! `jcdiag`'s integration tests: one binary, one module per command or concern. Each test runs the
//! real `jcdiag` binary against file-system layouts built in temp folders and, for delivery, a real
//! jcdiag-intake over TLS on 127.0.0.1 (`jcdiag-testkit`).

mod support;

mod canary;
mod case_view;
mod cli;
mod collect;
mod console;
mod demo;
mod email;
mod escalate;
mod findings;
mod hostile_endpoint;
mod installer;
mod isolation;
mod obfuscate;
mod parity;
mod planted;
mod provider_secrets;
mod record;
mod submit;
mod tus_interop;
mod unattended;
mod wizard;
