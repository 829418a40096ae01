//! Where `terminus run` (and `terminus scenarios`) take their cases from: the set built into the binary, so that an
//! installed `terminus` runs anywhere without the source tree; a cases directory given with `--cases`; or case
//! files named one by one (`terminus run cases/tencent/terminate-instances/x.toml`). Every source yields its cases
//! sorted by id, each read or with the reason it could not be.

use std::path::{Component, Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

use super::{LoadError, Loaded, MAX_CASE_BYTES, discover, load, parse, read_bounded};

/// The repository's `cases/`, as it was when the binary was built (`build.rs` rebuilds when it changes).
static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/cases");

/// Where cases come from.
#[derive(Clone, Debug)]
pub enum CaseSource {
    /// The cases built into the binary; their files are named `cases/<provider>/<action>/<scenario>.toml`.
    Embedded,
    /// Every case below a cases directory.
    Directory(PathBuf),
    /// These case files, each at `…/<provider>/<action>/<scenario>.toml`.
    Files(Vec<PathBuf>),
}

/// One case of a source: its id and file, and the case or why it cannot be used.
#[derive(Debug)]
pub struct Found {
    /// The case id (`tencent/terminate-instances/x`), also for a file that cannot be read.
    pub id: String,
    /// The file, as named to the user.
    pub file: PathBuf,
    /// The case, or why it cannot be used.
    pub loaded: Result<Loaded, LoadError>,
}

impl CaseSource {
    /// What the source is, in words (`the built-in cases`, `cases directory x`).
    pub fn describe(&self) -> String {
        match self {
            CaseSource::Embedded => "the built-in cases".to_owned(),
            CaseSource::Directory(dir) => format!("cases directory {}", dir.display()),
            CaseSource::Files(files) if files.len() == 1 => {
                format!("case file {}", files[0].display())
            }
            CaseSource::Files(files) => format!("{} case files", files.len()),
        }
    }

    /// Every case, sorted by id (a file named twice counts once; two files never merge, even when names that are
    /// not UTF-8 give them one id).
    pub fn cases(&self) -> Vec<Found> {
        let mut found: Vec<Found> = match self {
            CaseSource::Embedded => embedded()
                .into_iter()
                .map(|(relative, text)| {
                    let file = Path::new("cases").join(&relative);
                    let loaded = match text {
                        Some(text) => parse(&relative, &file, text),
                        None => Err(LoadError::Invalid {
                            path: file.clone(),
                            why: "not UTF-8".to_owned(),
                        }),
                    };
                    Found {
                        id: id_of(&relative),
                        file,
                        loaded,
                    }
                })
                .collect(),
            CaseSource::Directory(root) => discover(root)
                .into_iter()
                .map(|path| Found {
                    id: id_of(path.strip_prefix(root).unwrap_or(&path)),
                    loaded: load(root, &path),
                    file: path,
                })
                .collect(),
            CaseSource::Files(files) => files
                .iter()
                .map(|path| {
                    let relative = last_three(path);
                    let loaded = match read_bounded(path, MAX_CASE_BYTES) {
                        Ok(text) => parse(&relative, path, &text),
                        // Too large, not UTF-8, not a regular file: the reason is the point.
                        Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                            Err(LoadError::Invalid {
                                path: path.clone(),
                                why: error.to_string(),
                            })
                        }
                        Err(source) => Err(LoadError::Read {
                            path: path.clone(),
                            source,
                        }),
                    };
                    Found {
                        id: id_of(&relative),
                        file: path.clone(),
                        loaded,
                    }
                })
                .collect(),
        };
        found.sort_by(|a, b| (&a.id, &a.file).cmp(&(&b.id, &b.file)));
        found.dedup_by(|a, b| a.file == b.file);
        found
    }
}

/// The embedded case files three levels down, as (path below `cases/`, text if UTF-8).
fn embedded() -> Vec<(PathBuf, Option<&'static str>)> {
    let mut files = Vec::new();
    let mut pending: Vec<(&Dir<'static>, usize)> = vec![(&EMBEDDED, 0)];
    while let Some((dir, depth)) = pending.pop() {
        for entry in dir.entries() {
            match entry {
                DirEntry::Dir(child) if depth < 2 => pending.push((child, depth + 1)),
                DirEntry::File(file)
                    if depth == 2 && file.path().extension().is_some_and(|ext| ext == "toml") =>
                {
                    files.push((file.path().to_path_buf(), file.contents_utf8()));
                }
                _ => {}
            }
        }
    }
    files
}

/// `tencent/terminate-instances/x.toml` → `tencent/terminate-instances/x`, with `/` on every platform.
fn id_of(relative: &Path) -> String {
    relative
        .with_extension("")
        .components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The last three components of a case file's path (`<provider>/<action>/<scenario>.toml`), or all it has.
fn last_three(path: &Path) -> PathBuf {
    let names: Vec<_> = path
        .components()
        .filter(|component| matches!(component, Component::Normal(_)))
        .collect();
    names[names.len().saturating_sub(3)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_cases_are_the_repository_cases() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
        let mut on_disk: Vec<String> = discover(&root)
            .iter()
            .map(|path| id_of(path.strip_prefix(&root).unwrap()))
            .filter(|id| id.matches('/').count() == 2)
            .collect();
        // Sources list by id (`tencent-legacy/…` before `tencent/…`), paths sort by component.
        on_disk.sort();
        let embedded: Vec<Found> = CaseSource::Embedded.cases();
        let ids: Vec<&str> = embedded.iter().map(|found| found.id.as_str()).collect();
        assert_eq!(ids, on_disk);
        assert!(embedded.iter().all(|found| found.loaded.is_ok()));
    }

    #[test]
    fn a_file_named_alone_keeps_its_id() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("cases/tencent/terminate-instances/already-terminated-instance-is-refused.toml");
        let found = CaseSource::Files(vec![path]).cases();
        assert_eq!(
            found[0].id,
            "tencent/terminate-instances/already-terminated-instance-is-refused"
        );
        found[0].loaded.as_ref().expect("a committed case");
    }
}
