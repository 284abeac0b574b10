//! Numbers in dag-json text, made to agree with the JS reference (`@ipld/dag-json`), on
//! both sides of `serde_ipld_dagjson`:
//!
//! - Writing: floats are laid out as JavaScript's `Number.prototype.toString` does (the
//!   shortest round-trip digits, which every formatter agrees on, placed by ECMAScript's
//!   rules: `0.0000025` rather than `2.5e-6`, `1e+21`, `1.5e-7`), so an encoded block is
//!   byte-identical to the JS encoder's and so is its CID. Only the layout changes, never
//!   the digits; a float whose JS form would have neither `.` nor `e` (an integral value
//!   below 1e21) keeps its own form, so it still reads back as a float.
//! - Reading: `serde_json` turns an integer below `i64::MIN` into a float, but dag-json
//!   (like dag-cbor) has integers down to −2^64. [`decode_big_negatives`] reads those
//!   itself: each is swapped for a unique placeholder string before decoding and put back
//!   as an integer after.
//!
//! Data flow: `codec::encode(DagJson)` → serde → [`js_floats`]; `codec::decode(DagJson)`
//! → [`decode_big_negatives`] → serde.

use ipld_core::ipld::Ipld;

/// Calls `f(start, end)` for every number token of the JSON `text` (outside strings).
fn number_tokens(text: &[u8], mut f: impl FnMut(usize, usize)) {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len()
                    && matches!(text[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                f(start, i);
            }
            _ => i += 1,
        }
    }
}

/// The JS layout of the float token `tok` (`None`: keep it as it is).
fn js_layout(tok: &str) -> Option<String> {
    if !tok.contains(['.', 'e', 'E']) {
        return None;
    }
    let (neg, body) = match tok.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, tok),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // digits × 10^(n − k), with no leading or trailing zeros in `digits`.
    let all = format!("{int}{frac}");
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0');
    if digits.is_empty() {
        return None; // zero: keep `0.0`-like forms
    }
    let k = digits.len() as i64;
    let n = int.len() as i64 - lead as i64 + exp;
    let sign = if neg { "-" } else { "" };
    let out = if k <= n && n <= 21 {
        return None; // integral: JS writes no point and no exponent; keep the float form
    } else if 0 < n && n <= 21 {
        let (a, b) = digits.split_at(n as usize);
        format!("{sign}{a}.{b}")
    } else if -6 < n && n <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let es = if e < 0 { "-" } else { "+" };
        let (d, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{sign}{d}{dot}{rest}e{es}{}", e.abs())
    };
    Some(out)
}

/// Rewrites every float of serialized dag-json `text` in JavaScript's layout.
pub(super) fn js_floats(text: Vec<u8>) -> Vec<u8> {
    let mut edits = Vec::new();
    number_tokens(&text, |a, b| {
        if let Some(s) = std::str::from_utf8(&text[a..b]).ok().and_then(js_layout) {
            edits.push((a, b, s));
        }
    });
    if edits.is_empty() {
        return text;
    }
    let mut out = Vec::with_capacity(text.len() + edits.len() * 8);
    let mut at = 0;
    for (a, b, s) in edits {
        out.extend_from_slice(&text[at..a]);
        out.extend_from_slice(s.as_bytes());
        at = b;
    }
    out.extend_from_slice(&text[at..]);
    out
}

const PLACEHOLDER: &str = "\u{0}ipfsd-big-negative:";

/// Decodes dag-json `data` with `decode`, keeping integers in [−2^64, `i64::MIN`) integers.
pub(super) fn decode_big_negatives<E>(
    data: &[u8],
    decode: impl Fn(&[u8]) -> Result<Ipld, E>,
) -> Result<Ipld, E> {
    let mut big = Vec::new();
    number_tokens(data, |a, b| {
        let tok = &data[a..b];
        if tok.first() == Some(&b'-')
            && !tok.contains(&b'.')
            && !tok.contains(&b'e')
            && !tok.contains(&b'E')
            && let Some(v) = std::str::from_utf8(tok)
                .ok()
                .and_then(|s| s.parse::<i128>().ok())
            && v < i128::from(i64::MIN)
            && v >= -(1i128 << 64)
        {
            big.push((a, b, v));
        }
    });
    if big.is_empty() {
        return decode(data);
    }
    let mut text = Vec::with_capacity(data.len() + big.len() * 32);
    let mut at = 0;
    for (i, (a, b, _)) in big.iter().enumerate() {
        text.extend_from_slice(&data[at..*a]);
        text.extend_from_slice(format!("\"\\u0000ipfsd-big-negative:{i}\"").as_bytes());
        at = *b;
    }
    text.extend_from_slice(&data[at..]);
    // A placeholder where a string cannot stand (under a "/" key) fails to decode: the
    // input is then read as it is.
    let Ok(mut value) = decode(&text) else {
        return decode(data);
    };
    // Put the integers back; a placeholder the input wrote itself (not one of ours, or one
    // met twice) means the swap cannot be trusted: decode the input as it is instead.
    let mut seen = vec![false; big.len()];
    let mut stack = vec![&mut value];
    let mut ok = true;
    while let Some(v) = stack.pop() {
        let index = match &*v {
            Ipld::String(s) => s.strip_prefix(PLACEHOLDER).map(|rest| {
                rest.parse::<usize>()
                    .ok()
                    .filter(|i| *i < big.len() && !seen[*i])
            }),
            _ => None,
        };
        match index {
            Some(Some(i)) => {
                seen[i] = true;
                *v = Ipld::Integer(big[i].2);
                continue;
            }
            Some(None) => {
                ok = false;
                continue;
            }
            None => {}
        }
        match v {
            Ipld::List(items) => stack.extend(items.iter_mut()),
            Ipld::Map(m) => stack.extend(m.values_mut()),
            _ => {}
        }
    }
    if ok && seen.iter().all(|s| *s) {
        Ok(value)
    } else {
        decode(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_take_the_js_layout() {
        for (ours, js) in [
            ("-2.5419949600473046e-6", "-0.0000025419949600473046"),
            ("2.5e-6", "0.0000025"),
            ("1e-7", "1e-7"),
            ("1.5e-7", "1.5e-7"),
            ("1e300", "1e+300"),
            ("1e+300", "1e+300"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("5e-324", "5e-324"),
            ("1e21", "1e+21"),
            ("123456.789", "123456.789"),
            ("1.23456789e5", "123456.789"),
            ("0.5", "0.5"),
            ("-0.001", "-0.001"),
            ("1e-6", "0.000001"),
        ] {
            let got = js_layout(ours).unwrap_or_else(|| ours.to_string());
            assert_eq!(got, js, "{ours}");
        }
        // Integral floats below 1e21 keep a float form; integers are not touched.
        assert_eq!(js_layout("1e20"), None);
        assert_eq!(js_layout("2.0"), None);
        assert_eq!(js_layout("-12"), None);
        assert_eq!(js_layout("0.0"), None);
        let text = br#"{"a":2.5e-6,"b":"2.5e-6","c":[1,-1e300,"x\"1e5"]}"#.to_vec();
        assert_eq!(
            js_floats(text),
            br#"{"a":0.0000025,"b":"2.5e-6","c":[1,-1e+300,"x\"1e5"]}"#
        );
    }

    #[test]
    fn big_negative_integers_stay_integers() {
        fn dec(d: &[u8]) -> Result<Ipld, serde_ipld_dagjson::DecodeError> {
            serde_ipld_dagjson::from_slice(d)
        }
        let v = decode_big_negatives(
            br#"{"a":-18446744073709551616,"b":[-9223372036854775809,"-1e30",1]}"#,
            dec,
        )
        .expect("decodes");
        let Ipld::Map(m) = v else { panic!("map") };
        assert_eq!(m["a"], Ipld::Integer(-(1i128 << 64)));
        assert_eq!(
            m["b"],
            Ipld::List(vec![
                Ipld::Integer(i128::from(i64::MIN) - 1),
                Ipld::String("-1e30".into()),
                Ipld::Integer(1)
            ])
        );
        // A placeholder written by the input itself is not taken for ours.
        let forged = br#"{"a":-18446744073709551616,"b":"\u0000ipfsd-big-negative:0"}"#;
        let v = decode_big_negatives(forged, dec).expect("decodes");
        let Ipld::Map(m) = v else { panic!("map") };
        assert_eq!(m["b"], Ipld::String(format!("{PLACEHOLDER}0")));
        assert!(matches!(m["a"], Ipld::Float(_)));
    }

    proptest::proptest! {
        /// Any finite float keeps its value and stays a float (a point or an exponent)
        /// through the JS layout, whichever way the formatter wrote it.
        #[test]
        fn the_js_layout_keeps_every_float(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            proptest::prop_assume!(v.is_finite());
            for written in [format!("{v:?}"), format!("{v:e}")] {
                let js = js_layout(&written).unwrap_or_else(|| written.clone());
                proptest::prop_assert_eq!(js.parse::<f64>().ok(), Some(v), "{} -> {}", written, js);
                proptest::prop_assert!(js.contains(['.', 'e']), "{} -> {}", written, js);
            }
        }

        /// Every integer dag-cbor can hold reads back from dag-json as that integer.
        #[test]
        fn big_negatives_read_back(v in -(1i128 << 64)..(i128::from(i64::MIN))) {
            let text = format!("[{v},{{\"a\":{v}}},\"{v}\"]");
            let got = decode_big_negatives(text.as_bytes(), |d| {
                serde_ipld_dagjson::from_slice::<Ipld>(d)
            })
            .expect("decodes");
            let want = Ipld::List(vec![
                Ipld::Integer(v),
                Ipld::Map([("a".to_string(), Ipld::Integer(v))].into_iter().collect()),
                Ipld::String(v.to_string()),
            ]);
            proptest::prop_assert_eq!(got, want);
        }
    }
}
