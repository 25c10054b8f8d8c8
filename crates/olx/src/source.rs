//! Turning a folder, a `.tar.gz` or an in-memory map into one
//! `path → bytes` map rooted at the course, safely.
//!
//! Archives are never unpacked to disk: regular-file entries are read into
//! memory, with caps on entry count, per-file size and total size, and any
//! entry whose path is absolute or contains `..` makes the whole archive
//! invalid (a course export never needs one, so it signals a hostile or
//! broken file). Links are ignored.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::error::{OlxError, SourceLocation, Warning, WarningKind};

/// Relative `/`-separated path → file bytes.
pub type FileMap = BTreeMap<String, Vec<u8>>;

/// Where to read a course export from.
#[derive(Debug, Clone)]
pub enum CourseSource {
    /// A folder or a `.tar.gz` file, told apart by looking at it (a
    /// directory, or a file starting with the gzip magic bytes).
    Path(PathBuf),
    /// Files already in memory (e.g. embedded in the binary). Keys are
    /// `/`-separated paths, either relative to the course root or under a
    /// single top-level folder.
    Files(FileMap),
}

impl CourseSource {
    /// A folder or `.tar.gz` path.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        CourseSource::Path(path.into())
    }
}

impl From<FileMap> for CourseSource {
    fn from(files: FileMap) -> Self {
        CourseSource::Files(files)
    }
}

/// Caps that protect the reader from hostile or accidental huge inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries (files, folders, links) an archive or folder may have.
    pub max_entries: usize,
    /// Largest single file that is read into memory.
    pub max_file_bytes: u64,
    /// Most bytes, summed over every entry (including the `static/` files
    /// that are skipped, since they still have to be decompressed).
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 100_000,
            max_file_bytes: 64 << 20,
            max_total_bytes: 4 << 30,
        }
    }
}

/// Folders whose contents the reader never needs: course assets (images,
/// videos) can be huge and are not part of the course structure.
fn is_skipped_dir(name: &str) -> bool {
    name == "static" || name.starts_with('.')
}

/// Checks one relative entry path and returns it normalised (`/`-separated,
/// no `.` components).
pub(crate) fn safe_relative_path(origin: &str, raw: &str) -> Result<String, OlxError> {
    let unsafe_path = |reason: &str| OlxError::UnsafePath {
        archive: origin.to_string(),
        entry: raw.to_string(),
        reason: reason.to_string(),
    };
    if raw.starts_with('/') || raw.starts_with('\\') {
        return Err(unsafe_path("absolute path"));
    }
    let mut parts = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => {
                let part = part.to_str().ok_or_else(|| unsafe_path("not UTF-8"))?;
                parts.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_path("contains `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path("absolute path"));
            }
        }
    }
    // A Windows drive letter is a plain component on Unix; refuse it too.
    if parts
        .first()
        .is_some_and(|p| p.len() >= 2 && p.as_bytes()[1] == b':')
    {
        return Err(unsafe_path("absolute path"));
    }
    Ok(parts.join("/"))
}

/// Whether any folder along `path` is one whose contents are skipped.
fn under_skipped_dir(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts.into_iter().any(is_skipped_dir)
}

/// Reads a source into a map of every file the reader may need.
pub(crate) fn load(
    source: &CourseSource,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<FileMap, OlxError> {
    match source {
        CourseSource::Files(files) => {
            let mut out = FileMap::new();
            for (path, bytes) in files {
                let clean = safe_relative_path("file map", path)?;
                if !clean.is_empty() && !under_skipped_dir(&clean) {
                    out.insert(clean, bytes.clone());
                }
            }
            Ok(out)
        }
        CourseSource::Path(path) => {
            let meta = fs::metadata(path).map_err(|source| OlxError::Io {
                path: path.clone(),
                source,
            })?;
            if meta.is_dir() {
                load_dir(path, limits, warnings)
            } else {
                load_tar_gz(path, limits, warnings)
            }
        }
    }
}

fn load_dir(
    root: &Path,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<FileMap, OlxError> {
    let origin = root.display().to_string();
    let mut out = FileMap::new();
    let mut entries = 0usize;
    let mut total = 0u64;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let read = fs::read_dir(&dir).map_err(|source| OlxError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in read {
            let entry = entry.map_err(|source| OlxError::Io {
                path: dir.clone(),
                source,
            })?;
            entries += 1;
            if entries > limits.max_entries {
                return Err(OlxError::Archive {
                    archive: origin,
                    message: format!("more than {} entries", limits.max_entries),
                });
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                warnings.push(Warning {
                    kind: WarningKind::SkippedEntry,
                    location: None,
                    message: format!("skipped {}: name is not UTF-8", entry.path().display()),
                });
                continue;
            };
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // `DirEntry::file_type` does not follow links, so links are seen
            // as links and skipped.
            let file_type = entry.file_type().map_err(|source| OlxError::Io {
                path: entry.path(),
                source,
            })?;
            if file_type.is_dir() {
                if !is_skipped_dir(&name) {
                    stack.push((entry.path(), rel_path));
                }
            } else if file_type.is_file() {
                let size = entry
                    .metadata()
                    .map_err(|source| OlxError::Io {
                        path: entry.path(),
                        source,
                    })?
                    .len();
                check_sizes(&origin, &rel_path, size, &mut total, limits)?;
                let bytes = fs::read(entry.path()).map_err(|source| OlxError::Io {
                    path: entry.path(),
                    source,
                })?;
                out.insert(rel_path, bytes);
            } else {
                warnings.push(Warning {
                    kind: WarningKind::SkippedEntry,
                    location: Some(SourceLocation::file(rel_path)),
                    message: "skipped: not a regular file (link or special file)".to_string(),
                });
            }
        }
    }
    Ok(out)
}

fn check_sizes(
    origin: &str,
    path: &str,
    size: u64,
    total: &mut u64,
    limits: &Limits,
) -> Result<(), OlxError> {
    if size > limits.max_file_bytes {
        return Err(OlxError::Archive {
            archive: origin.to_string(),
            message: format!(
                "{path} is {size} bytes, over the {} byte limit per file",
                limits.max_file_bytes
            ),
        });
    }
    *total = total.saturating_add(size);
    if *total > limits.max_total_bytes {
        return Err(OlxError::Archive {
            archive: origin.to_string(),
            message: format!("more than {} bytes in total", limits.max_total_bytes),
        });
    }
    Ok(())
}

fn load_tar_gz(
    path: &Path,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<FileMap, OlxError> {
    let origin = path.display().to_string();
    let io_err = |source: std::io::Error| OlxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let archive_err = |message: String| OlxError::Archive {
        archive: origin.clone(),
        message,
    };
    let mut file = BufReader::new(fs::File::open(path).map_err(io_err)?);
    let mut magic = [0u8; 2];
    let peeked = {
        use std::io::BufRead;
        let buf = file.fill_buf().map_err(io_err)?;
        let n = buf.len().min(2);
        magic[..n].copy_from_slice(&buf[..n]);
        n
    };
    if peeked < 2 || magic != [0x1f, 0x8b] {
        return Err(archive_err(
            "not a folder or a gzip-compressed tar archive (.tar.gz)".to_string(),
        ));
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = FileMap::new();
    let mut entries = 0usize;
    let mut total = 0u64;
    let iter = archive
        .entries()
        .map_err(|e| archive_err(format!("cannot read archive: {e}")))?;
    for entry in iter {
        let mut entry = entry.map_err(|e| archive_err(format!("corrupt archive: {e}")))?;
        entries += 1;
        if entries > limits.max_entries {
            return Err(archive_err(format!(
                "more than {} entries",
                limits.max_entries
            )));
        }
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let rel = safe_relative_path(&origin, &raw_path)?;
        let entry_type = entry.header().entry_type();
        let size = entry.header().size().unwrap_or(0);
        if entry_type.is_dir() {
            continue;
        }
        if entry_type.is_symlink() || entry_type.is_hard_link() {
            warnings.push(Warning {
                kind: WarningKind::SkippedEntry,
                location: Some(SourceLocation::file(rel)),
                message: "skipped: links in archives are ignored".to_string(),
            });
            continue;
        }
        if !(entry_type.is_file() || entry_type.is_contiguous()) {
            // Device files, FIFOs and the like have no place in an export.
            warnings.push(Warning {
                kind: WarningKind::SkippedEntry,
                location: Some(SourceLocation::file(rel)),
                message: "skipped: not a regular file".to_string(),
            });
            continue;
        }
        if under_skipped_dir(&rel) || rel.is_empty() {
            // Still counted, because it still has to be decompressed.
            total = total.saturating_add(size);
            if total > limits.max_total_bytes {
                return Err(archive_err(format!(
                    "more than {} bytes in total",
                    limits.max_total_bytes
                )));
            }
            continue;
        }
        check_sizes(&origin, &rel, size, &mut total, limits)?;
        // `size` comes from the header and is already capped; read at most
        // that much plus one byte to notice a header that lies.
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| archive_err(format!("{rel}: {e}")))?;
        if bytes.len() as u64 > size {
            return Err(archive_err(format!(
                "{rel}: entry is longer than its header says"
            )));
        }
        out.insert(rel, bytes);
    }
    Ok(out)
}

/// Files that mark a course (or library) root.
fn is_root_marker(files: &FileMap, prefix: &str) -> bool {
    files.contains_key(&format!("{prefix}course.xml"))
        || files.contains_key(&format!("{prefix}library.xml"))
        || files
            .range(format!("{prefix}roots/")..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&format!("{prefix}roots/")) && k.ends_with(".xml"))
}

/// Re-roots the map at the course: either the top level holds `course.xml`
/// (or `library.xml`, `roots/`), or everything sits in one top-level folder
/// that does (the usual shape of a Studio export archive).
pub(crate) fn reroot(files: FileMap) -> Result<FileMap, OlxError> {
    if is_root_marker(&files, "") {
        return Ok(files);
    }
    let tops: Vec<&str> = files
        .keys()
        .map(|k| k.split('/').next().unwrap_or(k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let single_folder = tops.len() == 1 && files.keys().all(|k| k.contains('/'));
    if single_folder {
        let prefix = format!("{}/", tops[0]);
        if is_root_marker(&files, &prefix) {
            return Ok(files
                .into_iter()
                .map(|(k, v)| (k[prefix.len()..].to_string(), v))
                .collect());
        }
    }
    let shown: Vec<&str> = tops.iter().take(8).copied().collect();
    Err(OlxError::NoCourseRoot {
        message: format!(
            "expected course.xml, roots/<run>.xml or library.xml at the top level or in a single \
             top-level folder; the top level holds {} entr{}: {}{}",
            tops.len(),
            if tops.len() == 1 { "y" } else { "ies" },
            shown.join(", "),
            if tops.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert_eq!(safe_relative_path("t", "./a/b.xml").unwrap(), "a/b.xml");
        assert_eq!(safe_relative_path("t", "a//b.xml").unwrap(), "a/b.xml");
        for bad in ["/etc/passwd", "a/../../b", "..", "\\x", "C:/x"] {
            assert!(
                matches!(
                    safe_relative_path("t", bad),
                    Err(OlxError::UnsafePath { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn reroot_single_folder() {
        let mut files = FileMap::new();
        files.insert("export/course.xml".into(), b"<course/>".to_vec());
        files.insert("export/problem/p.xml".into(), b"<problem/>".to_vec());
        let rooted = reroot(files).unwrap();
        assert!(rooted.contains_key("course.xml"));
        assert!(rooted.contains_key("problem/p.xml"));

        let mut two = FileMap::new();
        two.insert("a/course.xml".into(), vec![]);
        two.insert("b/course.xml".into(), vec![]);
        let err = reroot(two).unwrap_err().to_string();
        assert!(err.contains("a, b"), "{err}");
    }

    #[test]
    fn skipped_dirs() {
        assert!(under_skipped_dir("static/images/x.png"));
        assert!(under_skipped_dir("course/static/x.png"));
        assert!(under_skipped_dir(".git/config"));
        assert!(!under_skipped_dir("problem/static.xml"));
    }
}
