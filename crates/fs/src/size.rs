//! Sizes as users write them: `20MiB`, `512KiB`, `1GiB`, `4096` (bytes); `KB`, `MB`, `GB` are
//! the decimal units. Used by jcdiag's caps and jcdiag-intake's `--max-bundle`.

/// Parses a byte count with an optional unit; zero is refused (no limit of 0 makes sense).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write it as 4096, 512KiB, 20MiB or 1GiB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{text}` has an unknown unit `{other}`: use KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    match number.checked_mul(factor) {
        Some(0) => Err(format!("`{text}`: the size must be more than 0")),
        Some(size) => Ok(size),
        None => Err(format!("`{text}` is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("20MiB"), Ok(20 << 20));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert!(parse_size("ten").unwrap_err().contains("not a size"));
        assert!(parse_size("5TB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("0").unwrap_err().contains("more than 0"));
    }
}
