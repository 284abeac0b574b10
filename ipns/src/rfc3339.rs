//! RFC 3339 timestamps, as IPNS writes its `Validity` (end of life).
//!
//! [`format()`] writes what the reference implementations write: UTC, a `Z`
//! suffix and always nine fraction digits (`2026-11-24T12:00:00.000000000Z`).
//! [`parse`] reads the RFC 3339 `date-time` grammar: 1 to 9 fraction digits
//! (or none), `Z` or a numeric `±hh:mm` offset. It is pure arithmetic on the
//! proleptic Gregorian calendar; no clock or time zone database is read.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

const NANOS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z, in seconds from the Unix epoch.
const MIN_SECS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z, in seconds from the Unix epoch.
const MAX_SECS: i64 = 253_402_300_799;

/// Signed nanoseconds since the Unix epoch (`SystemTime` may be before it).
fn to_unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        // secs < 0 <= nanos: the instant is |secs| seconds before the epoch, plus nanos.
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(nanos)))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction; the fallbacks are never taken.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ` (UTC, nine fraction digits).
///
/// Fails with [`Error::TimeOutOfRange`] outside the years 0000..=9999.
pub fn format(t: SystemTime) -> Result<String, Error> {
    let nanos = to_unix_nanos(t);
    let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SEC)).map_err(|_| Error::TimeOutOfRange)?;
    if !(MIN_SECS..=MAX_SECS).contains(&secs) {
        return Err(Error::TimeOutOfRange);
    }
    let sub = nanos.rem_euclid(NANOS_PER_SEC);
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let sod = secs.rem_euclid(SECS_PER_DAY);
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{sub:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    ))
}

/// A `SystemTime` shown as RFC 3339, or as seconds from the epoch when out of range.
pub(crate) fn display(t: SystemTime) -> impl fmt::Display {
    struct Show(SystemTime);
    impl fmt::Display for Show {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match format(self.0) {
                Ok(s) => f.write_str(&s),
                Err(_) => write!(f, "{}ns from the Unix epoch", to_unix_nanos(self.0)),
            }
        }
    }
    Show(t)
}

/// Reads `N` ASCII digits at `*pos`, advancing it.
fn digits(s: &[u8], pos: &mut usize, n: usize) -> Option<u32> {
    let field = s.get(*pos..*pos + n)?;
    let mut v = 0u32;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    *pos += n;
    Some(v)
}

fn expect(s: &[u8], pos: &mut usize, c: u8) -> Option<()> {
    (s.get(*pos) == Some(&c)).then(|| *pos += 1)
}

/// Parses an RFC 3339 `date-time` (e.g. `2123-08-14T12:17:03.694052Z` or
/// `2026-01-01T01:00:00+01:00`) into a `SystemTime`.
pub fn parse(input: &[u8]) -> Result<SystemTime, Error> {
    parse_inner(input).map_err(|reason| Error::BadValidity {
        text: String::from_utf8_lossy(input).chars().take(100).collect(),
        reason,
    })
}

fn parse_inner(s: &[u8]) -> Result<SystemTime, &'static str> {
    const SHAPE: &str = "expected YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)";
    let mut p = 0;
    let year = digits(s, &mut p, 4).ok_or(SHAPE)?;
    expect(s, &mut p, b'-').ok_or(SHAPE)?;
    let month = digits(s, &mut p, 2).ok_or(SHAPE)?;
    expect(s, &mut p, b'-').ok_or(SHAPE)?;
    let day = digits(s, &mut p, 2).ok_or(SHAPE)?;
    expect(s, &mut p, b'T').ok_or(SHAPE)?;
    let hour = digits(s, &mut p, 2).ok_or(SHAPE)?;
    expect(s, &mut p, b':').ok_or(SHAPE)?;
    let minute = digits(s, &mut p, 2).ok_or(SHAPE)?;
    expect(s, &mut p, b':').ok_or(SHAPE)?;
    let second = digits(s, &mut p, 2).ok_or(SHAPE)?;

    let mut nanos = 0u32;
    if expect(s, &mut p, b'.').is_some() {
        let start = p;
        while p < s.len() && s[p].is_ascii_digit() {
            p += 1;
        }
        let n = p - start;
        if n == 0 || n > 9 {
            return Err("fraction of a second must have 1 to 9 digits");
        }
        let mut q = start;
        nanos = digits(s, &mut q, n).ok_or(SHAPE)? * 10u32.pow(u32::try_from(9 - n).unwrap_or(0));
    }

    let offset_secs: i64 = match s.get(p) {
        Some(b'Z') => {
            p += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            p += 1;
            let oh = digits(s, &mut p, 2).ok_or(SHAPE)?;
            expect(s, &mut p, b':').ok_or(SHAPE)?;
            let om = digits(s, &mut p, 2).ok_or(SHAPE)?;
            if oh > 23 || om > 59 {
                return Err("time zone offset out of range");
            }
            let o = i64::from(oh * 3600 + om * 60);
            if sign == b'-' { -o } else { o }
        }
        _ => return Err(SHAPE),
    };
    if p != s.len() {
        return Err("trailing characters after the time zone");
    }

    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    let year = i64::from(year);
    if day == 0 || day > days_in_month(year, month) {
        return Err("day out of range for the month");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_secs;
    from_unix(secs, nanos).ok_or("time not representable on this platform")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64, nanos: u32) -> SystemTime {
        from_unix(secs, nanos).unwrap_or(UNIX_EPOCH)
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            format(UNIX_EPOCH).ok().as_deref(),
            Some("1970-01-01T00:00:00.000000000Z")
        );
        assert_eq!(
            format(at(0, 1)).ok().as_deref(),
            Some("1970-01-01T00:00:00.000000001Z")
        );
        // 2000-02-29 (leap day in a year divisible by 400).
        assert_eq!(
            format(at(951_782_400, 500_000_000)).ok().as_deref(),
            Some("2000-02-29T00:00:00.500000000Z")
        );
        assert_eq!(
            format(at(-1, 999_999_999)).ok().as_deref(),
            Some("1969-12-31T23:59:59.999999999Z")
        );
        assert_eq!(
            format(at(MAX_SECS, 999_999_999)).ok().as_deref(),
            Some("9999-12-31T23:59:59.999999999Z")
        );
        assert_eq!(
            format(at(MIN_SECS, 0)).ok().as_deref(),
            Some("0000-01-01T00:00:00.000000000Z")
        );
        assert!(matches!(
            format(at(MAX_SECS + 1, 0)),
            Err(Error::TimeOutOfRange)
        ));
        assert!(matches!(
            format(at(MIN_SECS - 1, 0)),
            Err(Error::TimeOutOfRange)
        ));
    }

    #[test]
    fn parses_go_and_offset_forms() {
        // Go's RFC3339Nano trims trailing zeros, as in the spec's test vectors.
        let t = parse(b"2123-08-14T12:17:03.694052Z").ok();
        assert_eq!(t, Some(at(4_847_689_023, 694_052_000)));
        assert_eq!(parse(b"1970-01-01T00:00:00Z").ok(), Some(UNIX_EPOCH));
        assert_eq!(parse(b"1970-01-01T01:00:00+01:00").ok(), Some(UNIX_EPOCH));
        assert_eq!(
            parse(b"1969-12-31T23:30:00.000000000-00:30").ok(),
            Some(UNIX_EPOCH)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"2024-01-01",
            b"2024-01-01T00:00:00",
            b"2024-01-01 00:00:00Z",
            b"2024-13-01T00:00:00Z",
            b"2023-02-29T00:00:00Z",
            b"1900-02-29T00:00:00Z",
            b"2024-01-00T00:00:00Z",
            b"2024-01-01T24:00:00Z",
            b"2024-01-01T00:60:00Z",
            b"2024-01-01T00:00:60Z",
            b"2024-01-01T00:00:00.Z",
            b"2024-01-01T00:00:00.0000000001Z",
            b"2024-01-01T00:00:00+2400",
            b"2024-01-01T00:00:00+24:00",
            b"2024-01-01T00:00:00Zjunk",
            b"+024-01-01T00:00:00Z",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::BadValidity { .. })),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse(b"2024-02-29T00:00:00Z").is_ok());
        assert!(parse(b"2000-02-29T00:00:00Z").is_ok());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in MIN_SECS..=MAX_SECS, nanos in 0u32..1_000_000_000) {
            let t = at(secs, nanos);
            let text = format(t).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(text.len(), 30);
            prop_assert_eq!(parse(text.as_bytes()).ok(), Some(t));
        }

        #[test]
        fn civil_days_round_trip(days in -800_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!(d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse(&bytes);
        }
    }
}
