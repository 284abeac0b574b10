//! The gateway's HTML: directory listings and error pages. Every name and message is
//! escaped; links are relative, so a listing works the same on a path and a subdomain
//! origin. A listing shows at most [`LISTING_LIMIT`] entries.

use super::request::percent_encode;
use dag::Cid;
use dag::codec::Ipld;
use dag::export::DirEntry;
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The most entries a directory listing shows (and the most the gateway reads to make
/// one): a HAMT a peer serves may hold millions of entries, and a page of every one would
/// take hundreds of MB per request. Past it the page says the listing is truncated and
/// points to `?format=car` and the RPC API's `ls`, which stream the whole directory.
pub const LISTING_LIMIT: usize = 10_000;

/// Sizes as people read them (`1.5 KiB`).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}\
h1{font-size:1.2em;word-break:break-all}table{border-collapse:collapse;width:100%}\
td,th{padding:.3em .6em;text-align:left;border-bottom:1px solid #eee}\
td.size{text-align:right;white-space:nowrap}td.cid{font-family:monospace;font-size:.85em;color:#666;word-break:break-all}\
a{color:#0b5cad;text-decoration:none}a:hover{text-decoration:underline}";

/// A directory listing of `path` (the content path shown as the title), whose own CID is
/// `cid`; `parent` adds a `..` link; `truncated` says the directory holds more than
/// `entries`.
pub fn listing(
    path: &str,
    cid: &str,
    entries: &[DirEntry],
    parent: bool,
    truncated: bool,
) -> String {
    let title = escape(path);
    let mut rows = String::new();
    if parent {
        rows.push_str(
            "<tr><td><a href=\"../\" class=\"parent\">..</a></td><td></td><td></td></tr>\n",
        );
    }
    for e in entries {
        let name = escape(&e.name);
        let href = escape(&percent_encode(&e.name));
        let c = e.cid.to_string();
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"./{href}\">{name}</a></td><td class=\"size\">{}</td>\
             <td class=\"cid\"><a href=\"/ipfs/{c}?filename={href}\">{c}</a></td></tr>",
            human_size(e.tsize)
        );
    }
    let count = if truncated {
        format!("first {} entries (listing truncated)", entries.len())
    } else if entries.len() == 1 {
        "1 entry".to_string()
    } else {
        format!("{} entries", entries.len())
    };
    let note = if truncated {
        format!(
            "<p class=\"truncated\">Listing truncated: this directory has more than {} \
             entries; {} are shown. Fetch all of it as a CAR with \
             <a href=\"?format=car\">?format=car</a>, or list it with the RPC API's \
             <code>ls</code> (<code>ipfsd ls {cid}</code>).</p>\n",
            entries.len(),
            entries.len(),
            cid = escape(cid),
        )
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n\
         <h1>Index of {title}</h1>\n<p class=\"cid\">{cid} &middot; {count}</p>\n{note}\
         <table><thead><tr><th>Name</th><th>Size</th><th>CID</th></tr></thead><tbody>\n\
         {rows}</tbody></table>\n<footer><p><small>ipfsd</small></p></footer></body></html>\n",
        cid = escape(cid),
    )
}

/// The most values the HTML view of an IPLD node renders; past it the preview stops and
/// says so (a 2 MiB block can hold hundreds of thousands of small values).
pub const VIEW_LIMIT: usize = 10_000;
/// Longest string shown whole (characters); bytes show as hex up to half as many bytes.
const VIEW_TEXT: usize = 2048;
/// Deepest nesting rendered (the decoders stop at 256 levels already).
const VIEW_DEPTH: usize = 256;

/// What the HTML view of a dag-cbor/dag-json node shows.
#[derive(Debug)]
pub struct DagView<'a> {
    /// The content path as the user sees it (the title).
    pub path: &'a str,
    /// The node's CID.
    pub cid: &'a Cid,
    /// Its codec's name.
    pub codec: &'a str,
    /// The node, `None` when it did not decode (the page then has no preview).
    pub value: Option<&'a Ipld>,
    /// Where `/ipfs/<cid>` links go: `""` on a path gateway (same origin),
    /// `//localhost:<port>` from a subdomain origin (that host redirects to the CID's).
    pub link_root: &'a str,
}

/// The HTML view of an IPLD node (boxo's "DAG index"): its CID and codec, download links
/// in every codec, every link it holds (with the path inside the node that reaches it), and
/// a preview of the whole value; every string, key and CID escaped, links clickable.
pub fn dag_view(v: &DagView<'_>) -> String {
    let cid = v.cid.to_string();
    let mut r = ViewRender {
        out: String::new(),
        left: VIEW_LIMIT,
        link_root: v.link_root,
        links: Vec::new(),
        cut: false,
    };
    let preview = match v.value {
        Some(value) => {
            r.value(value, &mut Vec::new(), 0);
            std::mem::take(&mut r.out)
        }
        None => "<p>The node does not decode: no preview. Fetch the raw block with \
                 <a href=\"?format=raw\">?format=raw</a>.</p>"
            .to_string(),
    };
    let mut links = String::new();
    for (at, target) in &r.links {
        let _ = writeln!(
            links,
            "<tr><td><code>{}</code></td><td class=\"cid\">{}</td></tr>",
            escape(at),
            r.anchor(target)
        );
    }
    let links = if r.links.is_empty() {
        "<p>This node holds no links.</p>\n".to_string()
    } else {
        format!(
            "<table class=\"links\"><thead><tr><th>Path in the node</th><th>Link</th></tr>\
             </thead><tbody>\n{links}</tbody></table>\n"
        )
    };
    let cut = if r.cut {
        format!(
            "<p class=\"truncated\">Preview truncated: the first {VIEW_LIMIT} values are \
             shown; download the node for all of it.</p>\n"
        )
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}{VIEW_STYLE}</style></head><body>\n\
         <h1>{title}</h1>\n<p>CID: <code class=\"cid\">{cid}</code><br>\
         Codec: <code>{codec} (0x{code:x})</code></p>\n\
         <p>Download this block as: <a href=\"?format=dag-json\" rel=\"nofollow\">DAG-JSON</a> \
         &middot; <a href=\"?format=dag-cbor\" rel=\"nofollow\">DAG-CBOR</a> \
         &middot; <a href=\"?format=raw\" rel=\"nofollow\">raw block</a> \
         &middot; <a href=\"?format=car\" rel=\"nofollow\">CAR</a></p>\n\
         <h2>Links</h2>\n{links}<h2>Preview</h2>\n{cut}<div class=\"ipld\">{preview}</div>\n\
         <footer><p><small>ipfsd</small></p></footer></body></html>\n",
        title = escape(v.path),
        cid = escape(&cid),
        codec = escape(v.codec),
        code = v.cid.codec(),
    )
}

const VIEW_STYLE: &str = "h2{font-size:1em;margin-top:1.5em}\
.ipld table{width:auto;border-left:2px solid #eee}.ipld th{font-weight:normal;color:#666;vertical-align:top;font-family:monospace}\
.ipld td{vertical-align:top}.str{color:#0a6b2d;white-space:pre-wrap;word-break:break-all}\
.bytes{color:#8a4b08;word-break:break-all}.num{color:#1c4fa0}.kw{color:#7a2a8a}";

struct ViewRender<'a> {
    out: String,
    left: usize,
    link_root: &'a str,
    /// Every link met, with the path inside the node that reaches it.
    links: Vec<(String, Cid)>,
    cut: bool,
}

impl ViewRender<'_> {
    fn anchor(&self, cid: &Cid) -> String {
        let c = escape(&cid.to_string());
        format!(
            "<a class=\"ipld-link\" href=\"{}/ipfs/{c}\">{c}</a>",
            escape(self.link_root)
        )
    }

    /// Renders `v` (reached by `path` inside the node), within the value budget.
    fn value(&mut self, v: &Ipld, path: &mut Vec<String>, depth: usize) {
        if self.left == 0 || depth >= VIEW_DEPTH {
            self.cut = true;
            self.out.push_str("&hellip;");
            return;
        }
        self.left -= 1;
        match v {
            Ipld::Null => self.out.push_str("<span class=\"kw\">null</span>"),
            Ipld::Bool(b) => {
                let _ = write!(self.out, "<span class=\"kw\">{b}</span>");
            }
            Ipld::Integer(i) => {
                let _ = write!(self.out, "<span class=\"num\">{i}</span>");
            }
            Ipld::Float(f) => {
                let _ = write!(self.out, "<span class=\"num\">{f:?}</span>");
            }
            Ipld::String(s) => {
                let shown: String = s.chars().take(VIEW_TEXT).collect();
                let more = if shown.len() < s.len() {
                    "&hellip;"
                } else {
                    ""
                };
                let _ = write!(
                    self.out,
                    "<span class=\"str\">&quot;{}{more}&quot;</span>",
                    escape(&shown)
                );
            }
            Ipld::Bytes(b) => {
                let shown = &b[..b.len().min(VIEW_TEXT / 2)];
                let hex: String = shown.iter().map(|x| format!("{x:02x}")).collect();
                let more = if shown.len() < b.len() {
                    "&hellip;"
                } else {
                    ""
                };
                let _ = write!(
                    self.out,
                    "<code class=\"bytes\">{hex}{more}</code> ({} bytes)",
                    b.len()
                );
            }
            Ipld::Link(c) => {
                self.links.push((path.join("/"), *c));
                let a = self.anchor(c);
                self.out.push_str(&a);
            }
            Ipld::List(items) if items.is_empty() => self.out.push_str("<code>[]</code>"),
            Ipld::Map(m) if m.is_empty() => self.out.push_str("<code>{}</code>"),
            Ipld::List(items) => {
                self.out.push_str("<table class=\"list\"><tbody>");
                for (i, item) in items.iter().enumerate() {
                    let _ = write!(self.out, "<tr><th>{i}</th><td>");
                    path.push(i.to_string());
                    self.value(item, path, depth + 1);
                    path.pop();
                    self.out.push_str("</td></tr>");
                }
                self.out.push_str("</tbody></table>");
            }
            Ipld::Map(m) => {
                self.out.push_str("<table class=\"map\"><tbody>");
                for (k, item) in m {
                    let _ = write!(self.out, "<tr><th>{}</th><td>", escape(k));
                    path.push(k.clone());
                    self.value(item, path, depth + 1);
                    path.pop();
                    self.out.push_str("</td></tr>");
                }
                self.out.push_str("</tbody></table>");
            }
        }
    }
}

/// An error page for browsers.
pub fn error_page(status: u16, reason: &str, message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} {reason}</title>\
         <style>{STYLE}</style></head><body>\n<h1>{status} {reason}</h1>\n<p>{}</p>\n\
         <footer><p><small>ipfsd gateway</small></p></footer></body></html>\n",
        escape(message),
        reason = escape(reason),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_escape_names_and_link_relatively() {
        let cid = dag::block::cid_of(dag::Version::V1, dag::block::RAW, b"x");
        let entries = vec![
            DirEntry {
                name: "<script>a b.html".into(),
                cid,
                tsize: 2048,
            },
            DirEntry {
                name: "plain".into(),
                cid,
                tsize: 3,
            },
        ];
        let page = listing("/ipfs/x/<dir>", "bafy", &entries, true, false);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;a b.html"));
        assert!(page.contains("href=\"./%3Cscript%3Ea%20b.html\""));
        assert!(page.contains("href=\"./plain\""));
        assert!(page.contains("href=\"../\""));
        assert!(page.contains("2.0 KiB"));
        assert!(page.contains("Index of /ipfs/x/&lt;dir&gt;"));
        assert!(!listing("/", "c", &entries, false, false).contains("href=\"../\""));
        assert!(!page.contains("truncated"));
        let cut = listing("/", "c", &entries, false, true);
        assert!(cut.contains("Listing truncated"), "{cut}");
        assert!(cut.contains("?format=car"), "{cut}");
        assert!(error_page(404, "Not Found", "<b>").contains("&lt;b&gt;"));
        assert_eq!(human_size(5 << 20), "5.0 MiB");
    }

    #[test]
    fn dag_views_escape_everything_and_link_every_cid() {
        use std::collections::BTreeMap;
        let target = dag::block::cid_of(dag::Version::V1, dag::block::RAW, b"t");
        let mut inner = BTreeMap::new();
        inner.insert(
            "<img src=x onerror=alert(1)>".to_string(),
            Ipld::Link(target),
        );
        let mut m = BTreeMap::new();
        m.insert(
            "<script>alert(1)</script>".to_string(),
            Ipld::String("</td><b>\"'&".into()),
        );
        m.insert(
            "list".to_string(),
            Ipld::List(vec![Ipld::Map(inner), Ipld::Float(0.5)]),
        );
        m.insert("bytes".to_string(), Ipld::Bytes(vec![0xde, 0xad]));
        let value = Ipld::Map(m);
        let cid = dag::block::cid_of(dag::Version::V1, dag::block::DAG_CBOR, b"n");
        let page = dag_view(&DagView {
            path: "/ipfs/x/<p>",
            cid: &cid,
            codec: "dag-cbor",
            value: Some(&value),
            link_root: "",
        });
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;/td&gt;&lt;b&gt;&quot;&#39;&amp;"));
        let href = format!("href=\"/ipfs/{target}\"");
        // Once in the links table, once in the preview.
        assert_eq!(page.matches(&href).count(), 2, "{page}");
        assert!(page.contains("<code>list/0/&lt;img src=x onerror=alert(1)&gt;</code>"));
        assert!(page.contains("dead</code> (2 bytes)"));
        assert!(page.contains(">0.5<"));
        assert!(page.contains("(0x71)"));
        assert!(page.contains("href=\"?format=dag-json\""));
        assert!(page.contains("href=\"?format=dag-cbor\""));
        assert!(page.contains("<title>/ipfs/x/&lt;p&gt;</title>"));
        // From a subdomain origin links go through the path gateway's host.
        let sub = dag_view(&DagView {
            path: "/",
            cid: &cid,
            codec: "dag-cbor",
            value: Some(&value),
            link_root: "//localhost:8080",
        });
        assert!(sub.contains(&format!("href=\"//localhost:8080/ipfs/{target}\"")));
        // A huge node: the preview stops at the limit and says so.
        let big = Ipld::List((0..VIEW_LIMIT as i128 + 10).map(Ipld::Integer).collect());
        let page = dag_view(&DagView {
            path: "/",
            cid: &cid,
            codec: "dag-cbor",
            value: Some(&big),
            link_root: "",
        });
        assert!(page.contains("Preview truncated"));
        assert!(page.len() < 2 << 20);
    }
}
