//! `.tar.gz` exports: read like folders, and hostile archives are refused.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;

use coursetasks_olx::{
    CourseSource, Limits, OlxError, ReadOptions, WarningKind, read_course, read_course_with,
};
use flate2::Compression;
use flate2::write::GzEncoder;

/// Writes a `.tar.gz` whose entries are built by `fill`.
fn write_archive(path: &Path, fill: impl FnOnce(&mut tar::Builder<GzEncoder<File>>)) {
    let gz = GzEncoder::new(File::create(path).unwrap(), Compression::fast());
    let mut builder = tar::Builder::new(gz);
    fill(&mut builder);
    builder
        .into_inner()
        .unwrap()
        .finish()
        .unwrap()
        .flush()
        .unwrap();
}

/// Appends a regular file, writing the name bytes directly so that names the
/// `tar` crate would refuse (`..`, absolute) can be produced.
fn append_raw(builder: &mut tar::Builder<GzEncoder<File>>, name: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

fn tiny_archive(
    dir: &Path,
    extra: impl FnOnce(&mut tar::Builder<GzEncoder<File>>),
) -> std::path::PathBuf {
    let path = dir.join("course.tar.gz");
    write_archive(&path, |b| {
        for (name, data) in common::tiny_course() {
            append_raw(b, &format!("export/{name}"), &data);
        }
        extra(b);
    });
    path
}

#[test]
fn demo_course_tar_gz_reads_like_the_folder() {
    let Some(fixture) = common::demo_fixture() else {
        return;
    };
    let folder = fixture.join("demo-course/course");
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("demo.tar.gz");
    // Studio exports put everything under one top-level folder.
    write_archive(&archive, |b| b.append_dir_all("course", &folder).unwrap());

    let from_folder = read_course(&CourseSource::path(&folder)).unwrap();
    let from_archive = read_course(&CourseSource::path(&archive)).unwrap();
    assert_eq!(from_folder.problems().count(), 29);
    assert_eq!(from_archive, from_folder);
}

#[test]
fn static_files_are_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tiny_archive(tmp.path(), |b| {
        append_raw(b, "export/static/big.bin", &vec![0u8; 4096]);
    });
    // The static file is over the per-file limit, but it is skipped, so the
    // limit does not apply to it.
    let options = ReadOptions {
        limits: Limits {
            max_file_bytes: 1024,
            ..Limits::default()
        },
    };
    let course = read_course_with(&CourseSource::path(&path), &options).unwrap();
    assert_eq!(course.problems().count(), 1);
}

#[test]
fn parent_dir_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tiny_archive(tmp.path(), |b| append_raw(b, "export/../evil.xml", b"<x/>"));
    let err = read_course(&CourseSource::path(&path)).unwrap_err();
    assert!(matches!(err, OlxError::UnsafePath { .. }), "{err}");
    assert!(err.to_string().contains("export/../evil.xml"), "{err}");
}

#[test]
fn absolute_entries_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tiny_archive(tmp.path(), |b| append_raw(b, "/etc/evil.xml", b"<x/>"));
    let err = read_course(&CourseSource::path(&path)).unwrap_err();
    assert!(matches!(err, OlxError::UnsafePath { .. }), "{err}");
}

#[test]
fn links_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tiny_archive(tmp.path(), |b| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        b.append_link(&mut header, "export/problem/link.xml", "/etc/passwd")
            .unwrap();
    });
    let course = read_course(&CourseSource::path(&path)).unwrap();
    let skipped: Vec<_> = course
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::SkippedEntry)
        .collect();
    assert_eq!(skipped.len(), 1, "{:?}", course.warnings);
    assert_eq!(
        skipped[0].location.as_ref().unwrap().file,
        "export/problem/link.xml"
    );
}

#[test]
fn limits_are_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tiny_archive(tmp.path(), |_| {});
    let source = CourseSource::path(&path);
    let limited = |limits: Limits| read_course_with(&source, &ReadOptions { limits });

    let err = limited(Limits {
        max_entries: 3,
        ..Limits::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("more than 3 entries"), "{err}");

    let err = limited(Limits {
        max_file_bytes: 50,
        ..Limits::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("over the 50 byte limit"), "{err}");

    let err = limited(Limits {
        max_total_bytes: 200,
        ..Limits::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("more than 200 bytes in total"),
        "{err}"
    );
}

#[test]
fn not_an_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("notes.txt");
    std::fs::write(&path, "hello").unwrap();
    let err = read_course(&CourseSource::path(&path)).unwrap_err();
    assert!(matches!(err, OlxError::Archive { .. }), "{err}");

    let path = tmp.path().join("truncated.tar.gz");
    std::fs::write(&path, [0x1f, 0x8b, 0x08, 0x00, 0x00]).unwrap();
    assert!(read_course(&CourseSource::path(&path)).is_err());

    let missing = tmp.path().join("absent");
    assert!(matches!(
        read_course(&CourseSource::path(&missing)).unwrap_err(),
        OlxError::Io { .. }
    ));
}

#[test]
fn folder_links_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, data) in common::tiny_course() {
        let path = tmp.path().join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc", tmp.path().join("problem/etc")).unwrap();
    let course = read_course(&CourseSource::path(tmp.path())).unwrap();
    assert_eq!(course.problems().count(), 1);
    #[cfg(unix)]
    assert_eq!(course.warnings[0].kind, WarningKind::SkippedEntry);
}
