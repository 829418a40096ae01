//! The conformance cases (`cases/**/*.toml`), one trial per case against a fresh embedded mock, with each
//! case's exchanges snapshotted under `snapshots/<provider>/<action>/<scenario>@mock.snap`.
//! `cargo test --test conformance -- <filter>`, `--list` and `--ignored` work as usual.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use terminus::case;
use terminus::harness::{self, Outcome, Target, snapshot};

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let trials = case::discover(&root)
        .into_iter()
        .map(|path| {
            let id = path
                .strip_prefix(&root)
                .expect("under cases/")
                .with_extension("")
                .display()
                .to_string();
            let (root, handle) = (root.clone(), runtime.handle().clone());
            Trial::test(id, move || run(&root, &path, &handle)).with_kind("mock")
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn run(root: &Path, path: &PathBuf, runtime: &tokio::runtime::Handle) -> Result<(), Failed> {
    let loaded = case::load(root, path).map_err(|error| error_chain(&error))?;
    let run = runtime.block_on(harness::run_case(&loaded, &Target::Mock));
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(loaded.provider.name())
        .join(&loaded.action);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshots);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_suffix("mock");
    settings.set_input_file(path);
    settings.set_omit_expression(true);
    settings.set_description(loaded.case.title.clone());
    if let Some((step, message)) = run.outcome.problem() {
        let kind = if matches!(run.outcome, Outcome::Error { .. }) {
            "error"
        } else {
            "failed"
        };
        return Err(format!("{kind} at step {step}: {message}").into());
    }
    settings.bind(|| {
        insta::assert_snapshot!(loaded.scenario.as_str(), snapshot::render(&run.exchanges))
    });
    Ok(())
}

/// An error and its causes, as one message.
fn error_chain(error: &dyn std::error::Error) -> Failed {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message.into()
}
