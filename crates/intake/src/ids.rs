//! Identifiers that cross the wire: case ids, upload ids, receipt ids.
//!
//! Each one is parsed strictly, because upload ids end up in file names: a value that
//! is not exactly what we minted is treated as "not found" before any disk access.

use std::fmt;
use std::str::FromStr;

/// A case number as users see it: an 8-digit, zero-padded sequence ("00000001").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId(i64);

impl CaseId {
    /// The largest number that still fits in 8 digits.
    pub const MAX: i64 = 99_999_999;

    /// Wraps a row id from the `cases` table.
    pub fn from_row(id: i64) -> Self {
        CaseId(id)
    }

    pub fn row(self) -> i64 {
        self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

impl FromStr for CaseId {
    type Err = String;

    /// Exactly 8 ASCII digits, not all zero: the form the intake hands out.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}` is not a case id: case ids are 8 digits, like 00000042"
            ));
        }
        let number: i64 = text
            .parse()
            .map_err(|_| format!("`{text}` is not a case id"))?;
        if number == 0 {
            return Err("case id 00000000 does not exist: case ids start at 00000001".into());
        }
        Ok(CaseId(number))
    }
}

/// An upload id: 128 random bits as 32 lowercase hex digits. It names a file under
/// `uploads/`, so only values of exactly that shape are ever accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    pub fn random() -> Result<Self, getrandom::Error> {
        random_hex(16).map(UploadId)
    }

    /// `None` for anything that is not 32 lowercase hex digits (`..%2F..`, uppercase, …).
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| UploadId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A receipt id: `rcpt_` and 96 random bits in hex. Opaque to clients.
pub fn new_receipt_id() -> Result<String, getrandom::Error> {
    Ok(format!("rcpt_{}", random_hex(12)?))
}

/// `bytes` random bytes from the OS, as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(hex::encode(buf))
}

/// Is `text` a SHA-256 digest written as 64 lowercase hex digits?
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_eight_digits() {
        assert_eq!(
            "00000042".parse::<CaseId>().unwrap().to_string(),
            "00000042"
        );
        assert!("42".parse::<CaseId>().is_err());
        assert!("0000004a".parse::<CaseId>().is_err());
        assert!("00000000".parse::<CaseId>().is_err());
    }

    #[test]
    fn upload_ids_are_strict() {
        let id = UploadId::random().unwrap();
        assert!(UploadId::parse(id.as_str()).is_some());
        assert!(UploadId::parse("../../intake.sqlite").is_none());
        assert!(UploadId::parse(&id.as_str().to_uppercase()).is_none());
        assert!(UploadId::parse(&id.as_str()[1..]).is_none());
    }
}
