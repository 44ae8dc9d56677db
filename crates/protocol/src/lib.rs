//! The wire and file formats jcdiag and jcdiag-intake share.
