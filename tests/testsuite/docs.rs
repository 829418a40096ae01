//! Every shell example of the README and the book (`docs/src/`) runs here, against the built binary, with its
//! output checked where the text shows it. The markdown is the test's input; nothing here repeats an example.
//!
//! How a page is read, in order, as a reader following it would:
//!
//! - ```` ```sh ```` blocks run in `bash -euo pipefail`; the block passes when bash exits 0. Servers a block starts
//!   in the background (`terminus serve … &`) are stopped when it ends (the block runs in its own process group).
//! - ```` ```console ```` blocks are `$ command` lines, each followed by the output it prints (standard output and
//!   error together). `[..]` in a line matches any text, a `...` line any number of lines. A command that keeps
//!   running (a server) passes once it has printed what is shown, and is then stopped.
//! - ```` ```sh with-server ```` (or `console with-server`): the page says a `terminus serve` is running; the test
//!   starts one on the page's port for that block.
//! - ```` ```toml file=NAME ```` (any language): the block is a file the text names; it is written as `NAME` in the
//!   page's directory before the blocks after it run.
//! - ```` ```sh no-run ```` (or `console no-run`): an example that cannot run here, such as one against a real account
//!   or one that runs cargo (`.ci/run` runs those); the text around it says why. Nothing else is skipped.
//!
//! Each page runs in a fresh temporary directory laid out like a checkout (`cases/` and `snapshots/` copied when its
//! examples name them), with the
//! `terminus` under test first on `PATH`. The one liberty taken with the text: the example ports 18080 and 18443 are
//! replaced by free ones, since other tests and other servers on the machine may hold them.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long one block (or one console command) may take.
const DEADLINE: Duration = Duration::from_secs(30);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pages: the README and every chapter of the book, as SUMMARY.md lists them.
fn pages() -> Vec<PathBuf> {
    let summary = std::fs::read_to_string(repo().join("docs/src/SUMMARY.md")).unwrap();
    let mut pages = vec![repo().join("README.md")];
    for link in summary.split("](").skip(1) {
        let target = &link[..link.find(')').unwrap()];
        pages.push(repo().join("docs/src").join(target));
    }
    pages
}

/// A fenced block: its info string's words and its text.
#[derive(Debug)]
struct Block {
    line: usize,
    language: String,
    attributes: Vec<String>,
    text: String,
}

impl Block {
    fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a == attribute)
    }

    fn file(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| a.strip_prefix("file="))
    }
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        match open.take() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    let mut words = info.split_whitespace().map(str::to_owned);
                    open = Some(Block {
                        line: index + 1,
                        language: words.next().unwrap_or_default(),
                        attributes: words.collect(),
                        text: String::new(),
                    });
                }
            }
            Some(mut block) => {
                if line == "```" {
                    blocks.push(block);
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                    open = Some(block);
                }
            }
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    blocks
}

/// A free port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One page's run: its directory, ports and the `PATH` holding the binary under test.
struct Page {
    name: String,
    dir: tempfile::TempDir,
    logs: tempfile::TempDir,
    path: String,
    ports: [(&'static str, String); 2],
}

impl Page {
    fn new(name: String, bin: &Path, trees: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for tree in trees {
            copy_tree(&repo().join(tree), &dir.path().join(tree));
        }
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Page {
            name,
            dir,
            logs: tempfile::tempdir().unwrap(),
            path,
            ports: [
                ("18080", free_port().to_string()),
                ("18443", free_port().to_string()),
            ],
        }
    }

    fn with_ports(&self, text: &str) -> String {
        self.ports
            .iter()
            .fold(text.to_owned(), |text, (example, port)| {
                text.replace(example, port)
            })
    }

    /// `bash -c script` in the page's directory, in a process group of its own, output to `log`.
    fn spawn(&self, script: &str, log: &Path) -> Child {
        let out = std::fs::File::create(log).unwrap();
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(self.dir.path())
            .env("PATH", &self.path)
            .env_remove("TERMINUS_CONTROL_TOKEN")
            .env_remove("TERMINUS_SECRET_KEY")
            .env_remove("RUST_LOG")
            .env("NO_PROXY", "*")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("bash runs")
    }

    /// Starts `terminus serve` on the page's port, for a block whose text says one is running.
    fn server(&self) -> Child {
        let ready = self.logs.path().join("server.url");
        let log = self.logs.path().join("server.log");
        let port = &self.ports[0].1;
        // A server of an earlier block on the page left its ready file: waiting on it would not wait at all.
        let _ = std::fs::remove_file(&ready);
        let child = self.spawn(
            &format!(
                "exec terminus serve --listen 127.0.0.1:{port} --ready-file {}",
                ready.display()
            ),
            &log,
        );
        let deadline = Instant::now() + DEADLINE;
        while std::fs::metadata(&ready).map_or(true, |m| m.len() == 0) {
            assert!(
                Instant::now() < deadline,
                "{}: the server never started",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    fn run_sh(&self, block: &Block) {
        let log = self.logs.path().join(format!("block-{}.log", block.line));
        let mut child = self.spawn(&self.with_ports(&block.text), &log);
        let status = wait(&mut child, DEADLINE);
        stop(&mut child);
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        match status {
            Some(status) if status.success() => {}
            Some(status) => panic!(
                "{} line {}: the example failed ({status}):\n{}\n--- output ---\n{output}",
                self.name, block.line, block.text
            ),
            None => panic!(
                "{} line {}: the example did not finish within {DEADLINE:?}:\n{}\n--- output ---\n{output}",
                self.name, block.line, block.text
            ),
        }
    }

    fn run_console(&self, block: &Block) {
        for (number, (command, expected)) in console(&self.with_ports(&block.text))
            .into_iter()
            .enumerate()
        {
            let log = self
                .logs
                .path()
                .join(format!("block-{}-{number}.log", block.line));
            let mut child = self.spawn(&command, &log);
            let deadline = Instant::now() + DEADLINE;
            let shown = loop {
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                let exited = child.try_wait().unwrap().is_some();
                if exited || matches(&expected, &output) || Instant::now() > deadline {
                    break output;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            stop(&mut child);
            assert!(
                matches(&expected, &shown),
                "{} line {}: `{command}` printed\n{shown}\n--- the page shows ---\n{}",
                self.name,
                block.line,
                expected.join("\n")
            );
        }
    }
}

/// A console block's commands, each with the lines shown after it.
fn console(text: &str) -> Vec<(String, Vec<String>)> {
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        match (line.strip_prefix("$ "), commands.last_mut()) {
            (Some(command), _) => commands.push((command.to_owned(), Vec::new())),
            (None, Some((_, expected))) => expected.push(line.to_owned()),
            (None, None) => panic!("a console block starts with `$ `: {line}"),
        }
    }
    commands
}

/// Whether `output` is what `expected` shows: line by line, `[..]` any text, `...` any lines. Output may go on
/// after the lines shown only when the last shown line is `...`.
fn matches(expected: &[String], output: &str) -> bool {
    fn line_matches(pattern: &str, line: &str) -> bool {
        let mut parts = pattern.split("[..]");
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = line.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        for (index, part) in parts.iter().enumerate() {
            if index == parts.len() - 1 {
                return rest.ends_with(part);
            }
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.is_empty()
    }
    fn from(expected: &[String], output: &[&str]) -> bool {
        match expected.split_first() {
            None => output.is_empty(),
            Some((first, rest)) if first == "..." => {
                (0..=output.len()).any(|skip| from(rest, &output[skip..]))
            }
            Some((first, rest)) => {
                output.first().is_some_and(|line| line_matches(first, line))
                    && from(rest, &output[1..])
            }
        }
    }
    let lines: Vec<&str> = output.lines().collect();
    from(expected, &lines)
}

fn wait(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Stops a block's process group: the shell and whatever it left running in the background.
fn stop(child: &mut Child) {
    let group = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with a negative pid signals the process group the child leads; it touches no memory.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    let _ = child.wait();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A directory holding `terminus`: the binary under test.
fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_terminus"), dir.path().join("terminus"))
        .unwrap();
    dir
}

fn run_page(page: &Path, bin: &Path) {
    let name = page.strip_prefix(repo()).unwrap().display().to_string();
    let markdown = std::fs::read_to_string(page).unwrap();
    let blocks = blocks(&markdown);
    // Copying the checkout's trees is most of a page's cost: only for pages whose examples read them.
    let trees: Vec<&str> = ["cases", "snapshots"]
        .into_iter()
        .filter(|tree| {
            blocks
                .iter()
                .any(|block| block.text.contains(&format!("{tree}/")))
        })
        .collect();
    let run = Page::new(name.clone(), bin, &trees);
    for block in blocks {
        if let Some(file) = block.file() {
            std::fs::write(run.dir.path().join(file), &block.text).unwrap();
        }
        let shell = matches!(block.language.as_str(), "sh" | "console");
        for attribute in &block.attributes {
            let known = attribute.starts_with("file=")
                || (shell && ["no-run", "with-server"].contains(&attribute.as_str()));
            assert!(
                known,
                "{name} line {}: unknown attribute {attribute:?}",
                block.line
            );
        }
        if !shell || block.has("no-run") {
            continue;
        }
        let mut server = block.has("with-server").then(|| run.server());
        if block.language == "sh" {
            run.run_sh(&block);
        } else {
            run.run_console(&block);
        }
        if let Some(server) = server.as_mut() {
            stop(server);
        }
    }
}

#[test]
fn every_shell_example_of_the_readme_and_the_book_runs_as_printed() {
    let bin = bin_dir();
    let pages = pages();
    assert!(pages.len() >= 11, "the README and ten chapters: {pages:?}");
    // A thread per page: a page waits mostly on servers and on the binary, and its blocks run in order.
    std::thread::scope(|scope| {
        for page in &pages {
            let bin = bin.path();
            scope.spawn(move || run_page(page, bin));
        }
    });
}

#[test]
fn the_readme_links_every_chapter_of_the_book() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for page in pages().iter().skip(1) {
        let link = page.strip_prefix(repo()).unwrap().display().to_string();
        assert!(
            readme.contains(&format!("]({link})")),
            "the README links {link}"
        );
    }
}

#[test]
fn the_console_matcher_reads_wildcards_and_elisions() {
    let shown = |lines: &[&str]| {
        lines
            .iter()
            .map(|line| (*line).to_owned())
            .collect::<Vec<_>>()
    };
    assert!(matches(
        &shown(&["ok [..] in [..] ms"]),
        "ok 3 passed in 12 ms\n"
    ));
    assert!(!matches(
        &shown(&["ok [..] in [..] ms"]),
        "ok 3 passed in 12 s\n"
    ));
    assert!(matches(
        &shown(&["first", "...", "last"]),
        "first\na\nb\nlast\n"
    ));
    assert!(!matches(&shown(&["first"]), "first\nmore\n"));
    assert!(matches(&shown(&["first", "..."]), "first\nmore\n"));
}

#[test]
fn the_books_stub_world_answers_an_sdk_signing_at_the_machines_time() {
    // The stub world of docs/src/mock.md, as printed, and a DescribeImages signed as an SDK signs it: TC3, at the
    // machine's time. A world that names no clock stands still in 2023, and the call was SignatureExpire.
    let page = std::fs::read_to_string(repo().join("docs/src/mock.md")).unwrap();
    let block = blocks(&page)
        .into_iter()
        .find(|block| block.file() == Some("stubs.toml"))
        .expect("docs/src/mock.md shows stubs.toml");
    let world = terminus::world::WorldSpec::from_toml(&block.text, "stubs.toml")
        .expect("the stub world parses");
    let server = terminus::mock::MockServer::builder()
        .world(world)
        .start()
        .expect("a mock server");
    let params: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"ImageIds": ["img-eb30mz89"]}"#).unwrap();
    let credentials =
        terminus::signing::Credentials::new(crate::common::TENCENT_ID, crate::common::TENCENT_KEY);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let call = terminus::provider::Call {
        action: "DescribeImages",
        params: &params,
        region: Some("ap-guangzhou"),
        version: Some("2017-03-12"),
        credentials: &credentials,
        token: None,
        timestamp: i64::try_from(now).unwrap(),
        nonce: 1,
        sign: terminus::case::SignForm::Tc3,
        method: "POST",
        headers: &[],
    };
    let (request, _) = terminus::provider::ProviderId::Tencent
        .build_request(&call)
        .expect("the request builds");
    let mut stream = std::net::TcpStream::connect(server.address()).unwrap();
    std::io::Write::write_all(&mut stream, &request.to_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let crate::common::raw::Answer::Response(response) =
        crate::common::raw::read_answer(&mut stream, &mut Vec::new(), deadline, false)
    else {
        panic!("no answer");
    };
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["Response"]["TotalCount"], 1, "{body:#}");
}
