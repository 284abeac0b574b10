//! Byte sizes in the config (`Datastore.StorageMax`): Kubo's strings (`"10GB"`, `"512MiB"`,
//! `"1.5 TB"`) or a plain number of bytes.
//!
//! Data flow: the file's value is kept as written in a [`ByteSize`] (so the config
//! round-trips unchanged); `Config::settings` parses it once with [`parse_size`], and a
//! value that does not parse is a config error naming the key.

use serde::{Deserialize, Serialize};

/// A byte size as written in the config: a string with a unit, or a number of bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ByteSize {
    /// A number of bytes.
    Bytes(u64),
    /// A size with a unit, as Kubo writes it (`"10GB"`).
    Text(String),
}

impl ByteSize {
    /// The number of bytes, or `None` if the text does not parse (see [`parse_size`]).
    pub fn bytes(&self) -> Option<u64> {
        match self {
            ByteSize::Bytes(n) => Some(*n),
            ByteSize::Text(s) => parse_size(s),
        }
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByteSize::Bytes(n) => write!(f, "{n}"),
            ByteSize::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Parses a size as Kubo does (go-humanize's `ParseBytes`): a number, possibly with a
/// fraction, then an optional unit, case-insensitive, with or without a space between:
/// `B`; SI `kB`/`K`, `MB`/`M`, `GB`/`G`, `TB`/`T`, `PB`/`P` (powers of 1000); binary
/// `KiB`/`Ki`, `MiB`, `GiB`, `TiB`, `PiB` (powers of 1024). A bare number is bytes.
/// `None` for anything else, and for sizes past `u64::MAX`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.trim_start().to_ascii_lowercase();
    let multiplier: u128 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1000u128.pow(2),
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1000u128.pow(3),
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1000u128.pow(4),
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1000u128.pow(5),
        "pi" | "pib" => 1 << 50,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // More digits than that cannot change a u64 result; refuse rather than overflow.
    if whole.len() > 20 || frac.len() > 18 {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let scale = 10u128.pow(frac.len() as u32);
    let frac: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let bytes = whole.checked_mul(multiplier)? + frac * multiplier / scale;
    u64::try_from(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_kubo_writes_them() {
        for (text, bytes) in [
            ("10GB", 10_000_000_000),
            ("10gb", 10_000_000_000),
            ("10 GB", 10_000_000_000),
            ("10G", 10_000_000_000),
            ("200MB", 200_000_000),
            ("512MiB", 512 << 20),
            ("1.5GiB", 3 << 29),
            ("1.5 TB", 1_500_000_000_000),
            ("4096", 4096),
            ("4096B", 4096),
            ("2kB", 2000),
            ("2KiB", 2048),
            (" 7 mb ", 7_000_000),
            (".5kB", 500),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
        for bad in [
            "",
            "GB",
            "ten GB",
            "10XB",
            "10 G B",
            "-1GB",
            "1..5GB",
            "1e9",
            "16EB",
            "20000PB",
            "18446744073709551616",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_config_value_is_a_string_or_a_number() {
        let n: ByteSize = serde_json::from_str("1024").expect("number");
        assert_eq!((n.bytes(), n.to_string()), (Some(1024), "1024".into()));
        let s: ByteSize = serde_json::from_str(r#""1KiB""#).expect("string");
        assert_eq!((s.bytes(), s.to_string()), (Some(1024), r#""1KiB""#.into()));
        assert!(serde_json::from_str::<ByteSize>("-1").is_err());
        assert_eq!(serde_json::to_string(&s).expect("json"), r#""1KiB""#);
    }
}
