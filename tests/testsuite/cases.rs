//! The case format's promises: the committed schema is the format's, every documented code has a case or a
//! reason, the catalog of documented codes is the seeds' own list, and a bad case file is reported with its path,
//! line and field without hiding the other cases.

use std::path::{Path, PathBuf};

use terminus::case;
use terminus::coverage::{self, Catalog};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn all_cases() -> Vec<case::Loaded> {
    let root = repo("cases");
    case::discover(&root)
        .iter()
        .map(|path| case::load(&root, path).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn the_committed_schema_is_the_case_formats() {
    let committed = std::fs::read_to_string(repo("schema.json")).unwrap_or_default();
    let current = serde_json::to_string_pretty(&case::schema()).unwrap() + "\n";
    if committed != current {
        std::fs::write(repo("target/schema.json.new"), &current).ok();
        panic!(
            "schema.json is out of date: compare with target/schema.json.new and commit it if the format change is meant"
        );
    }
}

#[test]
fn every_documented_code_has_a_case_or_a_reason() {
    let catalog = Catalog::load(&repo("cases/documented-codes.toml")).unwrap();
    let rows = coverage::coverage(&catalog, &all_cases());
    let gaps: Vec<String> = rows
        .iter()
        .filter(|row| row.is_gap())
        .map(|row| format!("{} {}", row.provider, row.code))
        .collect();
    assert!(
        gaps.is_empty(),
        "documented codes with neither a case nor a reason: {gaps:#?}"
    );
}

#[test]
fn at_least_40_of_the_46_terminate_instances_codes_have_a_case() {
    let catalog = Catalog::load(&repo("cases/documented-codes.toml")).unwrap();
    let rows = coverage::coverage(&catalog, &all_cases());
    let seed_001: Vec<_> = rows
        .iter()
        .filter(|row| row.source == "001_708a1ee6f76f4ff2.txt")
        .collect();
    assert_eq!(seed_001.len(), 46);
    let covered = seed_001.iter().filter(|row| !row.cases.is_empty()).count();
    assert!(
        covered >= 40,
        "only {covered} of 46 codes of seed 001 have a case"
    );
}

#[test]
fn every_code_a_case_covers_is_documented() {
    let catalog = Catalog::load(&repo("cases/documented-codes.toml")).unwrap();
    for loaded in all_cases() {
        for code in &loaded.case.covers {
            assert!(
                catalog
                    .codes
                    .iter()
                    .any(|documented| documented.provider == loaded.provider.name()
                        && &documented.code == code),
                "{} covers {code}, which no document lists for {}",
                loaded.id,
                loaded.provider.name()
            );
        }
    }
}

/// The codes in a seed's error-code section (between `start` and `end`), read with a parser of its own (not the
/// script that wrote the catalog): the first cell of each table row, or the second when the first is an HTTP status.
fn seed_codes(file: &str, start: &str, end: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo("../shared/seeds").join(file)).unwrap();
    let section = text
        .split(start)
        .nth(1)
        .unwrap_or_default()
        .split(end)
        .next()
        .unwrap_or_default();
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .trim_start_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            let cell = if cells.first()?.parse::<u16>().is_ok() {
                cells.get(1)?
            } else {
                cells.first()?
            };
            let token = cell.replace("\\_", "_");
            let is_code = cells.len() > 1
                && !token.contains(' ')
                && token.chars().next().is_some_and(|c| c.is_ascii_uppercase());
            is_code.then_some(token)
        })
        .collect()
}

#[test]
fn the_catalog_lists_exactly_the_codes_of_each_seeds_error_table() {
    // The seeds are the ground truth this test checks the catalog against: without them it proves nothing, so it
    // fails rather than pass unchecked (CI always has ../shared beside the clone).
    assert!(
        repo("../shared/seeds").is_dir(),
        "../shared/seeds is not beside this checkout ({}): the catalog cannot be checked against the seeds",
        repo("../shared/seeds").display()
    );
    let catalog = Catalog::load(&repo("cases/documented-codes.toml")).unwrap();
    for (file, start, end) in [
        ("000_d651e9acab4281ee.txt", "## 4. Error Codes", "## 5."),
        ("003_fa23fe262b9ae3b1.txt", "## 6. Error Codes", "\u{0}"),
        ("004_42ae58e99caaea17.txt", "## 4. Error Codes", "## 5."),
    ] {
        let from_seed = seed_codes(file, start, end);
        let listed: Vec<String> = catalog
            .codes
            .iter()
            .filter(|c| c.source == file)
            .map(|c| c.code.clone())
            .collect();
        assert_eq!(listed, from_seed, "{file}");
    }
    // Seed 001's table is prose lines (`Code Description`) between its header and the page footer.
    let text = std::fs::read_to_string(repo("../shared/seeds/001_708a1ee6f76f4ff2.txt")).unwrap();
    let table = text
        .split("Error Code Description")
        .nth(1)
        .unwrap()
        .split("Help and Support")
        .next()
        .unwrap();
    let from_seed: Vec<String> = table
        .lines()
        .filter_map(|line| line.split(' ').next())
        .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .map(str::to_owned)
        .collect();
    let listed: Vec<String> = catalog
        .codes
        .iter()
        .filter(|c| c.source == "001_708a1ee6f76f4ff2.txt")
        .map(|c| c.code.clone())
        .collect();
    assert_eq!(listed, from_seed);
    // Seed 002 (the Chinese edition) lists the same 46 codes.
    let chinese =
        std::fs::read_to_string(repo("../shared/seeds/002_84c38883e6968698.txt")).unwrap();
    let table = chinese.split("错误码\t描述").nth(1).unwrap();
    let from_002: Vec<String> = table
        .lines()
        .filter_map(|line| line.split('\t').next())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, from_002);
}

#[test]
fn a_bad_case_file_names_its_path_line_and_field() {
    let root = std::env::temp_dir().join(format!("terminus-bad-case-{}", std::process::id()));
    let dir = root.join("tencent/terminate-instances");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("typo.toml");
    std::fs::write(&path, "title = \"t\"\nsource = { doc = \"d\", quote = \"q\" }\nlive = \"safe\"\n\n[[step]]\nparms = {}\n").unwrap();
    let error = case::load(&root, &path).unwrap_err().to_string();
    assert!(error.contains("typo.toml"), "{error}");
    assert!(error.contains("line 6"), "{error}");
    assert!(error.contains("unknown field `parms`"), "{error}");

    std::fs::write(&path, "title = \"t\"\nsource = { doc = \"d\", quote = \"q\" }\nlive = \"safe\"\ncovers = [\"X\"]\n\n[[step]]\n").unwrap();
    let error = case::load(&root, &path).unwrap_err().to_string();
    assert!(
        error.contains("covers \"X\", but no step's expect.error is \"X\""),
        "{error}"
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_bad_case_file_fails_alone_in_terminus_run() {
    let root = std::env::temp_dir().join(format!("terminus-run-bad-{}", std::process::id()));
    let dir = root.join("tencent/terminate-instances");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo("cases/tencent/terminate-instances/unknown-instance-is-not-found.toml"),
        dir.join("good.toml"),
    )
    .unwrap();
    std::fs::write(dir.join("broken.toml"), "title = 3\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_terminus"))
        .arg("run")
        .arg("--cases")
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ok   tencent/terminate-instances/good"),
        "{stdout}"
    );
    assert!(stdout.contains("broken.toml"), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed, 1 error"), "{stdout}");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_world_file_error_never_quotes_the_line_that_holds_a_key() {
    let text =
        "[[accounts]]\nsecret-id = \"AKIDx\"\nsecret-kye = \"Gu5t9xGARNpq86cd98joQYCN3EXAMPLE\"\n";
    let error = terminus::world::WorldSpec::from_toml(text, "world.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("world.toml: line 3, column 1: unknown field `secret-kye`"),
        "{error}"
    );
    assert!(
        !error.contains("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
        "{error}"
    );
}

#[test]
fn every_shared_situation_names_a_real_case_under_every_provider() {
    let catalog = Catalog::load(&repo("cases/documented-codes.toml")).unwrap();
    let rows =
        coverage::equivalents(&catalog, &all_cases()).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        rows.len() >= 7,
        "the seven shared scenarios of the providers issue, at least"
    );
    for row in rows {
        let providers: Vec<&str> = row.codes.keys().map(String::as_str).collect();
        assert_eq!(
            providers,
            ["tencent", "tencent-legacy", "zenlayer-bmc"],
            "{}",
            row.scenario
        );
    }
}
