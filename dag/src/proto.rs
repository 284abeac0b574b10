//! Minimal protobuf wire helpers for the two hand-encoded formats (dag-pb, UnixFS).
//!
//! Both formats need exact control of field order and of which defaults are written,
//! which generated code does not give, so they are encoded with these few functions.

use thiserror::Error;

/// A protobuf message could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("{what}: truncated input")]
    Truncated {
        /// Which message was being decoded.
        what: &'static str,
    },
    /// A field had an unexpected wire type, number or value.
    #[error("{what}: invalid field {field}")]
    InvalidField {
        /// Which message was being decoded.
        what: &'static str,
        /// The field number.
        field: u64,
    },
    /// The message is well-formed protobuf but violates its format's rules.
    #[error("{what}: {reason}")]
    Invalid {
        /// Which message was being decoded.
        what: &'static str,
        /// The rule broken.
        reason: &'static str,
    },
    /// A block of an IPLD codec (dag-cbor, dag-json, …) did not decode, or was not in the
    /// codec's strict form.
    #[error("{codec}: {reason}")]
    Codec {
        /// The codec's name.
        codec: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

pub(crate) const VARINT: u64 = 0;
pub(crate) const LEN: u64 = 2;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub(crate) fn put_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, (field << 3) | wire);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, field: u64, data: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

pub(crate) fn put_uint(out: &mut Vec<u8>, field: u64, v: u64) {
    put_key(out, field, VARINT);
    put_varint(out, v);
}

/// Length of a LEN field with `len` payload bytes, key included (field numbers < 16).
pub(crate) fn bytes_field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// A cursor over a protobuf message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

pub(crate) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    /// The bytes not yet read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn read_varint(&mut self) -> Result<u64, DecodeError> {
        self.varint()
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some((&b, rest)) = self.buf.split_first() else {
                return Err(DecodeError::Truncated { what: self.what });
            };
            self.buf = rest;
            if i == 9 && b > 1 {
                break;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid {
            what: self.what,
            reason: "varint overflow",
        })
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next(&mut self) -> Result<Option<(u64, Value<'a>)>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        match key & 7 {
            VARINT => Ok(Some((field, Value::Varint(self.varint()?)))),
            LEN => {
                let len = self.varint()?;
                let len =
                    usize::try_from(len).map_err(|_| DecodeError::Truncated { what: self.what })?;
                if len > self.buf.len() {
                    return Err(DecodeError::Truncated { what: self.what });
                }
                let (data, rest) = self.buf.split_at(len);
                self.buf = rest;
                Ok(Some((field, Value::Bytes(data))))
            }
            5 => {
                let Some((bytes, rest)) = self.buf.split_first_chunk::<4>() else {
                    return Err(DecodeError::Truncated { what: self.what });
                };
                self.buf = rest;
                Ok(Some((field, Value::Fixed32(u32::from_le_bytes(*bytes)))))
            }
            _ => Err(DecodeError::InvalidField {
                what: self.what,
                field,
            }),
        }
    }

    pub(crate) fn invalid(&self, field: u64) -> DecodeError {
        DecodeError::InvalidField {
            what: self.what,
            field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut r = Reader::new(&out, "t");
            assert_eq!(r.varint().ok(), Some(v));
        }
    }
}
