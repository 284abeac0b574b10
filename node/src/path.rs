//! IPFS content paths as users type them: `<cid>[/path]` or `/ipfs/<cid>[/path]`.

use dag::Cid;

/// A path could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not of the form `<cid>[/path]` or `/ipfs/<cid>[/path]`.
    #[error("invalid path {input:?}: expected <cid>[/path] or /ipfs/<cid>[/path]")]
    Form {
        /// What was given.
        input: String,
    },
    /// The CID part is not a CID.
    #[error("invalid path {input:?}: {source}")]
    Cid {
        /// What was given.
        input: String,
        /// Why the CID was rejected.
        source: dag::BlockError,
    },
}

/// Splits a content path into its root CID and the path inside it.
pub fn parse(input: &str) -> Result<(Cid, String), PathError> {
    let rest = input.strip_prefix("/ipfs/").unwrap_or(input);
    if rest.starts_with('/') || input.starts_with("/ipns/") || rest.is_empty() {
        return Err(PathError::Form {
            input: input.to_string(),
        });
    }
    let (cid, path) = rest.split_once('/').unwrap_or((rest, ""));
    let cid = dag::block::parse_cid(cid).map_err(|source| PathError::Cid {
        input: input.to_string(),
        source,
    })?;
    Ok((cid, path.to_string()))
}

/// Resolves a content path through `source` to the CID it names.
pub fn resolve(source: &impl dag::BlockSource, input: &str) -> Result<Cid, ResolveError> {
    let (root, path) = parse(input)?;
    Ok(dag::export::resolve(source, &root, &path)?)
}

/// The name a download of `input` is saved under: the last segment typed, which for
/// `/ipns/<name>` alone is the name; for a bare CID, the CID.
pub fn download_name(input: &str) -> Result<String, PathError> {
    let last = |p: &str| p.rsplit('/').find(|s| !s.is_empty()).map(String::from);
    if let Some(rest) = input.strip_prefix("/ipns/") {
        return Ok(last(rest).unwrap_or_else(|| rest.to_string()));
    }
    let (root, inner) = parse(input)?;
    Ok(last(&inner).unwrap_or_else(|| root.to_string()))
}

/// A content path could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The path is malformed.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Following it failed (missing block, missing link, ...).
    #[error(transparent)]
    Export(#[from] dag::export::ExportError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let cid = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
        assert_eq!(parse(cid).expect("ok").1, "");
        assert_eq!(parse(&format!("/ipfs/{cid}/a/b")).expect("ok").1, "a/b");
        assert!(matches!(parse("nope"), Err(PathError::Cid { .. })));
        assert!(matches!(parse("/ipfs/"), Err(PathError::Form { .. })));
        assert!(matches!(
            parse("/ipns/example.com"),
            Err(PathError::Form { .. })
        ));
    }

    #[test]
    fn download_names() {
        let cid = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
        assert_eq!(download_name(cid).expect("cid"), cid);
        assert_eq!(
            download_name(&format!("/ipfs/{cid}/a/b/")).expect("path"),
            "b"
        );
        assert_eq!(download_name("/ipns/k51abc").expect("name"), "k51abc");
        assert_eq!(download_name("/ipns/k51abc/site/").expect("below"), "site");
        assert!(download_name("nope").is_err());
    }
}
