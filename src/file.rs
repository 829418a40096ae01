//! Every file terminus reads or writes goes through here, so that no caller can forget a bound or a check.
//!
//! - [`read`] and [`read_text`]: a regular file only (a FIFO, socket or device is refused without blocking: the file
//!   is opened non-blocking and its type checked on the open file), at most `max` bytes (a larger one is refused,
//!   not truncated), with an error that names the file.
//! - [`write_new`]: a file that a reader sees whole or not at all, written into a temporary file created new
//!   (exclusive, not following links) beside the destination and renamed over it. A symbolic link planted at the
//!   destination is refused and never written through.
//! - [`append`]: an append-only file (logs, ledgers), opened without following a link at its name; a link or
//!   anything but a regular file there is refused.
//!
//! The errors say what and where (`cannot read ledger.jsonl: not a regular file (a FIFO, socket or device)`) and
//! never quote the file's content.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// A file that could not be read or written: the path, what was being done, and why.
#[derive(Debug)]
pub struct FileError {
    path: PathBuf,
    doing: &'static str,
    source: std::io::Error,
}

impl FileError {
    fn new(path: &Path, doing: &'static str, source: std::io::Error) -> Self {
        Self {
            path: path.to_owned(),
            doing,
            source,
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind of the underlying I/O error (`InvalidData` for a refused file type or size).
    pub fn kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.doing,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn refused(why: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.into())
}

/// Reads a regular file of at most `max` bytes.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    read_bytes(path, max).map_err(|source| FileError::new(path, "read", source))
}

/// Reads a regular UTF-8 text file of at most `max` bytes.
pub fn read_text(path: &Path, max: u64) -> Result<String, FileError> {
    let bytes = read(path, max)?;
    String::from_utf8(bytes).map_err(|_| FileError::new(path, "read", refused("not UTF-8 text")))
}

fn read_bytes(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(if meta.is_dir() {
            "a directory, not a file"
        } else {
            "not a regular file (a FIFO, socket or device)"
        }));
    }
    if meta.len() > max {
        return Err(refused(format!("larger than {max} bytes")));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(refused(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` whole: into a new temporary file beside it (created exclusively, never through a
/// link), then renamed over it. A symbolic link at `path` is refused, and its target left untouched. The
/// directory must exist; see [`write_new_creating_dirs`].
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_whole(path, bytes).map_err(|source| FileError::new(path, "write", source))
}

/// [`write_new`], making the file's directory first.
pub fn write_new_creating_dirs(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| FileError::new(path, "write", source))?;
    }
    write_new(path, bytes)
}

fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    refuse_link_or_special(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| refused("names no file"))?
        .to_owned();
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut attempt = 0u32;
    let (temporary, mut file) = loop {
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(&name);
        temporary_name.push(format!(".{}.{attempt}.tmp", std::process::id()));
        let temporary = dir.join(temporary_name);
        match create_exclusive(&temporary) {
            Ok(file) => break (temporary, file),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 64 => {
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    };
    let written = file.write_all(bytes).and_then(|()| file.flush());
    drop(file);
    // rename(2) replaces the name itself: a link planted at `path` after the check above is replaced, not
    // followed.
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed
}

fn create_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
    }
    options.open(path)
}

/// Refuses a symbolic link, or anything but a regular file, at `path`; nothing there is fine.
fn refuse_link_or_special(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(refused(
            "a symbolic link is there; not written through (remove it, or name another file)",
        )),
        Ok(meta) if !meta.is_file() => Err(refused(
            "something other than a regular file is there (a directory, FIFO, socket or device)",
        )),
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Opens `path` for appending, creating it if it is not there. A symbolic link at `path`, or anything but a
/// regular file, is refused.
pub fn append(path: &Path) -> Result<std::fs::File, FileError> {
    open_append(path).map_err(|source| FileError::new(path, "append to", source))
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    refuse_link_or_special(path)?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK,
    );
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(refused("not a regular file (a FIFO, socket or device)"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_cap_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        std::fs::write(&path, vec![b'a'; 11]).unwrap();
        let error = read(&path, 10).unwrap_err();
        assert!(error.to_string().contains("big.toml"), "{error}");
        assert!(
            error.to_string().contains("larger than 10 bytes"),
            "{error}"
        );
        assert_eq!(read(&path, 11).unwrap().len(), 11);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_and_a_device_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let error = read(&fifo, 1024).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let error = read(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let error = append(&fifo).unwrap_err();
        assert!(error.to_string().contains("FIFO"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let link = dir.path().join("out.xml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = write_new(&link, b"overwritten").unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        let error = append(&link).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn a_written_file_replaces_the_old_one_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("report.json");
        write_new_creating_dirs(&path, b"first").unwrap();
        write_new(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
    }
}
