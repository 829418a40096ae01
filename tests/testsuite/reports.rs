//! What CI test reporters read from `terminus run --junit` (Jenkins, GitLab, the GitHub Actions JUnit reporters):
//! a file valid against the Jenkins xUnit plugin's JUnit schema (`tests/junit/`), with `classname`, `file`, the
//! suite's `timestamp` and `time`, and for a case that did not pass, a message that says what was expected and what
//! came instead; an unreadable case is an error, not a failure. Cases print in id order, and one case runs by its
//! path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::binary::{terminus, text};
use crate::common::cases::{CaseTree, HEAD, passing};

/// Fails at step 2: the second call expects success, but the instance is already terminated.
fn failing() -> String {
    format!(
        "{HEAD}\n[world]\ninstances = [{{ id = \"ins-twice001\" }}]\n\n[[step]]\nparams = {{ InstanceIds = [\"ins-twice001\"] }}\n\n[[step]]\nparams = {{ InstanceIds = [\"ins-twice001\"] }}\n"
    )
}

/// The schema of `tests/junit/junit-10.xsd` plus the two optional attributes its README names, as a file.
fn schema(dir: &Path) -> PathBuf {
    let verbatim = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit/junit-10.xsd"),
    )
    .expect("the committed schema");
    let testcase = "<xs:attribute name=\"group\" type=\"xs:string\"/>\n        </xs:complexType>";
    let testsuites =
        "<xs:attribute name=\"errors\" type=\"xs:string\" />\n        </xs:complexType>";
    assert_eq!(
        verbatim.matches(testcase).count(),
        1,
        "testcase's attributes moved"
    );
    assert_eq!(
        verbatim.matches(testsuites).count(),
        1,
        "testsuites' attributes moved"
    );
    let extended = verbatim
        .replace(
            testcase,
            &testcase.replace(
                "/>\n",
                "/>\n<xs:attribute name=\"file\" type=\"xs:string\"/>\n",
            ),
        )
        .replace(
            testsuites,
            &testsuites.replace(
                "/>\n",
                "/>\n<xs:attribute name=\"skipped\" type=\"xs:string\"/>\n",
            ),
        );
    let path = dir.join("junit.xsd");
    std::fs::write(&path, extended).unwrap();
    path
}

/// `xmllint --schema`: Ok, or what it said.
fn validate(schema: &Path, xml: &Path) -> Result<(), String> {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema)
        .arg(xml)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("xmllint (Debian/Ubuntu: apt-get install libxml2-utils; .ci/run installs it)");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("xmllint runs").is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "xmllint took over 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("xmllint's output");
    if output.status.success() {
        Ok(())
    } else {
        Err(text(&output.stderr))
    }
}

/// The value of `attribute` on the first element that has `marker` in its opening tag.
fn attribute<'a>(xml: &'a str, marker: &str, attribute: &str) -> Option<&'a str> {
    let start = xml.find(marker)?;
    let tag = &xml[xml[..=start].rfind('<')?..];
    let tag = &tag[..tag.find('>')?];
    let value = &tag[tag.find(&format!(" {attribute}=\""))? + attribute.len() + 3..];
    Some(&value[..value.find('"')?])
}

#[test]
fn the_junit_report_validates_and_says_what_ci_reporters_read() {
    let scratch = CaseTree::new(
        "reports",
        "junit",
        &[
            ("tencent/terminate-instances/good", &passing()),
            ("tencent/terminate-instances/twice", &failing()),
            ("zenlayer-bmc/terminate-instance/broken", "title = "),
        ],
    );
    let junit = scratch.root.join("junit.xml");
    let output = terminus(
        &[
            "run",
            "--cases",
            scratch.root.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();

    validate(&schema(&scratch.root), &junit).unwrap_or_else(|why| panic!("{why}\n{xml}"));

    assert_eq!(attribute(&xml, "<testsuite ", "tests"), Some("3"), "{xml}");
    assert_eq!(
        attribute(&xml, "<testsuite ", "failures"),
        Some("1"),
        "{xml}"
    );
    assert_eq!(attribute(&xml, "<testsuite ", "errors"), Some("1"), "{xml}");
    let timestamp = attribute(&xml, "<testsuite ", "timestamp").expect("a suite timestamp");
    assert!(
        timestamp.len() >= 19 && timestamp.as_bytes()[10] == b'T' && timestamp.ends_with("+00:00"),
        "an ISO 8601 UTC timestamp: {timestamp}"
    );
    let time: f64 = attribute(&xml, "<testsuite ", "time")
        .expect("a suite time")
        .parse()
        .expect("seconds");
    assert!(time > 0.0, "{xml}");

    let twice = "name=\"twice\"";
    assert_eq!(
        attribute(&xml, twice, "classname"),
        Some("tencent.terminate-instances")
    );
    let file = attribute(&xml, twice, "file").expect("the case file");
    assert!(
        Path::new(file).ends_with("tencent/terminate-instances/twice.toml"),
        "{file}"
    );
    assert!(
        xml.contains(
            "<failure message=\"step 2: expected success, received error UnsupportedOperation.InstanceStateTerminating\" type=\"failure\">"
        ),
        "{xml}"
    );
    let broken = "name=\"broken\"";
    assert_eq!(
        attribute(&xml, broken, "classname"),
        Some("zenlayer-bmc.terminate-instance")
    );
    assert!(
        xml.contains("<error message=\"case file ") && xml.contains("type=\"error\">"),
        "an unreadable case is an error: {xml}"
    );
}

#[test]
fn the_schema_check_can_fail() {
    // The validation above proves something only if xmllint refuses what the schema refuses.
    let scratch = CaseTree::new("reports", "junit-invalid", &[]);
    std::fs::create_dir_all(&scratch.root).unwrap();
    let bad = scratch.root.join("bad.xml");
    std::fs::write(
        &bad,
        "<testsuites><testsuite name=\"s\" failures=\"0\" errors=\"0\"><testcase name=\"c\"/></testsuite></testsuites>",
    )
    .unwrap();
    let why = validate(&schema(&scratch.root), &bad).expect_err("a suite without tests is refused");
    assert!(why.contains("'tests' is required"), "{why}");
}

#[test]
fn cases_print_in_id_order_whatever_order_they_finish_in() {
    // The first case in id order is the slowest: with four jobs the others finish first.
    let slow = format!(
        "{HEAD}\n[world]\ninstances = [{{ id = \"ins-slow0001\" }}]\nfaults = [{{ kind = \"latency\", millis = 400 }}]\n\n[[step]]\nparams = {{ InstanceIds = [\"ins-slow0001\"] }}\n"
    );
    let scratch = CaseTree::new(
        "reports",
        "order",
        &[
            ("tencent/terminate-instances/a-slow", &slow),
            ("tencent/terminate-instances/b", &passing()),
            ("tencent/terminate-instances/c", &passing()),
            ("tencent/terminate-instances/d", &passing()),
        ],
    );
    let output = terminus(
        &[
            "run",
            "--cases",
            scratch.root.to_str().unwrap(),
            "--jobs",
            "4",
        ],
        &[],
    );
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let printed: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok   "))
        .map(|line| line.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        printed,
        [
            "tencent/terminate-instances/a-slow",
            "tencent/terminate-instances/b",
            "tencent/terminate-instances/c",
            "tencent/terminate-instances/d"
        ],
        "{stdout}"
    );
}

#[test]
fn a_single_case_runs_by_its_path_from_any_directory() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cases/tencent/terminate-instances/already-terminated-instance-is-refused.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .arg("run")
        .arg(&case)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("the terminus binary runs");
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("running 1 cases"), "{stdout}");
    assert!(
        stdout.contains("ok   tencent/terminate-instances/already-terminated-instance-is-refused"),
        "{stdout}"
    );
}

#[test]
fn the_built_in_cases_run_without_a_cases_directory() {
    // From a directory with no cases/: the cases come from the binary.
    let output = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["run", "--filter", "tencent/get-caller-identity/"])
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("the terminus binary runs");
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok   tencent/get-caller-identity/"),
        "{stdout}"
    );
}
