//! The one piece of CBOR that ipfsd writes by hand in more than one place: an item head
//! (major type and argument, in the shortest form, as DAG-CBOR requires). Used by the CAR
//! header writer and by the IPNS record's signed data.

/// Appends the head of a CBOR item of `major` type (0-7) with argument `v`, shortest form.
pub fn write_head(out: &mut Vec<u8>, major: u8, v: u64) {
    let m = major << 5;
    // Each cast is guarded by the range of its arm.
    match v {
        0..=23 => out.push(m | v as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, v as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_head;

    #[test]
    fn shortest_form_at_each_boundary() {
        for (v, want) in [
            (0u64, vec![0x00]),
            (23, vec![0x17]),
            (24, vec![0x18, 24]),
            (0xff, vec![0x18, 0xff]),
            (0x100, vec![0x19, 1, 0]),
            (0x1_0000, vec![0x1a, 0, 1, 0, 0]),
            (0x1_0000_0000, vec![0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            let mut out = Vec::new();
            write_head(&mut out, 0, v);
            assert_eq!(out, want, "{v}");
        }
        let mut out = Vec::new();
        write_head(&mut out, 5, 2);
        assert_eq!(out, [0xa2], "map(2)");
    }
}
