//! The dag-json encoder: the data model to the DAG-JSON spec's canonical bytes, written
//! here rather than through `serde_ipld_dagjson` so that numbers come out as the reference
//! implementation (`@ipld/dag-json`, whose CIDs other nodes compute) writes them.
//!
//! Data flow: [`super::encode`] with [`super::Codec::DagJson`] → [`encode`] → bytes. The
//! rules: no whitespace; map keys sorted by their UTF-8 bytes (the spec; `BTreeMap<String,
//! _>` iterates in that order); strings escaped as `JSON.stringify` escapes them (`"`,
//! `\`, `\b \f \n \r \t`, other control characters as `\u00xx`); links as `{"/":"<cid>"}`,
//! bytes as `{"/":{"bytes":"<base64, no padding>"}}`; integers in decimal; floats as
//! JavaScript's `Number.prototype.toString` writes the shortest round-trip digits
//! (`0.000001`, `1.5e-7`, `1e+300`), with `.0` added when that has no `.` or exponent, as
//! `@ipld/dag-json` does. `serde_json` writes `1e-6` for `0.000001`, which gave a
//! different block, hence a different CID, for the same value.

use ipld_core::ipld::Ipld;

/// Encodes `value` as dag-json; NaN, infinities, integers outside the 64-bit range
/// (−2^64..=`u64::MAX`, what dag-cbor can hold) and maps with the reserved key `"/"` are refused with the reason.
pub(super) fn encode(value: &Ipld) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write(&mut out, value)?;
    Ok(out)
}

fn write(out: &mut Vec<u8>, value: &Ipld) -> Result<(), String> {
    match value {
        Ipld::Null => out.extend_from_slice(b"null"),
        Ipld::Bool(true) => out.extend_from_slice(b"true"),
        Ipld::Bool(false) => out.extend_from_slice(b"false"),
        Ipld::Integer(i) => {
            if *i < -(1i128 << 64) || *i > i128::from(u64::MAX) {
                return Err(format!("integer {i} is outside the 64-bit range"));
            }
            out.extend_from_slice(i.to_string().as_bytes());
        }
        Ipld::Float(f) => out.extend_from_slice(float(*f)?.as_bytes()),
        Ipld::String(s) => string(out, s),
        Ipld::Bytes(b) => {
            out.extend_from_slice(br#"{"/":{"bytes":""#);
            out.extend_from_slice(multibase::Base::Base64.encode(b).as_bytes());
            out.extend_from_slice(br#""}}"#);
        }
        Ipld::Link(cid) => {
            out.extend_from_slice(br#"{"/":""#);
            out.extend_from_slice(cid.to_string().as_bytes());
            out.extend_from_slice(br#""}"#);
        }
        Ipld::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item)?;
            }
            out.push(b']');
        }
        Ipld::Map(m) => {
            if m.contains_key("/") {
                // `{"/": …}` is how dag-json writes links and bytes; any other map with
                // that key would not read back as itself.
                return Err(
                    "a map with the key \"/\" cannot be written in dag-json (the \
                            key is reserved for links and bytes)"
                        .into(),
                );
            }
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, k);
                out.push(b':');
                write(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// `f` as JavaScript's `Number.prototype.toString` writes it (ECMA-262 Number::toString:
/// the shortest digits that read back as `f`, positional for 1e-7 < |f| < 1e21), plus
/// `.0` when that is an integer form (a float must read back as a float).
pub(crate) fn float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!("{f} is not a number the IPLD data model allows"));
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: "1.5e-7", "1e21", "0e0".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').ok_or("float formatting")?;
    let exp: i32 = exp.parse().map_err(|_| "float formatting")?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // The value is 0.d1d2…dk × 10^n.
    let n = exp + 1;
    let mut s = String::new();
    if f.is_sign_negative() {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if n > 0 { '+' } else { '-' });
        s.push_str(&(n - 1).abs().to_string());
    }
    if !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_javascript_writes_them() {
        // (value, String(value) in JS, with cborg's ".0" for integral forms)
        let cases = [
            (0.5, "0.5"),
            (-1.25, "-1.25"),
            (0.1, "0.1"),
            (0.30000000000000004, "0.30000000000000004"),
            (1e-6, "0.000001"),
            (1.5e-6, "0.0000015"),
            (1e-5, "0.00001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (123456.789, "123456.789"),
            (9007199254740.5, "9007199254740.5"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e20, "100000000000000000000.0"),
            (1152921504606846976.0, "1152921504606847000.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for (f, js) in cases {
            assert_eq!(float(f).expect("finite"), js, "{f:e}");
        }
        assert!(float(f64::NAN).is_err());
        assert!(float(f64::INFINITY).is_err());
    }

    #[test]
    fn maps_with_the_reserved_key_are_refused() {
        use std::collections::BTreeMap;
        let m = Ipld::Map(BTreeMap::from([("/".to_string(), Ipld::Null)]));
        let e = encode(&Ipld::List(vec![m])).expect_err("reserved key");
        assert!(e.contains("reserved"), "{e}");
    }

    #[test]
    fn strings_escape_as_json_stringify() {
        let mut out = Vec::new();
        string(&mut out, "q\"b\\\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é😀");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "\"q\\\"b\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é😀\""
        );
    }
}
