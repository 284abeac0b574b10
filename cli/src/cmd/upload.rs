//! The multipart body of an online `add`: the files, directories and symlinks to add, in
//! the order the offline importer walks them, produced lazily as a [`Read`].
//!
//! Data flow: the top-level paths are checked up front exactly as
//! `dag::import::Importer::add_paths` checks them (same errors), then a depth-first walk
//! (names sorted, hidden names skipped unless asked for) yields one part per entry: a
//! header (`filename` = the percent-encoded path relative to the import root, the
//! content type saying file, directory or symlink), then the content, read from disk
//! only as ureq sends it. So a 1 GB add holds one read buffer, never the file.
//!
//! When reading the disk fails mid-way, the error (worded as offline) is kept for the
//! caller and the body is cut short inside a part, so the daemon's import fails and
//! stores nothing, while what it reported before is still printed.

use crate::remote;
use dag::import::{ImportError, PathProblem};
use indicatif::ProgressBar;
use std::fs::{self, Metadata};
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A top-level path to add: (path on disk, name to add it under, its metadata).
type Top = (PathBuf, String, Metadata);

/// Where the reading error of an upload is kept for the caller.
pub type Failure = Arc<Mutex<Option<ImportError>>>;

/// Checks the paths given to `add` as the offline importer does; answers them and whether
/// the single path is a directory without a base name (`add -r .`), whose entries go at
/// the top level of an unnamed wrapping directory.
pub fn top_level(
    paths: &[PathBuf],
    recursive: bool,
    wrap: bool,
) -> Result<(Vec<Top>, bool), ImportError> {
    let mut top = Vec::with_capacity(paths.len());
    let mut unnamed = false;
    for path in paths {
        let meta = fs::symlink_metadata(path).map_err(|source| ImportError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() && !recursive {
            return Err(ImportError::IsDirectory { path: path.clone() });
        }
        let name = match path.file_name() {
            Some(n) => n
                .to_str()
                .ok_or_else(|| ImportError::BadName { path: path.clone() })?
                .to_string(),
            None if meta.is_dir() && !wrap && paths.len() == 1 => {
                unnamed = true;
                String::new()
            }
            None => {
                return Err(ImportError::BadPath {
                    path: path.display().to_string(),
                    problem: PathProblem::NoName,
                });
            }
        };
        top.push((path.clone(), name, meta));
    }
    Ok((top, unnamed))
}

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
    top: std::vec::IntoIter<Top>,
    /// Directories being walked: (path on disk, relative path, names left to visit).
    stack: Vec<(PathBuf, String, std::vec::IntoIter<String>)>,
    hidden: bool,
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
    /// A body walking `top` (from [`top_level`]), or sending stdin when `top` is `None`.
    /// File bytes sent so far are shown on `bar`.
    pub fn new(top: Option<Vec<Top>>, hidden: bool, bar: Option<ProgressBar>) -> Self {
        let stdin = top.is_none().then(io::stdin);
        AddBody {
            boundary: remote::boundary(),
            top: top.unwrap_or_default().into_iter(),
            stack: Vec::new(),
            hidden,
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

    /// The next entry of the walk, as `dag::import`'s directory walk yields it.
    fn next_entry(&mut self) -> Option<Result<(String, Content), ImportError>> {
        loop {
            let (path, rel, meta) = if let Some((dir, rel, names)) = self.stack.last_mut() {
                let Some(name) = names.next() else {
                    self.stack.pop();
                    continue;
                };
                let path = dir.join(&name);
                let rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                match fs::symlink_metadata(&path) {
                    Ok(meta) => (path, rel, meta),
                    Err(source) => return Some(Err(ImportError::Io { path, source })),
                }
            } else {
                self.top.next()?
            };
            match self.visit(path, rel, &meta) {
                Ok(Some(entry)) => return Some(Ok(entry)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The part for `path` on disk, added as `rel`; `None` for the unnamed top directory.
    fn visit(
        &mut self,
        path: PathBuf,
        rel: String,
        meta: &Metadata,
    ) -> Result<Option<(String, Content)>, ImportError> {
        let io_err = |source| ImportError::Io {
            path: path.clone(),
            source,
        };
        if meta.is_dir() {
            let mut names = Vec::new();
            for entry in fs::read_dir(&path).map_err(io_err)? {
                let entry = entry.map_err(io_err)?;
                let name = entry.file_name();
                let name = name
                    .to_str()
                    .ok_or_else(|| ImportError::BadName { path: entry.path() })?
                    .to_string();
                if !self.hidden && name.starts_with('.') {
                    continue;
                }
                names.push(name);
            }
            names.sort_unstable();
            self.stack.push((path, rel.clone(), names.into_iter()));
            Ok((!rel.is_empty()).then_some((rel, Content::None)))
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).map_err(io_err)?;
            let target = target
                .to_str()
                .ok_or_else(|| ImportError::BadName { path: path.clone() })?
                .to_string();
            Ok(Some((
                rel,
                Content::Target(Cursor::new(target.into_bytes())),
            )))
        } else if meta.is_file() {
            let file = fs::File::open(&path).map_err(io_err)?;
            Ok(Some((rel, Content::File(Box::new(file), path))))
        } else {
            Err(ImportError::Unsupported { path })
        }
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
