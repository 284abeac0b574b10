//! Tests of request reading: routes, subdomains, redirects, formats, ranges, escapes.

use super::*;

const V0: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
const V1: &str = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";

fn content(r: Route) -> ContentPath {
    match r {
        Route::Content(c) => c,
        other => panic!("not content: {other:?}"),
    }
}

#[test]
fn name_targets_get_the_same_segment_checks_as_url_paths() {
    let n = match route(
        None,
        "/ipns/k51qzi5uqu5dj1w2yvf8kk5cdjc1ddc00o4d5sjwi6f79xzcay9j3gkddw5uu4/",
        None,
    ) {
        Ok(Route::Name(n)) => n,
        other => panic!("not a name route: {other:?}"),
    };
    for bad in [format!("/ipfs/{V1}/a\0b"), format!("/ipfs/{V1}/../x")] {
        let e = name_content(&n, &bad).expect_err(&bad);
        assert_eq!(e.status(), 400, "{bad:?}: {e}");
    }
    assert!(name_content(&n, &format!("/ipfs/{V1}/a/b")).is_ok());
}

#[test]
fn overlong_paths_are_refused_without_slicing_a_character() {
    // Byte 64 falls inside a two-byte character: the error's excerpt must not panic.
    let path = format!("/{}", "é".repeat(MAX_PATH));
    let e = route(None, &path, None).expect_err("too long");
    assert_eq!(e.status(), 400);
}

#[test]
fn paths() {
    let c = content(
        route(
            Some("127.0.0.1:8080"),
            &format!("/ipfs/{V0}/a/b%20c/"),
            None,
        )
        .expect("ok"),
    );
    assert_eq!(c.segments, ["a", "b c"]);
    assert!(c.trailing_slash);
    assert_eq!(c.inner(), "a/b c");
    assert!(!c.subdomain);
    let c = content(route(None, &format!("/ipfs/{V0}"), None).expect("ok"));
    assert!(c.segments.is_empty() && !c.trailing_slash);
    for bad in [
        format!("/ipfs/{V0}/../x"),
        format!("/ipfs/{V0}/%2e%2e/x"),
        format!("/ipfs/{V0}/a%zz"),
        format!("/ipfs/{V0}/a%2Fb"),
        format!("/ipfs/{V0}/%ff"),
        format!("/ipfs/{V0}/a%00"),
        "/ipfs/".into(),
        "/ipfs/notacid".into(),
        format!("/ipfs/{V0}/{}", "a/".repeat(300)),
        format!("/ipfs/{V0}/{}", "a".repeat(MAX_PATH)),
    ] {
        let e = route(None, &bad, None).expect_err(&bad);
        assert_eq!(e.status(), 400, "{bad}: {e}");
    }
    assert_eq!(route(None, "/", None).expect_err("root").status(), 404);
    for bad in ["/ipns/x", "/ipns/", "/ipns/example.com/a", "/ipns/%zz"] {
        assert_eq!(
            route(None, bad, None).expect_err(bad).status(),
            400,
            "{bad}"
        );
    }
}

#[test]
fn subdomains() {
    // A CID on localhost moves to its own origin, as CIDv1 base32.
    match route(
        Some("localhost:8080"),
        &format!("/ipfs/{V0}/x/y"),
        Some("a=b"),
    )
    .expect("ok")
    {
        Route::Subdomain { location } => assert_eq!(
            location,
            "http://bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354.ipfs.localhost:8080/x/y?a=b"
        ),
        other => panic!("{other:?}"),
    }
    match route(Some("localhost"), &format!("/ipfs/{V1}"), None).expect("ok") {
        Route::Subdomain { location } => {
            assert_eq!(location, format!("http://{V1}.ipfs.localhost/"))
        }
        other => panic!("{other:?}"),
    }
    let c = content(route(Some(&format!("{V1}.ipfs.localhost:8080")), "/a/", None).expect("ok"));
    assert!(c.subdomain);
    assert_eq!(c.segments, ["a"]);
    assert_eq!(c.display, format!("/ipfs/{V1}/a/"));
    assert_eq!(c.link_root, "//localhost:8080");
    let c = content(route(Some("127.0.0.1:8080"), &format!("/ipfs/{V1}/"), None).expect("ok"));
    assert_eq!(c.link_root, "");
    assert_eq!(c.root.to_string(), V1);
    // Hosts are case-insensitive.
    let upper = format!("{}.IPFS.LOCALHOST", V1.to_uppercase());
    assert!(matches!(
        route(Some(&upper), "/", None),
        Ok(Route::Content(_))
    ));
    // A CIDv0 label cannot be an origin (DNS folds case): it is rejected.
    assert_eq!(
        route(Some(&format!("{V0}.ipfs.localhost")), "/", None)
            .expect_err("v0")
            .status(),
        400
    );
    assert_eq!(
        route(Some("a.b.ipfs.localhost"), "/", None)
            .expect_err("dots")
            .status(),
        400
    );
    // Other hosts are path gateways.
    assert!(matches!(
        route(Some("127.0.0.1:8080"), &format!("/ipfs/{V0}"), None),
        Ok(Route::Content(_))
    ));
}

#[test]
fn redirects_stay_on_the_origin() {
    // A directory named `evil.com` reached with a doubled slash: the slash is added
    // to a path of this origin, never to a scheme-relative `//evil.com/`.
    for (path, want) in [
        ("//evil.com", "/evil.com/"),
        ("///evil.com", "/evil.com/"),
        ("/\\evil.com", "/%5Cevil.com/"),
        ("/%2F%2Fevil.com", "/%2F%2Fevil.com/"),
        ("", "/"),
        ("/", "/"),
        (
            &format!("/ipfs/{V0}//evil.com"),
            &format!("/ipfs/{V0}/evil.com/"),
        ),
        (&format!("/ipfs/{V0}/a%20b"), &format!("/ipfs/{V0}/a%20b/")),
    ] {
        assert_eq!(add_slash(path, None), want, "{path:?}");
    }
    assert_eq!(add_slash("//evil.com", Some("x=1")), "/evil.com/?x=1");
    assert_eq!(clean_path("/a//b"), "/a/b");
    assert_eq!(clean_path("/a//b/"), "/a/b/");
    // Every subdomain redirect keeps the host it was given and a clean path.
    let cases = [
        (
            "localhost:8080".to_string(),
            format!("/ipfs/{V0}//evil.com/x"),
            format!("http://{}.ipfs.localhost:8080/evil.com/x", base32(V0)),
        ),
        (
            // A base36 label moves to the base32 one.
            format!("{}.ipfs.localhost:8080", base36(V1)),
            "//evil.com/".to_string(),
            format!("http://{V1}.ipfs.localhost:8080/evil.com/"),
        ),
        (
            "localhost".to_string(),
            "/ipns/k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w//evil.com"
                .to_string(),
            "http://k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w.ipns.localhost/evil.com".to_string(),
        ),
    ];
    for (host, path, want) in cases {
        match route(Some(&host), &path, None) {
            Ok(Route::Subdomain { location }) => assert_eq!(location, want, "{path}"),
            other => panic!("{host} {path}: {other:?}"),
        }
    }
}

fn base36(cid: &str) -> String {
    dag::block::parse_cid(cid)
        .expect("cid")
        .to_string_of_base(multibase::Base::Base36Lower)
        .expect("base36")
}

fn base32(cid: &str) -> String {
    base32_v1(&dag::block::parse_cid(cid).expect("cid")).expect("fits")
}

#[test]
fn formats() {
    let p = params(Some("format=raw"), Some("application/vnd.ipld.car")).expect("ok");
    assert_eq!(p.format, Format::Raw);
    let p = params(None, Some("application/vnd.ipld.car; version=1; order=dfs")).expect("ok");
    assert_eq!(p.format, Format::Car);
    assert!(params(None, Some("application/vnd.ipld.car;version=2")).is_err());
    assert_eq!(
        params(None, Some("text/html,*/*")).expect("ok").format,
        Format::Deserialized
    );
    let p = params(Some("format=car&dag-scope=entity&entity-bytes=0:*"), None).expect("ok");
    assert_eq!(p.scope, dag::scope::Scope::Entity);
    assert!(p.entity_bytes.is_some());
    for (q, want) in [
        ("format=dag-json", Want::DagJson),
        ("format=dag-cbor", Want::DagCbor),
        ("format=json", Want::Json),
        ("format=cbor", Want::Cbor),
    ] {
        assert_eq!(params(Some(q), None).expect(q).format, Format::Codec(want));
        assert_eq!(
            params(None, Some(want.media_type())).expect(q).format,
            Format::Codec(want)
        );
    }
    // The first known type in the header wins; a query parameter beats the header.
    let p = params(
        None,
        Some("text/html, application/vnd.ipld.dag-cbor;q=0.5, application/vnd.ipld.raw"),
    )
    .expect("ok");
    assert_eq!(p.format, Format::Codec(Want::DagCbor));
    let p = params(Some("format=json"), Some("application/vnd.ipld.car")).expect("ok");
    assert_eq!(p.format, Format::Codec(Want::Json));
    for bad in [
        "format=tar",
        "format=dag-jsonx",
        "dag-scope=x",
        "entity-bytes=9:1",
        "car-version=2",
        "car-order=x",
    ] {
        assert_eq!(params(Some(bad), None).expect_err(bad).status(), 400);
    }
}

#[test]
fn ranges() {
    assert_eq!(range(None, 100), Range::Full);
    assert_eq!(range(Some("bytes=0-9"), 100), Range::Part(0, 10));
    assert_eq!(range(Some("bytes=90-"), 100), Range::Part(90, 100));
    assert_eq!(range(Some("bytes=-10"), 100), Range::Part(90, 100));
    assert_eq!(range(Some("bytes=-1000"), 100), Range::Part(0, 100));
    assert_eq!(range(Some("bytes=50-5000"), 100), Range::Part(50, 100));
    assert_eq!(range(Some("bytes=100-"), 100), Range::Unsatisfiable);
    assert_eq!(range(Some("bytes=-0"), 100), Range::Unsatisfiable);
    assert_eq!(range(Some("bytes=0-"), 0), Range::Unsatisfiable);
    assert_eq!(
        range(Some("bytes=99999999999999999999999-"), 100),
        Range::Unsatisfiable
    );
    assert_eq!(
        range(Some("bytes=5-99999999999999999999999"), 100),
        Range::Part(5, 100)
    );
    assert_eq!(
        range(Some("bytes=-99999999999999999999999"), 100),
        Range::Part(0, 100)
    );
    for ignored in [
        "bytes=9-1",
        "items=0-1",
        "bytes=0-1,5-6",
        "bytes=x-y",
        "bytes=",
        "bytes=-",
    ] {
        assert_eq!(range(Some(ignored), 100), Range::Full, "{ignored}");
    }
}

#[test]
fn percent_coding() {
    assert_eq!(percent_decode("a%20b%C3%A9").as_deref(), Some("a bé"));
    assert_eq!(percent_decode("%"), None);
    assert_eq!(percent_decode("%4"), None);
    assert_eq!(percent_encode("a b/é?#"), "a%20b%2F%C3%A9%3F%23");
    assert_eq!(
        percent_decode(&percent_encode("x y%z")).as_deref(),
        Some("x y%z")
    );
}
