//! The validity dates of an X.509 certificate, read with a minimal DER walk: only the path to
//! `tbsCertificate.validity` is decoded. The certificate is public; its key is never opened.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("not a PEM or DER certificate")]
    NotACertificate,
    #[error("the certificate's DER is malformed ({0})")]
    Malformed(&'static str),
}

/// The first certificate of a PEM file, or a DER certificate.
pub fn validity(bytes: &[u8]) -> Result<Validity, CertError> {
    let der = if bytes.first() == Some(&0x30) {
        bytes.to_vec()
    } else {
        pem_body(bytes)?
    };
    validity_der(&der)
}

fn pem_body(bytes: &[u8]) -> Result<Vec<u8>, CertError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CertError::NotACertificate)?;
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin).ok_or(CertError::NotACertificate)? + begin.len();
    let end = text[start..]
        .find("-----END CERTIFICATE-----")
        .ok_or(CertError::NotACertificate)?;
    let body: String = text[start..start + end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| CertError::NotACertificate)
}

/// One DER element: (tag, content, rest after it).
fn element(der: &[u8]) -> Result<(u8, &[u8], &[u8]), CertError> {
    let (&tag, rest) = der.split_first().ok_or(CertError::Malformed("truncated"))?;
    let (&first, mut rest) = rest
        .split_first()
        .ok_or(CertError::Malformed("truncated"))?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(CertError::Malformed("length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(CertError::Malformed("truncated"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn validity_der(der: &[u8]) -> Result<Validity, CertError> {
    const SEQUENCE: u8 = 0x30;
    let (tag, certificate, _) = element(der)?;
    if tag != SEQUENCE {
        return Err(CertError::NotACertificate);
    }
    let (tag, tbs, _) = element(certificate)?;
    if tag != SEQUENCE {
        return Err(CertError::Malformed("tbsCertificate"));
    }
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
        rest = element(rest)?.2; // serialNumber
    } else {
        rest = after; // that was the serialNumber
    }
    rest = element(rest)?.2; // signature algorithm
    rest = element(rest)?.2; // issuer
    let (tag, validity, _) = element(rest)?;
    if tag != SEQUENCE {
        return Err(CertError::Malformed("validity"));
    }
    let (tag_before, before, rest) = element(validity)?;
    let (tag_after, after, _) = element(rest)?;
    Ok(Validity {
        not_before: time(tag_before, before)?,
        not_after: time(tag_after, after)?,
    })
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 50–99 are 19xx) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(tag: u8, bytes: &[u8]) -> Result<DateTime<Utc>, CertError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CertError::Malformed("time"))?;
    let text = text
        .strip_suffix('Z')
        .ok_or(CertError::Malformed("time zone"))?;
    let full = match tag {
        0x17 if text.len() == 12 => {
            let year: u32 = text[..2]
                .parse()
                .map_err(|_| CertError::Malformed("time"))?;
            format!("{}{text}", if year >= 50 { "19" } else { "20" })
        }
        0x18 if text.len() == 14 => text.to_string(),
        _ => return Err(CertError::Malformed("time")),
    };
    NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S")
        .map(|t| t.and_utc())
        .map_err(|_| CertError::Malformed("time"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cert(from: (i32, u8, u8), to: (i32, u8, u8)) -> rcgen::Certificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["device".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        params.self_signed(&key).unwrap()
    }

    #[test]
    fn the_dates_of_a_pem_and_a_der_certificate_are_read() {
        let made = cert((2024, 1, 2), (2051, 3, 4));
        let expected = Validity {
            not_before: Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap(),
            not_after: Utc.with_ymd_and_hms(2051, 3, 4, 0, 0, 0).unwrap(),
        };
        assert_eq!(validity(made.pem().as_bytes()), Ok(expected));
        assert_eq!(validity(made.der()), Ok(expected));
    }

    #[test]
    fn anything_else_is_refused_not_misread() {
        assert_eq!(validity(b"hello"), Err(CertError::NotACertificate));
        let made = cert((2024, 1, 2), (2025, 1, 2));
        let der = made.der();
        assert!(validity(&der[..der.len() / 3]).is_err());
    }
}
