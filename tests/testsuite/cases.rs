//! The case format's promises: the committed schema is the format's, every documented code has a case or a
//! reason, the catalog of documented codes is the seeds' own list, and a bad case file is reported with its path,
//! line and field without hiding the other cases.

use std::path::{Path, PathBuf};

use terminus::case;
use terminus::coverage::{self, Catalog};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A file of the outside evidence copied into the repository (`tests/data/README.md` gives each one's source), read
/// whole: the tests compare the catalog and the mock's messages with it, so a missing copy is a failure.
fn evidence(path: &str) -> String {
    terminus::file::read_text(&repo("tests/data").join(path), 1 << 20)
        .unwrap_or_else(|e| panic!("{e}"))
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
        // Beside the build (CARGO_TARGET_DIR may be outside the checkout, as in .ci/run).
        let new = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schema.json.new");
        std::fs::write(&new, &current).ok();
        panic!(
            "schema.json is out of date: compare with {} and commit it if the format change is meant",
            new.display()
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
    let text = evidence(&format!("seeds/{file}"));
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
    let text = evidence("seeds/001_708a1ee6f76f4ff2.txt");
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
    let chinese = evidence("seeds/002_84c38883e6968698.txt");
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
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let dir = root.join("tencent/terminate-instances");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("typo.toml");
    std::fs::write(&path, "title = \"t\"\nsource = { doc = \"d\", quote = \"q\" }\nlive = \"safe\"\n\n[[step]]\nparms = {}\n").unwrap();
    let error = case::load(root, &path).unwrap_err().to_string();
    assert!(error.contains("typo.toml"), "{error}");
    assert!(error.contains("line 6"), "{error}");
    assert!(error.contains("unknown field `parms`"), "{error}");

    std::fs::write(&path, "title = \"t\"\nsource = { doc = \"d\", quote = \"q\" }\nlive = \"safe\"\ncovers = [\"X\"]\n\n[[step]]\n").unwrap();
    let error = case::load(root, &path).unwrap_err().to_string();
    assert!(
        error.contains("covers \"X\", but no step's expect.error is \"X\""),
        "{error}"
    );
}

#[test]
fn a_bad_case_file_fails_alone_in_terminus_run() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
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
        .arg(root)
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

/// The raw TOML of a case file: what its world sets, before defaults are filled in.
fn raw_world(loaded: &case::Loaded) -> toml::Table {
    let text = std::fs::read_to_string(&loaded.path).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table
        .get("world")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default()
}

/// Whether a world sets `field` (`instances.unreturnable`) on any entry of its list.
fn sets(world: &toml::Table, field: &str) -> bool {
    let (list, key) = field.split_once('.').expect("a switch names list.field");
    world
        .get(list)
        .and_then(toml::Value::as_array)
        .is_some_and(|entries| {
            entries
                .iter()
                .any(|entry| entry.as_table().is_some_and(|t| t.contains_key(key)))
        })
}

/// How one covering case reaches `code`: any injected fault makes it a fault case; a world flag that exists to
/// produce the code makes it a switch; otherwise the mock derived it from state and input.
fn reached_by(catalog: &Catalog, loaded: &case::Loaded, code: &str) -> coverage::Proof {
    let world = raw_world(loaded);
    if world
        .get("faults")
        .and_then(toml::Value::as_array)
        .is_some_and(|faults| !faults.is_empty())
    {
        coverage::Proof::Fault
    } else if catalog
        .switches
        .iter()
        .any(|switch| switch.codes.iter().any(|c| c == code) && sets(&world, &switch.field))
    {
        coverage::Proof::Switch
    } else {
        coverage::Proof::Behaviour
    }
}

#[test]
fn every_rows_proof_is_the_strongest_way_a_covering_case_reaches_it() {
    let catalog = Catalog::load(&repo("cases/documented-codes.toml")).unwrap();
    let cases = all_cases();
    let mut wrong = Vec::new();
    for row in coverage::coverage(&catalog, &cases) {
        let shown = row
            .cases
            .iter()
            .map(|id| {
                let loaded = cases.iter().find(|case| &case.id == id).unwrap();
                reached_by(&catalog, loaded, &row.code)
            })
            .max()
            .unwrap_or(coverage::Proof::Reason);
        if shown != row.proof {
            wrong.push(format!(
                "{} {}: the catalog says {}, its cases show {}",
                row.provider,
                row.code,
                row.proof.name(),
                shown.name()
            ));
        }
        if (row.proof == coverage::Proof::Reason) != row.message_source.is_none() {
            wrong.push(format!(
                "{} {}: a message source is given exactly when a case reaches the code",
                row.provider, row.code
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // A switch no case sets is a typo or a dead flag: either way it would let a switch case pass as behaviour.
    for switch in &catalog.switches {
        assert!(
            cases
                .iter()
                .any(|case| sets(&raw_world(case), &switch.field)),
            "no case's world sets the switch {}",
            switch.field
        );
    }
}

/// Every `(provider, code) → messages` the mock answers across all cases.
fn messages_of_every_case() -> std::collections::BTreeMap<(String, String), Vec<String>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut found: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for loaded in all_cases() {
        let run = runtime.block_on(terminus::harness::run_case(
            &loaded,
            &terminus::harness::Target::Mock,
        ));
        for exchange in &run.exchanges {
            let Ok(response) = &exchange.response else {
                continue;
            };
            let Ok(body) = serde_json::from_slice::<serde_json::Value>(&response.body) else {
                continue;
            };
            if let Some((code, message)) = error_of(&body) {
                let messages = found
                    .entry((loaded.provider.name().to_owned(), code))
                    .or_default();
                if !messages.contains(&message) {
                    messages.push(message);
                }
            }
        }
    }
    found
}

/// The code and message of an error answer in any of the three envelopes: API 3.0's `Response.Error`, the 2.0
/// gateway's `codeDesc`/`message`, Zenlayer's `code`/`message`.
fn error_of(body: &serde_json::Value) -> Option<(String, String)> {
    let error = &body["Response"]["Error"];
    if let (Some(code), Some(message)) = (error["Code"].as_str(), error["Message"].as_str()) {
        return Some((code.to_owned(), message.to_owned()));
    }
    let code = body["codeDesc"].as_str().or(body["code"].as_str())?;
    Some((code.to_owned(), body["message"].as_str()?.to_owned()))
}

/// Code → messages of the real answers recorded in `real-wire.md` (its YAML samples' `code` and `message`).
fn recorded_messages() -> Vec<(String, String)> {
    let text = evidence("reference/real-wire.md");
    let field = |sample: &str, name: &str| -> Option<String> {
        let line = sample
            .lines()
            .find(|line| line.starts_with(&format!("  {name}: ")))?;
        serde_json::from_str(line.split_once(": ")?.1).ok()
    };
    text.split("\n- id: ")
        .skip(1)
        .filter_map(|sample| Some((field(sample, "code")?, field(sample, "message")?)))
        .collect()
}

/// The text with every backtick-quoted value replaced by `…`: a message template.
fn template(text: &str) -> String {
    let mut out = String::new();
    for (index, part) in text.split('`').enumerate() {
        if index % 2 == 1 {
            out.push_str("`…`");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Backticks dropped, whitespace collapsed, trailing colons and full stops trimmed.
fn plain(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .join(" ")
        .replace('`', "")
        .trim_end_matches([' ', ':', '.'])
        .to_owned()
}

/// The message with the quoted values that `line` does not hold taken out (with the colon before them): what is
/// left is the description, if the documentation gave it.
fn described(message: &str, line: &str) -> String {
    let mut out = String::new();
    for (index, part) in message.split('`').enumerate() {
        if index % 2 == 0 {
            out.push_str(part);
        } else if line.contains(part) {
            out.push_str(&format!("`{part}`"));
        } else {
            out.truncate(out.trim_end().len());
            if out.ends_with(':') {
                out.pop();
            }
            out.truncate(out.trim_end().len());
        }
    }
    plain(&out)
}

fn source_of(
    code: &str,
    message: &str,
    recorded: &[(String, String)],
    documentation: &[String],
) -> coverage::MessageSource {
    if recorded
        .iter()
        .any(|(c, m)| c == code && template(m) == template(message))
    {
        return coverage::MessageSource::Recorded;
    }
    let documented = documentation
        .iter()
        .filter(|line| line.contains(code))
        .any(|line| {
            let description = described(message, line);
            let rest = line.split_once(' ').map_or("", |(_, rest)| rest);
            !description.is_empty()
                && line
                    .split(['|', '\t'])
                    .chain([rest])
                    .any(|cell| plain(cell) == description)
        });
    if documented {
        coverage::MessageSource::Documentation
    } else {
        coverage::MessageSource::Terminus
    }
}

/// The documentation copied into `tests/data`, as the message-source check reads it.
const DOCUMENTS: [&str; 7] = [
    "seeds/000_d651e9acab4281ee.txt",
    "seeds/001_708a1ee6f76f4ff2.txt",
    "seeds/002_84c38883e6968698.txt",
    "seeds/003_fa23fe262b9ae3b1.txt",
    "seeds/004_42ae58e99caaea17.txt",
    "reference/tencent-api-errors.md",
    "reference/zenlayer-api-errors.md",
];

#[test]
fn every_rows_message_source_is_what_the_documents_and_recordings_show() {
    // The documents' words: the five seeds whole, and the error-code sections of the reference pages the catalog
    // cites (the recordings are the other source, not documentation).
    let mut documentation = Vec::new();
    for file in DOCUMENTS {
        let text = evidence(file);
        documentation.extend(text.lines().map(|line| line.replace("\\_", "_")));
    }
    let recorded = recorded_messages();
    assert!(recorded.len() >= 20, "real-wire.md's samples did not parse");
    let messages = messages_of_every_case();
    let catalog = Catalog::load(&repo("cases/documented-codes.toml")).unwrap();
    let mut wrong = Vec::new();
    for row in coverage::coverage(&catalog, &all_cases()) {
        if row.cases.is_empty() {
            continue;
        }
        let key = (row.provider.clone(), row.code.clone());
        let Some(said) = messages.get(&key) else {
            wrong.push(format!(
                "{} {}: no case's answer carries it",
                row.provider, row.code
            ));
            continue;
        };
        let weakest = said
            .iter()
            .map(|message| source_of(&row.code, message, &recorded, &documentation))
            .min();
        if weakest != row.message_source {
            wrong.push(format!(
                "{} {}: the catalog says {:?}, the messages {said:?} are {:?}",
                row.provider, row.code, row.message_source, weakest
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_message_source_is_told_from_the_words_not_the_quoted_values() {
    let recorded = vec![(
        "InvalidInstanceId.NotFound".to_owned(),
        "The specified instance ID `['ins-jnoiqr60']` is not found.".to_owned(),
    )];
    let documentation = vec![
        "FailedOperation.Unreturnable The instance is unreturnable.".to_owned(),
        "| 403 | OPERATION_DENIED_INSTANCE_CREATING | Operations on instances in `CREATING` status are not supported. |"
            .to_owned(),
    ];
    let source = |code: &str, message: &str| source_of(code, message, &recorded, &documentation);
    use coverage::MessageSource::{Documentation, Recorded, Terminus};
    assert_eq!(
        source(
            "InvalidInstanceId.NotFound",
            "The specified instance ID `['ins-00000000']` is not found."
        ),
        Recorded
    );
    assert_eq!(
        source(
            "InvalidInstanceId.NotFound",
            "No instance found: `ins-00000000`."
        ),
        Terminus
    );
    assert_eq!(
        source(
            "FailedOperation.Unreturnable",
            "The instance `ins-unret001` is unreturnable."
        ),
        Documentation
    );
    assert_eq!(
        source(
            "OPERATION_DENIED_INSTANCE_CREATING",
            "Operations on instances in CREATING status are not supported: `5642`."
        ),
        Documentation
    );
    assert_eq!(
        source(
            "OPERATION_DENIED_INSTANCE_CREATING",
            "Operations on instances in PENDING status are not supported: `5642`."
        ),
        Terminus
    );
    // The words of another code's line do not count.
    assert_eq!(
        source("FailedOperation.Other", "The instance is unreturnable."),
        Terminus
    );
}

/// The codes and statuses `src/provider/zenlayer/wire.rs` marks as terminus's choice: a constant whose doc comment
/// says "(chosen)" or "status … chosen".
fn zenlayer_choices() -> Vec<String> {
    let source = std::fs::read_to_string(repo("src/provider/zenlayer/wire.rs")).unwrap();
    let mut comment = String::new();
    let mut chosen = Vec::new();
    for line in source.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            comment.push_str(text);
        } else {
            if line.starts_with("pub const ")
                && comment.contains("chosen")
                && let Some(code) = line.split('"').nth(1)
            {
                chosen.push(code.to_owned());
            }
            comment.clear();
        }
    }
    chosen
}

#[test]
fn every_zenlayer_case_that_asserts_a_code_terminus_chose_says_so_in_its_title() {
    let chosen = zenlayer_choices();
    assert!(
        chosen.len() >= 12,
        "wire.rs's (chosen) marks did not parse: {chosen:?}"
    );
    let silent: Vec<String> = all_cases()
        .into_iter()
        .filter(|loaded| loaded.provider.name() == "zenlayer-bmc")
        .filter(|loaded| {
            loaded.case.steps.iter().any(|step| {
                step.expect
                    .error
                    .as_ref()
                    .is_some_and(|code| chosen.contains(code))
            })
        })
        .filter(|loaded| !loaded.case.title.contains("terminus's choice"))
        .map(|loaded| format!("{}: {}", loaded.id, loaded.case.title))
        .collect();
    assert!(silent.is_empty(), "{silent:#?}");
}

#[test]
fn coverage_json_rows_carry_their_proof_and_message_source() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["coverage", "--format", "json", "--cases"])
        .arg(repo("cases"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), 101);
    for row in &rows {
        assert!(
            ["behaviour", "switch", "fault", "reason"]
                .contains(&row["proof"].as_str().unwrap_or("")),
            "{row}"
        );
        assert!(
            ["documentation", "recorded", "terminus"]
                .contains(&row["message-source"].as_str().unwrap_or("")),
            "{row}"
        );
    }
    let unreturnable = rows
        .iter()
        .find(|row| row["code"] == "FailedOperation.Unreturnable")
        .unwrap();
    assert_eq!(
        (&unreturnable["proof"], &unreturnable["message-source"]),
        (
            &serde_json::json!("switch"),
            &serde_json::json!("documentation")
        )
    );
    let markdown = std::process::Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["coverage", "--cases"])
        .arg(repo("cases"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&markdown.stdout);
    assert!(
        text.contains("Proved by behaviour (the mock derives them from state and input): 75; only through a world switch that exists to produce them: 21; only by an injected fault: 5"),
        "{text}"
    );
}
