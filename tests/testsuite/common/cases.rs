//! Case trees written for a test: a directory of case files the binary is pointed at with `--cases`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The head every hand-written case starts with.
pub(crate) const HEAD: &str =
    "title = \"t\"\nsource = { doc = \"d\", quote = \"q\" }\nlive = \"safe\"\n";

/// A case that passes against the mock: an unknown instance is not found.
pub(crate) fn passing() -> String {
    format!(
        "{HEAD}\n[[step]]\nparams = {{ InstanceIds = [\"ins-nosuch01\"] }}\nexpect.error = \"InvalidInstanceId.NotFound\"\n"
    )
}

/// A cases directory of its own under the test target's temporary directory, removed when dropped.
pub(crate) struct CaseTree {
    /// The directory: `--cases` takes it.
    pub(crate) root: PathBuf,
}

impl CaseTree {
    /// `<area>/<name>-<pid>`, holding these `(id, TOML)` cases (`tencent/terminate-instances/good` is written to
    /// `tencent/terminate-instances/good.toml`).
    pub(crate) fn new(area: &str, name: &str, cases: &[(&str, &str)]) -> Self {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(area)
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("a scratch cases directory");
        for (id, text) in cases {
            let path = root.join(format!("{id}.toml"));
            std::fs::create_dir_all(path.parent().unwrap()).expect("a scratch cases directory");
            std::fs::write(path, text).expect("a case file");
        }
        Self { root }
    }

    /// `terminus run --cases <root>` plus `extra`.
    pub(crate) fn run(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_terminus"))
            .arg("run")
            .arg("--cases")
            .arg(&self.root)
            .args(extra)
            .output()
            .expect("the terminus binary runs")
    }
}

impl Drop for CaseTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
