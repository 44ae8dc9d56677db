//! Binary property lists (`bplist00`) turned into XML property-list text, so that they go
//! through the scrubber like any text (only screenshots may skip it). Small on purpose: it
//! reads the format Apple documents in CFBinaryPList.c (objects, an offset table, a trailer)
//! and refuses whatever does not fit, rather than guessing.

use std::fmt::Write;

/// Deepest nesting accepted: a cycle of references (a hostile file) ends here.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a readable binary property list: {0}")]
pub struct PlistError(&'static str);

/// Whether `bytes` is a binary property list.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(b"bplist00")
}

/// The XML property list of a binary one.
pub fn to_xml(bytes: &[u8]) -> Result<String, PlistError> {
    if !is_binary(bytes) || bytes.len() < 8 + 32 {
        return Err(PlistError("no bplist00 header or trailer"));
    }
    let trailer = &bytes[bytes.len() - 32..];
    let offset_size = trailer[6] as usize;
    let ref_size = trailer[7] as usize;
    let count = be(&trailer[8..16]) as usize;
    let top = be(&trailer[16..24]) as usize;
    let table = be(&trailer[24..32]) as usize;
    if !(1..=8).contains(&offset_size) || !(1..=8).contains(&ref_size) || top >= count {
        return Err(PlistError("bad trailer"));
    }
    let table_len = count
        .checked_mul(offset_size)
        .ok_or(PlistError("bad offset table"))?;
    let offsets = bytes
        .get(
            table
                ..table
                    .checked_add(table_len)
                    .ok_or(PlistError("bad offset table"))?,
        )
        .ok_or(PlistError("offset table outside the file"))?;
    let reader = Reader {
        bytes,
        offsets,
        offset_size,
        ref_size,
        count,
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n",
    );
    reader.object(top, 0, &mut xml)?;
    xml.push_str("</plist>\n");
    Ok(xml)
}

struct Reader<'a> {
    bytes: &'a [u8],
    offsets: &'a [u8],
    offset_size: usize,
    ref_size: usize,
    count: usize,
}

impl Reader<'_> {
    fn object(&self, index: usize, depth: usize, xml: &mut String) -> Result<(), PlistError> {
        if depth > MAX_DEPTH || index >= self.count {
            return Err(PlistError(
                "nesting too deep or a reference outside the file",
            ));
        }
        let at = self.offsets[index * self.offset_size..][..self.offset_size].to_vec();
        let at = be(&at) as usize;
        let marker = *self
            .bytes
            .get(at)
            .ok_or(PlistError("object outside the file"))?;
        let (kind, low) = (marker >> 4, (marker & 0x0f) as usize);
        let indent = "\t".repeat(depth);
        match (kind, low) {
            (0x0, 0x0) => {
                let _ = writeln!(xml, "{indent}<string></string>");
            }
            (0x0, 0x8) => {
                let _ = writeln!(xml, "{indent}<false/>");
            }
            (0x0, 0x9) => {
                let _ = writeln!(xml, "{indent}<true/>");
            }
            (0x1, _) => {
                let raw = self.slice(at + 1, 1 << low)?;
                // Eight-byte integers are signed; shorter ones unsigned.
                let value = be(raw) as i64;
                let _ = writeln!(xml, "{indent}<integer>{value}</integer>");
            }
            (0x2, 2) => {
                let raw = self.slice(at + 1, 4)?;
                let value = f32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
                let _ = writeln!(xml, "{indent}<real>{value}</real>");
            }
            (0x2, 3) => {
                let value = f64::from_bits(be(self.slice(at + 1, 8)?));
                let _ = writeln!(xml, "{indent}<real>{value}</real>");
            }
            (0x3, 3) => {
                // Seconds since 2001-01-01T00:00:00Z.
                let secs = f64::from_bits(be(self.slice(at + 1, 8)?));
                let date = chrono::DateTime::from_timestamp(978_307_200 + secs as i64, 0)
                    .ok_or(PlistError("date out of range"))?;
                let _ = writeln!(
                    xml,
                    "{indent}<date>{}</date>",
                    date.format("%Y-%m-%dT%H:%M:%SZ")
                );
            }
            (0x4, _) => {
                let (len, start) = self.length(at, low)?;
                let data = self.slice(start, len)?;
                let _ = writeln!(
                    xml,
                    "{indent}<data>{}</data>",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data)
                );
            }
            (0x5, _) => {
                let (len, start) = self.length(at, low)?;
                let text = String::from_utf8_lossy(self.slice(start, len)?);
                let _ = writeln!(xml, "{indent}<string>{}</string>", escape(&text));
            }
            (0x6, _) => {
                let (len, start) = self.length(at, low)?;
                let raw = self.slice(start, len.checked_mul(2).ok_or(PlistError("bad length"))?)?;
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                let _ = writeln!(
                    xml,
                    "{indent}<string>{}</string>",
                    escape(&String::from_utf16_lossy(&units))
                );
            }
            (0x8, _) => {
                let value = be(self.slice(at + 1, low + 1)?);
                let _ = writeln!(
                    xml,
                    "{indent}<dict><key>CF$UID</key><integer>{value}</integer></dict>"
                );
            }
            (0xA, _) => {
                let (len, start) = self.length(at, low)?;
                let _ = writeln!(xml, "{indent}<array>");
                for i in 0..len {
                    self.object(self.reference(start, i)?, depth + 1, xml)?;
                }
                let _ = writeln!(xml, "{indent}</array>");
            }
            (0xD, _) => {
                let (len, start) = self.length(at, low)?;
                let _ = writeln!(xml, "{indent}<dict>");
                for i in 0..len {
                    let key = self.reference(start, i)?;
                    let mut key_xml = String::new();
                    self.object(key, depth + 1, &mut key_xml)?;
                    let key = key_xml
                        .trim()
                        .strip_prefix("<string>")
                        .and_then(|k| k.strip_suffix("</string>"))
                        .ok_or(PlistError("a dictionary key that is not a string"))?;
                    let _ = writeln!(xml, "{indent}\t<key>{key}</key>");
                    self.object(self.reference(start, len + i)?, depth + 1, xml)?;
                }
                let _ = writeln!(xml, "{indent}</dict>");
            }
            _ => return Err(PlistError("unknown object type")),
        }
        Ok(())
    }

    /// An object's element count (`low`, or an integer object after the marker when 0xF) and
    /// where its content starts.
    fn length(&self, at: usize, low: usize) -> Result<(usize, usize), PlistError> {
        if low != 0xF {
            return Ok((low, at + 1));
        }
        let marker = *self
            .bytes
            .get(at + 1)
            .ok_or(PlistError("length outside the file"))?;
        if marker >> 4 != 0x1 {
            return Err(PlistError("bad length"));
        }
        let size = 1usize << (marker & 0x0f);
        let len = be(self.slice(at + 2, size)?) as usize;
        Ok((len, at + 2 + size))
    }

    fn reference(&self, start: usize, i: usize) -> Result<usize, PlistError> {
        let at = i
            .checked_mul(self.ref_size)
            .and_then(|o| o.checked_add(start))
            .ok_or(PlistError("bad reference"))?;
        Ok(be(self.slice(at, self.ref_size)?) as usize)
    }

    fn slice(&self, at: usize, len: usize) -> Result<&[u8], PlistError> {
        at.checked_add(len)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or(PlistError("object outside the file"))
    }
}

/// A big-endian unsigned number of up to 8 bytes.
fn be(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .fold(0, |n, &b| (n << 8) | u64::from(b))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary plist written by Python's plistlib (the bplist00 format Apple's tools write).
    const SOFTWARE_UPDATE: &[u8] =
        include_bytes!("../../tests/fixtures/plist/com.apple.SoftwareUpdate.plist");

    #[test]
    fn a_binary_plist_becomes_xml_with_every_value() {
        let xml = to_xml(SOFTWARE_UPDATE).unwrap();
        for expected in [
            "<key>AutomaticCheckEnabled</key>\n\t<true/>",
            "<key>AutomaticDownload</key>\n\t<false/>",
            "<string>15.1 (24B83)</string>",
            "<date>2026-11-30T09:15:02Z</date>",
            "<integer>1</integer>",
            "<string>macOS Sequoia 15.1.1</string>",
            "<real>3.5</real>",
            "<data>AAH+</data>",
            "<string>café ✓</string>",
            "<key>ProxyPassword</key>",
        ] {
            assert!(xml.contains(expected), "{expected} not in\n{xml}");
        }
        assert!(xml.starts_with("<?xml") && xml.ends_with("</plist>\n"));
    }

    #[test]
    fn a_damaged_plist_is_refused_not_guessed() {
        assert!(to_xml(b"<?xml version").is_err());
        let mut cut = SOFTWARE_UPDATE.to_vec();
        cut.truncate(cut.len() - 40);
        assert!(to_xml(&cut).is_err());
        // Every truncation and a flipped byte anywhere: an error or XML, never a panic.
        for at in 0..SOFTWARE_UPDATE.len() {
            let mut bytes = SOFTWARE_UPDATE.to_vec();
            bytes[at] ^= 0xff;
            let _ = to_xml(&bytes);
            let _ = to_xml(&SOFTWARE_UPDATE[..at]);
        }
    }
}
