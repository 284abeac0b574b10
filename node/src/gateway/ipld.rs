//! IPLD answers (pure): what a block of a given codec is answered with when a client asks
//! for dag-json, dag-cbor, json or cbor (`?format=` or `Accept`) or for nothing in
//! particular, and the conversions between codecs. Modelled on boxo's gateway
//! (`handler_codec.go`), the reference behind Kubo's:
//!
//! - no format asked: a dag-json/dag-cbor block is the HTML view for a browser (`Accept:
//!   text/html`, without `download=true`), else its bytes as stored with its codec's type;
//!   json and cbor blocks are served as stored; dag-pb and raw stay UnixFS;
//! - `dag-json`/`dag-cbor`: the block as stored when it is in that codec, otherwise decoded
//!   into the data model and encoded in it (dag-pb and raw included, as their data-model
//!   forms);
//! - `json`/`cbor`: a dag-json (json) or dag-cbor (cbor) block as stored; a dag-pb or raw
//!   block stays UnixFS (the file's bytes). boxo refuses every other combination with 400;
//!   this gateway converts when the value fits the plain codec (no links; for json no
//!   bytes either) and refuses with 400 only when it does not.
//!
//! Data flow: the gateway resolves the path to a block, [`decide`] picks the answer from
//! the codec and the request, then [`convert`] (when converting) runs on the blocking pool
//! with the block's bytes.

use super::GatewayError;
use super::request::Want;
use dag::Cid;
use dag::codec::{self, Codec};
use dag::export::ExportError;

/// What a block is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not an IPLD-codec answer: UnixFS (dag-pb, raw) and unknown codecs as before.
    Other,
    /// The block's bytes as stored, typed as `Want`.
    AsIs(Want),
    /// The block decoded and encoded as `Want`.
    Convert(Want),
    /// The HTML view of the node.
    View,
}

/// The answer for a block of `codec`, given the codec asked for (if any), whether the
/// client accepts HTML and whether it asked for a download.
pub fn decide(codec: Codec, want: Option<Want>, html: bool, download: bool) -> Decision {
    let Some(want) = want else {
        return match codec {
            Codec::DagJson | Codec::DagCbor if html && !download => Decision::View,
            c => Want::of_codec(c).map_or(Decision::Other, Decision::AsIs),
        };
    };
    let stored = match want {
        Want::DagJson => codec == Codec::DagJson,
        Want::DagCbor => codec == Codec::DagCbor,
        Want::Json => matches!(codec, Codec::Json | Codec::DagJson),
        Want::Cbor => matches!(codec, Codec::Cbor | Codec::DagCbor),
    };
    match want {
        _ if stored => Decision::AsIs(want),
        // boxo serves a UnixFS node asked for as json/cbor as UnixFS.
        Want::Json | Want::Cbor if matches!(codec, Codec::DagPb | Codec::Raw) => Decision::Other,
        _ => Decision::Convert(want),
    }
}

/// The name of `cid`'s codec as errors and the HTML view show it.
pub fn codec_name(cid: &Cid) -> String {
    Codec::of(cid).to_string()
}

/// `data`, the block `cid`, encoded as `want`. A block that does not decode is a read
/// error (it was stored or served malformed); a codec with no data-model form or a value
/// the target cannot hold is [`GatewayError::NotConvertible`].
pub fn convert(
    cid: &Cid,
    data: &[u8],
    want: Want,
) -> Result<Result<Vec<u8>, GatewayError>, ExportError> {
    let from = Codec::of(cid);
    let refuse = |reason: String| GatewayError::NotConvertible {
        cid: *cid,
        from: codec_name(cid),
        to: want.media_type(),
        reason,
    };
    if !from.is_decodable() {
        return Ok(Err(refuse("this codec has no IPLD data-model form".into())));
    }
    let value =
        codec::decode(from, data).map_err(|source| ExportError::Decode { cid: *cid, source })?;
    Ok(codec::encode(want.codec(), &value).map_err(|e| {
        let hint = match want {
            Want::Json => "; ask for dag-json",
            Want::Cbor => "; ask for dag-cbor",
            _ => "",
        };
        refuse(format!("{e}{hint}"))
    }))
}

/// boxo's `ETag` of a codec answer: `"<cid>.<type's last part>"` (`.dag-json`, `.json`...).
pub fn etag(cid: &Cid, want: Want) -> String {
    let media = want.media_type();
    let short = media.rsplit(['/', '.']).next().unwrap_or(media);
    format!("\"{cid}.{short}\"")
}

/// The `ETag` of the HTML view of `cid` (generated: may change between versions).
pub fn view_etag(cid: &Cid) -> String {
    format!("\"DagIndex-ipfsd1_CID-{cid}\"")
}

/// boxo's `Content-Disposition` for a codec answer: the `filename` parameter or
/// `<cid>.json` / `<cid>.cbor`; JSON inline (browsers show it), CBOR as an attachment,
/// either an attachment with `download=true`. Answers the name and whether to attach.
pub fn disposition(
    cid: &Cid,
    want: Want,
    filename: Option<&str>,
    download: bool,
) -> (String, bool) {
    let json = matches!(want, Want::Json | Want::DagJson);
    let name = match filename {
        Some(f) if !f.is_empty() => f.to_string(),
        _ => format!("{cid}.{}", if json { "json" } else { "cbor" }),
    };
    (name, download || !json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dag::block::cid_of;
    use dag::codec::Ipld;
    use std::collections::BTreeMap;

    fn cid(codec: Codec, data: &[u8]) -> Cid {
        cid_of(dag::Version::V1, codec.code(), data)
    }

    #[test]
    fn decisions_follow_boxo() {
        use Decision::*;
        let all = [Want::DagJson, Want::DagCbor, Want::Json, Want::Cbor];
        // No format: HTML for browsers (dag-* only, not on download), else as stored.
        assert_eq!(decide(Codec::DagCbor, None, true, false), View);
        assert_eq!(decide(Codec::DagJson, None, true, false), View);
        assert_eq!(
            decide(Codec::DagCbor, None, true, true),
            AsIs(Want::DagCbor)
        );
        assert_eq!(
            decide(Codec::DagJson, None, false, false),
            AsIs(Want::DagJson)
        );
        assert_eq!(decide(Codec::Json, None, true, false), AsIs(Want::Json));
        assert_eq!(decide(Codec::Cbor, None, true, false), AsIs(Want::Cbor));
        for c in [Codec::DagPb, Codec::Raw, Codec::Unknown(0x300)] {
            assert_eq!(decide(c, None, true, false), Other);
        }
        // Asked: as stored when the block is already in it (json/cbor accept dag-*).
        assert_eq!(
            decide(Codec::DagJson, Some(Want::Json), false, false),
            AsIs(Want::Json)
        );
        assert_eq!(
            decide(Codec::DagCbor, Some(Want::Cbor), false, false),
            AsIs(Want::Cbor)
        );
        assert_eq!(
            decide(Codec::DagJson, Some(Want::DagCbor), true, false),
            Convert(Want::DagCbor)
        );
        assert_eq!(
            decide(Codec::DagCbor, Some(Want::DagJson), true, false),
            Convert(Want::DagJson)
        );
        assert_eq!(
            decide(Codec::DagCbor, Some(Want::Json), false, false),
            Convert(Want::Json)
        );
        assert_eq!(
            decide(Codec::Json, Some(Want::DagJson), false, false),
            Convert(Want::DagJson)
        );
        for w in all {
            // An asked format is never the HTML view.
            assert_ne!(decide(Codec::DagCbor, Some(w), true, false), View);
        }
        // UnixFS as json/cbor stays UnixFS; as dag-* it is converted.
        assert_eq!(decide(Codec::DagPb, Some(Want::Json), false, false), Other);
        assert_eq!(decide(Codec::Raw, Some(Want::Cbor), false, false), Other);
        assert_eq!(
            decide(Codec::DagPb, Some(Want::DagJson), false, false),
            Convert(Want::DagJson)
        );
    }

    #[test]
    fn conversions_and_refusals() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), Ipld::Integer(-5));
        m.insert("f".to_string(), Ipld::Float(1.5));
        let plain = Ipld::Map(m.clone());
        let cbor = codec::encode(Codec::DagCbor, &plain).expect("enc");
        let c = cid(Codec::DagCbor, &cbor);
        let json = convert(&c, &cbor, Want::DagJson)
            .expect("decodes")
            .expect("converts");
        assert_eq!(json, br#"{"a":-5,"f":1.5}"#);
        assert_eq!(convert(&c, &cbor, Want::Json).expect("d").expect("c"), json);
        // Links and bytes do not fit plain JSON: 400, pointing at dag-json.
        m.insert("l".to_string(), Ipld::Link(c));
        let linked = codec::encode(Codec::DagCbor, &Ipld::Map(m)).expect("enc");
        let lc = cid(Codec::DagCbor, &linked);
        let e = convert(&lc, &linked, Want::Json)
            .expect("decodes")
            .expect_err("links");
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("ask for dag-json"), "{e}");
        let dj = codec::encode(Codec::DagJson, &Ipld::Bytes(vec![1, 2])).expect("enc");
        let djc = cid(Codec::DagJson, &dj);
        let e = convert(&djc, &dj, Want::Json)
            .expect("decodes")
            .expect_err("bytes");
        assert_eq!(e.status(), 400);
        // Bytes fit plain CBOR, links do not.
        assert!(convert(&djc, &dj, Want::Cbor).expect("d").is_ok());
        // A codec without a data-model form: 400; a malformed block: a read error.
        let unknown = cid(Codec::Unknown(0x300), b"x");
        assert_eq!(
            convert(&unknown, b"x", Want::DagJson)
                .expect("d")
                .expect_err("u")
                .status(),
            400
        );
        let bad = cid(Codec::DagCbor, b"\xff");
        assert!(convert(&bad, b"\xff", Want::DagJson).is_err());
    }

    #[test]
    fn etags_and_dispositions() {
        let c = cid(Codec::DagCbor, b"x");
        assert_eq!(etag(&c, Want::DagJson), format!("\"{c}.dag-json\""));
        assert_eq!(etag(&c, Want::DagCbor), format!("\"{c}.dag-cbor\""));
        assert_eq!(etag(&c, Want::Json), format!("\"{c}.json\""));
        assert_eq!(etag(&c, Want::Cbor), format!("\"{c}.cbor\""));
        assert_eq!(
            disposition(&c, Want::DagJson, None, false),
            (format!("{c}.json"), false)
        );
        assert_eq!(
            disposition(&c, Want::DagCbor, None, false),
            (format!("{c}.cbor"), true)
        );
        assert_eq!(
            disposition(&c, Want::Json, Some("x.json"), true),
            ("x.json".into(), true)
        );
    }
}
