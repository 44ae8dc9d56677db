//! jcdiag-intake's integration tests: one binary. Each test starts a real intake over TLS on
//! 127.0.0.1 (`jcdiag-testkit`) or runs the `jcdiag-intake` binary itself.

mod access;
mod cli;
mod fuzz;
mod hostile;
mod load;
mod rawzip;
mod upload;
mod zipwalk;
