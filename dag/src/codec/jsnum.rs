//! Big negative integers in dag-json text: `serde_json` turns an integer below `i64::MIN`
//! into a float, but dag-json (like dag-cbor and `@ipld/dag-json`) has integers down to
//! −2^64. [`decode_big_negatives`] reads those itself: each is swapped for a unique
//! placeholder string before decoding and put back as an integer after; a placeholder the
//! input wrote itself makes it fall back to the plain decode. (Writing numbers as JS does
//! is `dagjson.rs`'s job.)
//!
//! Data flow: `codec::decode(DagJson)` → [`decode_big_negatives`] → serde.

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
