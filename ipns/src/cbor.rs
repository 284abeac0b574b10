//! The DAG-CBOR document in `IpnsEntry.data`.
//!
//! Writing: the five mandatory entries, in DAG-CBOR canonical key order
//! (shorter keys first, then bytewise): `TTL`, `Value`, `Sequence`,
//! `Validity`, `ValidityType`, with the shortest integer and length heads.
//!
//! Reading: the whole document is checked against the strict DAG-CBOR rules
//! (shortest heads, definite lengths, text map keys in canonical order and
//! without duplicates, only tag 42, only 64-bit finite floats, valid UTF-8,
//! nothing trailing, bounded nesting). The mandatory entries are extracted and
//! type-checked; other entries (extensions) are checked and skipped, as the
//! spec asks. No input makes it panic or allocate more than the input's size.

use crate::Error;
use dag::cbor::write_head;

pub(crate) const KEY_TTL: &str = "TTL";
pub(crate) const KEY_VALUE: &str = "Value";
pub(crate) const KEY_SEQUENCE: &str = "Sequence";
pub(crate) const KEY_VALIDITY: &str = "Validity";
pub(crate) const KEY_VALIDITY_TYPE: &str = "ValidityType";

/// Deepest nesting of arrays/maps/tags accepted in extension entries.
const MAX_DEPTH: usize = 32;

const MAJOR_UINT: u8 = 0;
const MAJOR_NEGINT: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const MAJOR_SIMPLE: u8 = 7;

/// The mandatory entries of the IPNS DAG-CBOR document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Data {
    pub value: Vec<u8>,
    pub validity: Vec<u8>,
    pub validity_type: i64,
    pub sequence: u64,
    pub ttl: u64,
}

fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, MAJOR_TEXT, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_head(out, MAJOR_BYTES, b.len() as u64);
    out.extend_from_slice(b);
}

fn write_int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        write_head(out, MAJOR_UINT, v.unsigned_abs());
    } else {
        write_head(out, MAJOR_NEGINT, (-(v + 1)).unsigned_abs());
    }
}

/// Encodes the document as canonical DAG-CBOR.
pub(crate) fn encode(d: &Data) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + d.value.len() + d.validity.len());
    write_head(&mut out, MAJOR_MAP, 5);
    write_text(&mut out, KEY_TTL);
    write_head(&mut out, MAJOR_UINT, d.ttl);
    write_text(&mut out, KEY_VALUE);
    write_bytes(&mut out, &d.value);
    write_text(&mut out, KEY_SEQUENCE);
    write_head(&mut out, MAJOR_UINT, d.sequence);
    write_text(&mut out, KEY_VALIDITY);
    write_bytes(&mut out, &d.validity);
    write_text(&mut out, KEY_VALIDITY_TYPE);
    write_int(&mut out, d.validity_type);
    out
}

/// A decoded data item, as far as the IPNS fields care.
enum Item<'a> {
    Uint(u64),
    NegInt(u64),
    Bytes(&'a [u8]),
    Other,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn bad(reason: &'static str, offset: usize) -> Error {
    Error::BadCbor { reason, offset }
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| bad("unexpected end of input", self.buf.len()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Reads an initial byte and its argument, enforcing shortest encoding.
    /// For major type 7 the raw additional-info value is returned as the
    /// argument for 20..=23, and the float bits for 27.
    fn head(&mut self) -> Result<(u8, u64), Error> {
        let at = self.pos;
        let ib = self.take(1)?[0];
        let major = ib >> 5;
        let info = ib & 0x1f;
        if major == MAJOR_SIMPLE {
            return match info {
                20..=22 => Ok((major, u64::from(info))),
                27 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(self.take(8)?);
                    let bits = u64::from_be_bytes(b);
                    if !f64::from_bits(bits).is_finite() {
                        return Err(bad("NaN and infinite floats are not DAG-CBOR", at));
                    }
                    Ok((major, bits))
                }
                25 | 26 => Err(bad("floats must be 64-bit in DAG-CBOR", at)),
                31 => Err(bad("indefinite-length items are not DAG-CBOR", at)),
                _ => Err(bad(
                    "only false, true, null and floats are allowed simple values",
                    at,
                )),
            };
        }
        let (arg, min) = match info {
            0..=23 => (u64::from(info), 0),
            24 => (u64::from(self.take(1)?[0]), 24),
            25 => {
                let mut b = [0u8; 2];
                b.copy_from_slice(self.take(2)?);
                (u64::from(u16::from_be_bytes(b)), 0x100)
            }
            26 => {
                let mut b = [0u8; 4];
                b.copy_from_slice(self.take(4)?);
                (u64::from(u32::from_be_bytes(b)), 0x1_0000)
            }
            27 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(self.take(8)?);
                (u64::from_be_bytes(b), 0x1_0000_0000)
            }
            31 => return Err(bad("indefinite-length items are not DAG-CBOR", at)),
            _ => return Err(bad("reserved additional information value", at)),
        };
        if arg < min {
            return Err(bad("integer or length not in its shortest form", at));
        }
        Ok((major, arg))
    }

    /// A length or count that must fit in what is left of the input.
    fn len(&self, arg: u64, at: usize) -> Result<usize, Error> {
        usize::try_from(arg)
            .ok()
            .filter(|&n| n <= self.remaining())
            .ok_or_else(|| bad("length runs past the end of input", at))
    }

    fn text(&mut self, arg: u64, at: usize) -> Result<&'a str, Error> {
        let n = self.len(arg, at)?;
        std::str::from_utf8(self.take(n)?).map_err(|_| bad("text string is not UTF-8", at))
    }

    /// Reads one complete data item, checking everything nested in it.
    fn item(&mut self, depth: usize) -> Result<Item<'a>, Error> {
        let at = self.pos;
        if depth > MAX_DEPTH {
            return Err(bad("nested too deeply", at));
        }
        let (major, arg) = self.head()?;
        match major {
            MAJOR_UINT => Ok(Item::Uint(arg)),
            MAJOR_NEGINT => Ok(Item::NegInt(arg)),
            MAJOR_BYTES => {
                let n = self.len(arg, at)?;
                Ok(Item::Bytes(self.take(n)?))
            }
            MAJOR_TEXT => self.text(arg, at).map(|_| Item::Other),
            MAJOR_ARRAY => {
                let n = self.len(arg, at)?;
                for _ in 0..n {
                    self.item(depth + 1)?;
                }
                Ok(Item::Other)
            }
            MAJOR_MAP => {
                self.map(arg, at, depth, |_, _, _| Ok(()))?;
                Ok(Item::Other)
            }
            MAJOR_TAG => {
                if arg != 42 {
                    return Err(bad("only tag 42 (CID) is allowed in DAG-CBOR", at));
                }
                match self.item(depth + 1)? {
                    Item::Bytes(b) if b.first() == Some(&0) && b.len() > 1 => Ok(Item::Other),
                    _ => Err(bad("tag 42 must wrap 0x00-prefixed CID bytes", at)),
                }
            }
            _ => Ok(Item::Other), // major 7: false/true/null/float64, already checked
        }
    }

    /// Reads the entries of a map whose head was just read, calling `entry`
    /// with each key, its value and the value's offset.
    fn map(
        &mut self,
        arg: u64,
        at: usize,
        depth: usize,
        mut entry: impl FnMut(&'a str, Item<'a>, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let n = self.len(arg, at)?;
        let mut prev: Option<&str> = None;
        for _ in 0..n {
            let key_at = self.pos;
            let (major, karg) = self.head()?;
            if major != MAJOR_TEXT {
                return Err(bad("map keys must be text strings in DAG-CBOR", key_at));
            }
            let key = self.text(karg, key_at)?;
            if let Some(p) = prev {
                match (p.len(), p.as_bytes()).cmp(&(key.len(), key.as_bytes())) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return Err(bad("duplicate map key", key_at)),
                    std::cmp::Ordering::Greater => {
                        return Err(bad("map keys out of canonical order", key_at));
                    }
                }
            }
            prev = Some(key);
            let value_at = self.pos;
            let value = self.item(depth + 1)?;
            entry(key, value, value_at)?;
        }
        Ok(())
    }
}

/// Decodes and checks the IPNS DAG-CBOR document.
pub(crate) fn decode(buf: &[u8]) -> Result<Data, Error> {
    let mut r = Reader { buf, pos: 0 };
    let (major, arg) = r.head()?;
    if major != MAJOR_MAP {
        return Err(bad("the document must be a map", 0));
    }
    let mut value = None;
    let mut validity = None;
    let mut validity_type = None;
    let mut sequence = None;
    let mut ttl = None;
    r.map(arg, 0, 0, |key, item, _| {
        let wrong = |field, expected| Error::WrongFieldType { field, expected };
        match key {
            KEY_VALUE => match item {
                Item::Bytes(b) => value = Some(b.to_vec()),
                _ => return Err(wrong(KEY_VALUE, "bytes")),
            },
            KEY_VALIDITY => match item {
                Item::Bytes(b) => validity = Some(b.to_vec()),
                _ => return Err(wrong(KEY_VALIDITY, "bytes")),
            },
            KEY_VALIDITY_TYPE => match item {
                Item::Uint(v) => validity_type = Some(i64::try_from(v).unwrap_or(i64::MAX)),
                Item::NegInt(v) => {
                    validity_type = Some(i64::try_from(v).map_or(i64::MIN, |v| -1 - v));
                }
                _ => return Err(wrong(KEY_VALIDITY_TYPE, "integer")),
            },
            KEY_SEQUENCE => match item {
                Item::Uint(v) => sequence = Some(v),
                _ => return Err(wrong(KEY_SEQUENCE, "unsigned integer")),
            },
            KEY_TTL => match item {
                Item::Uint(v) => ttl = Some(v),
                _ => return Err(wrong(KEY_TTL, "unsigned integer")),
            },
            _ => {} // extension entry: already checked, ignored
        }
        Ok(())
    })?;
    if r.remaining() != 0 {
        return Err(bad("trailing bytes after the document", r.pos));
    }
    let missing = |field| Error::MissingField { field };
    Ok(Data {
        value: value.ok_or(missing(KEY_VALUE))?,
        validity: validity.ok_or(missing(KEY_VALIDITY))?,
        validity_type: validity_type.ok_or(missing(KEY_VALIDITY_TYPE))?,
        sequence: sequence.ok_or(missing(KEY_SEQUENCE))?,
        ttl: ttl.ok_or(missing(KEY_TTL))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Data {
        Data {
            value: b"/ipfs/bafkqaddwgevxmmraojswg33smq".to_vec(),
            validity: b"2123-08-14T12:17:03.694052Z".to_vec(),
            validity_type: 0,
            sequence: 0,
            ttl: 1_800_000_000_000,
        }
    }

    /// Builds a map from already-encoded key/value pairs, in the order given.
    fn map(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        write_head(&mut out, MAJOR_MAP, entries.len() as u64);
        for (k, v) in entries {
            write_text(&mut out, k);
            out.extend_from_slice(v);
        }
        out
    }

    fn mandatory() -> Vec<(&'static str, Vec<u8>)> {
        let d = sample();
        let mut ttl = Vec::new();
        write_head(&mut ttl, MAJOR_UINT, d.ttl);
        let mut value = Vec::new();
        write_bytes(&mut value, &d.value);
        let mut validity = Vec::new();
        write_bytes(&mut validity, &d.validity);
        vec![
            (KEY_TTL, ttl),
            (KEY_VALUE, value),
            (KEY_SEQUENCE, vec![0x00]),
            (KEY_VALIDITY, validity),
            (KEY_VALIDITY_TYPE, vec![0x00]),
        ]
    }

    fn reason(r: Result<Data, Error>) -> &'static str {
        match r {
            Err(Error::BadCbor { reason, .. }) => reason,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => "accepted",
        }
    }

    #[test]
    fn encodes_keys_in_canonical_order() {
        let bytes = encode(&sample());
        assert_eq!(bytes[0], 0xa5);
        let order: Vec<usize> = [
            KEY_TTL,
            KEY_VALUE,
            KEY_SEQUENCE,
            KEY_VALIDITY,
            KEY_VALIDITY_TYPE,
        ]
        .iter()
        .map(|k| {
            bytes
                .windows(k.len())
                .position(|w| w == k.as_bytes())
                .unwrap_or(usize::MAX)
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(decode(&bytes).ok(), Some(sample()));
    }

    #[test]
    fn matches_reference_bytes() {
        // The `data` of the spec's V1+V2 test vector (written by boxo).
        let reference: &[u8] = b"\xa5cTTL\x1b\x00\x00\x01\xa3\x18\\P\x00eValueX!/ipfs/bafkqaddwgevxmmraojswg33smqhSequence\x00hValidityX\x1b2123-08-14T12:17:03.694052ZlValidityType\x00";
        assert_eq!(encode(&sample()), reference);
    }

    #[test]
    fn ignores_extension_entries() {
        let mut entries: Vec<(&str, Vec<u8>)> = mandatory();
        // "_x": {"a": [1, -2, "s", true, null, 1.5, 42(CID)]}
        let mut ext = vec![
            0xa1, 0x61, b'a', 0x87, 0x01, 0x21, 0x61, b's', 0xf5, 0xf6, 0xfb,
        ];
        ext.extend_from_slice(&1.5f64.to_be_bytes());
        ext.extend_from_slice(&[0xd8, 42, 0x43, 0x00, 0x01, 0x55]);
        entries.insert(0, ("_x", ext)); // shortest key first
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        assert_eq!(decode(&map(&refs)).ok(), Some(sample()));
    }

    #[test]
    fn rejects_non_canonical_and_malformed() {
        let entries = mandatory();
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(k, v)| (*k, v.as_slice())).collect();

        let mut swapped = refs.clone();
        swapped.swap(2, 3);
        assert_eq!(
            reason(decode(&map(&swapped))),
            "map keys out of canonical order"
        );

        let mut dup = refs.clone();
        dup.insert(1, ("TTL", &[0x01]));
        assert_eq!(reason(decode(&map(&dup))), "duplicate map key");

        let mut long_seq = refs.clone();
        long_seq[2] = (KEY_SEQUENCE, &[0x18, 0x05]);
        assert_eq!(
            reason(decode(&map(&long_seq))),
            "integer or length not in its shortest form"
        );

        let mut trailing = map(&refs);
        trailing.push(0x00);
        assert_eq!(
            reason(decode(&trailing)),
            "trailing bytes after the document"
        );

        let full = map(&refs);
        assert_eq!(
            reason(decode(&full[..full.len() - 1])),
            "unexpected end of input"
        );
        assert_eq!(
            reason(decode(b"definitely not cbor")),
            "the document must be a map"
        );
        assert_eq!(
            reason(decode(&[0xbf])),
            "indefinite-length items are not DAG-CBOR"
        );
        assert_eq!(
            reason(decode(&[0xa1, 0x01, 0x01])),
            "map keys must be text strings in DAG-CBOR"
        );
        assert_eq!(
            reason(decode(&[0xa1, 0x61, 0xff, 0x00])),
            "text string is not UTF-8"
        );
        assert_eq!(
            reason(decode(&[0xa1, 0x61, b'x', 0xf9, 0x3c, 0x00])),
            "floats must be 64-bit in DAG-CBOR"
        );
        assert_eq!(
            reason(decode(&[0xa1, 0x61, b'x', 0xc1, 0x00])),
            "only tag 42 (CID) is allowed in DAG-CBOR"
        );
        assert_eq!(
            reason(decode(&[
                0xa1, 0x61, b'x', 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ])),
            "length runs past the end of input"
        );
        let mut deep = vec![0xa1, 0x61, b'x'];
        deep.extend(std::iter::repeat_n(0x81, 100));
        deep.push(0x00);
        assert_eq!(reason(decode(&deep)), "nested too deeply");
    }

    #[test]
    fn reports_missing_and_mistyped_fields() {
        let entries = mandatory();
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let mut no_ttl = refs.clone();
        no_ttl.remove(0);
        assert!(matches!(
            decode(&map(&no_ttl)),
            Err(Error::MissingField { field: "TTL" })
        ));
        let mut text_value = refs.clone();
        text_value[1] = (KEY_VALUE, &[0x61, b'x']);
        assert!(matches!(
            decode(&map(&text_value)),
            Err(Error::WrongFieldType { field: "Value", .. })
        ));
        let mut neg_type = refs;
        neg_type[4] = (KEY_VALIDITY_TYPE, &[0x20]);
        assert_eq!(
            decode(&map(&neg_type)).map(|d| d.validity_type).ok(),
            Some(-1)
        );
    }

    fn any_data() -> impl Strategy<Value = Data> {
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), 0..40),
            any::<i64>(),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(|(value, validity, validity_type, sequence, ttl)| Data {
                value,
                validity,
                validity_type,
                sequence,
                ttl,
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(d in any_data()) {
            let bytes = encode(&d);
            prop_assert_eq!(decode(&bytes).ok(), Some(d));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_mutations(d in any_data(), at in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = encode(&d);
            let i = at % bytes.len();
            bytes[i] = byte;
            let _ = decode(&bytes);
        }
    }
}
