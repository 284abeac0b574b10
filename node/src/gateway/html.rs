//! The gateway's HTML: directory listings and error pages. Every name and message is
//! escaped; links are relative, so a listing works the same on a path and a subdomain
//! origin. A listing shows at most [`LISTING_LIMIT`] entries.

use super::request::percent_encode;
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
}
