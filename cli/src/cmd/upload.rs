//! The multipart body of an online `add`: the files, directories and symlinks to add, in
//! the order the offline importer walks them, produced lazily as a [`Read`].
//!
//! Data flow: the paths are checked and walked by `dag::import::walk`, the same walk the
//! offline importer uses (same errors, same order: names sorted, hidden names skipped
//! unless asked for); each entry becomes one part: a header (`filename` = the
//! percent-encoded path relative to the import root, the content type saying file,
//! directory or symlink), then the content, read from disk only as ureq sends it. So a
//! 1 GB add holds one read buffer, never the file.
//!
//! When reading the disk fails mid-way, the error (worded as offline) is kept for the
//! caller and the body is cut short inside a part, so the daemon's import fails and
//! stores nothing, while what it reported before is still printed.

use crate::remote;
use dag::import::{ImportError, TreeEntry, Walk};
use indicatif::ProgressBar;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where the reading error of an upload is kept for the caller.
pub type Failure = Arc<Mutex<Option<ImportError>>>;

/// What one part carries.
enum Content {
    /// Nothing (a directory).
    None,
    /// A symlink's target.
    Target(Cursor<Vec<u8>>),
    /// A file's bytes, and the path named when reading fails.
    File(Box<dyn Read + Send>, PathBuf),
}

/// The lazily produced multipart body of an `add`.
pub struct AddBody {
    boundary: String,
    walk: Option<Walk>,
    /// Stdin, sent as the one unnamed part, when no path is given.
    stdin: Option<io::Stdin>,
    header: Cursor<Vec<u8>>,
    content: Content,
    parts: usize,
    finished: bool,
    failure: Failure,
    bar: Option<ProgressBar>,
    bytes: u64,
}

impl std::fmt::Debug for AddBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddBody")
            .field("parts", &self.parts)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl AddBody {
    /// A body sending the entries of `walk`, or stdin when `walk` is `None`. File bytes
    /// sent so far are shown on `bar`.
    pub fn new(walk: Option<Walk>, bar: Option<ProgressBar>) -> Self {
        let stdin = walk.is_none().then(io::stdin);
        AddBody {
            boundary: remote::boundary(),
            walk,
            stdin,
            header: Cursor::new(Vec::new()),
            content: Content::None,
            parts: 0,
            finished: false,
            failure: Failure::default(),
            bar,
            bytes: 0,
        }
    }

    /// The multipart boundary.
    pub fn boundary(&self) -> String {
        self.boundary.clone()
    }

    /// Where a reading error will be kept.
    pub fn failure(&self) -> Failure {
        self.failure.clone()
    }

    /// Keeps `err` and ends the body inside a part the daemon cannot complete: a file part
    /// whose upload is cut (and whose name, NUL, is refused anyway).
    fn fail(&mut self, err: ImportError, mid_part: bool) {
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(err);
        }
        self.finished = true;
        self.content = Content::None;
        if !mid_part {
            self.header = Cursor::new(remote::part_header(
                &self.boundary,
                self.parts == 0,
                "\0",
                "application/octet-stream",
            ));
        }
    }

    /// The next part's header and content, or the end of the body.
    fn advance(&mut self) {
        if let Some(stdin) = self.stdin.take() {
            self.start_part("", "application/octet-stream");
            self.content = Content::File(Box::new(stdin), PathBuf::from("<stdin>"));
            return;
        }
        match self.next_entry() {
            Some(Ok((rel, content))) => {
                let ctype = match &content {
                    Content::None => "application/x-directory",
                    Content::Target(_) => "application/symlink",
                    Content::File(..) => "application/octet-stream",
                };
                self.start_part(&rel, ctype);
                self.content = content;
            }
            Some(Err(e)) => self.fail(e, false),
            None => {
                self.header = Cursor::new(remote::multipart_end(&self.boundary, self.parts > 0));
                self.finished = true;
            }
        }
    }

    fn start_part(&mut self, rel: &str, ctype: &str) {
        self.header = Cursor::new(remote::part_header(
            &self.boundary,
            self.parts == 0,
            rel,
            ctype,
        ));
        self.parts += 1;
    }

    /// The next entry of the walk, as a part's name and content.
    fn next_entry(&mut self) -> Option<Result<(String, Content), ImportError>> {
        let item = self.walk.as_mut()?.next()?;
        Some(item.map(|(entry, source)| match entry {
            TreeEntry::Dir { path } => (path, Content::None),
            TreeEntry::Symlink { path, target } => {
                (path, Content::Target(Cursor::new(target.into_bytes())))
            }
            TreeEntry::File { path, reader } => (path, Content::File(Box::new(reader), source)),
        }))
    }
}

impl Read for AddBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.header.read(out)?;
            if n > 0 {
                return Ok(n);
            }
            match &mut self.content {
                Content::None => {}
                Content::Target(t) => match t.read(out)? {
                    0 => self.content = Content::None,
                    n => return Ok(n),
                },
                Content::File(reader, path) => match reader.read(out) {
                    Ok(0) => self.content = Content::None,
                    Ok(n) => {
                        self.bytes += n as u64;
                        if let Some(bar) = &self.bar {
                            bar.set_position(self.bytes);
                        }
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        let path = path.clone();
                        self.fail(ImportError::Io { path, source }, true);
                    }
                },
            }
            if self.finished {
                return Ok(0);
            }
            self.advance();
        }
    }
}
