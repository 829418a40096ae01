//! The container: no engine builds images here, so the Dockerfile's instructions are checked against the build
//! (the binary and profile it names exist, its user is created and is not root), and its health check is run
//! directly against `terminus serve` started as the image starts it. The health endpoint answers without the
//! control token and says nothing but that the server is up.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use terminus::mock::{ControlToken, MockServer};

const DEADLINE: Duration = Duration::from_secs(20);

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The Dockerfile's instructions, in order: (keyword in capitals, arguments), continuation lines joined, comments
/// left out.
fn instructions() -> Vec<(String, String)> {
    let text = terminus::file::read_text(&repo("Dockerfile"), 1 << 20).unwrap();
    let mut found = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (keyword, arguments) = current.split_once(' ').unwrap_or((&current, ""));
                found.push((keyword.to_ascii_uppercase(), arguments.trim().to_owned()));
                current.clear();
            }
        }
    }
    found
}

/// The instructions of the last stage (the image that ships).
fn final_stage() -> Vec<(String, String)> {
    let all = instructions();
    let from = all
        .iter()
        .rposition(|(keyword, _)| keyword == "FROM")
        .expect("a FROM");
    all[from..].to_vec()
}

fn one(stage: &[(String, String)], keyword: &str) -> String {
    let found: Vec<_> = stage.iter().filter(|(k, _)| k == keyword).collect();
    assert_eq!(found.len(), 1, "one {keyword} in the stage: {found:?}");
    found[0].1.clone()
}

/// A JSON-array (exec form) argument list.
fn exec_form(arguments: &str) -> Vec<String> {
    serde_json::from_str(arguments)
        .unwrap_or_else(|error| panic!("not in exec form ({error}): {arguments}"))
}

#[test]
fn the_image_ships_the_binary_its_build_stage_builds() {
    let all = instructions();
    let build = all
        .iter()
        .find(|(keyword, arguments)| keyword == "RUN" && arguments.starts_with("cargo build"))
        .expect("a RUN cargo build")
        .1
        .clone();
    let words: Vec<&str> = build.split_whitespace().collect();
    let after = |flag: &str| {
        words
            .iter()
            .position(|word| *word == flag)
            .and_then(|at| words.get(at + 1))
            .copied()
            .unwrap_or_else(|| panic!("{flag} in `{build}`"))
    };
    assert!(words.contains(&"--locked"), "{build}");
    let (bin, profile) = (after("--bin"), after("--profile"));
    let manifest: toml::Table =
        toml::from_str(&terminus::file::read_text(&repo("Cargo.toml"), 1 << 20).unwrap()).unwrap();
    let bins: Vec<&str> = manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|target| target["name"].as_str())
        .collect();
    assert!(
        bins.contains(&bin),
        "{bin} is not a [[bin]] of Cargo.toml: {bins:?}"
    );
    assert!(
        manifest["profile"].get(profile).is_some(),
        "no [profile.{profile}] in Cargo.toml"
    );
    assert_eq!(
        bin,
        env!("CARGO_BIN_EXE_terminus").rsplit('/').next().unwrap()
    );
    let workdir = one(&all, "WORKDIR");
    let shipped = one(&final_stage(), "COPY");
    assert_eq!(
        shipped,
        format!("--from=build {workdir}/target/{profile}/{bin} /usr/local/bin/{bin}")
    );
    assert_eq!(exec_form(&one(&final_stage(), "ENTRYPOINT")), [bin]);
}

#[test]
fn the_image_runs_as_a_user_it_creates_and_not_as_root() {
    let stage = final_stage();
    let user = one(&stage, "USER");
    let (uid, gid) = user.split_once(':').unwrap_or((&user, ""));
    // Numeric, so an orchestrator can check runAsNonRoot without the image's /etc/passwd.
    let uid: u32 = uid
        .parse()
        .unwrap_or_else(|_| panic!("USER {user} is not numeric"));
    assert_ne!(uid, 0, "USER {user} is root");
    let creates = stage
        .iter()
        .filter(|(keyword, _)| keyword == "RUN")
        .any(|(_, run)| run.contains("useradd") && run.contains(&format!("--uid {uid}")));
    assert!(creates, "no RUN creates uid {uid}");
    if !gid.is_empty() {
        assert_ne!(gid, "0", "USER {user}: group root");
        assert!(
            stage
                .iter()
                .any(|(k, run)| k == "RUN"
                    && run.contains(&format!("groupadd --system --gid {gid}"))),
            "no RUN creates gid {gid}"
        );
    }
    // After USER, nothing runs as root again.
    let at = stage.iter().position(|(k, _)| k == "USER").unwrap();
    assert!(
        !stage[at..].iter().any(|(k, _)| k == "RUN"),
        "a RUN after USER"
    );
}

/// `terminus serve` with `args`, killed when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(args: &[String], token: Option<&str>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_terminus"));
        command
            .args(args)
            .env_remove("TERMINUS_CONTROL_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(token) = token {
            command.env("TERMINUS_CONTROL_TOKEN", token);
        }
        let mut child = command.spawn().expect("terminus serve starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let first = receiver
            .recv_timeout(DEADLINE)
            .expect("terminus serve says where it listens");
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{first}"))
            .to_owned();
        Self { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command line (argv) with the test's terminus in place of `terminus`, within [`DEADLINE`].
fn run(argv: &[String]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < DEADLINE, "{argv:?} did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The port of `http://host:port`.
fn port_of(url: &str) -> &str {
    url.rsplit(':').next().unwrap()
}

#[test]
fn the_health_check_passes_against_the_image_command_with_or_without_a_token_given() {
    let stage = final_stage();
    let healthcheck = one(&stage, "HEALTHCHECK");
    let check = exec_form(
        healthcheck
            .split_once("CMD ")
            .expect("HEALTHCHECK … CMD [...]")
            .1,
    );
    assert_eq!(check[..2], ["terminus", "health"]);
    let mut serve: Vec<String> = exec_form(&one(&stage, "CMD"));
    // As the image starts it, on any address; but on a port of the system's choosing, not the image's 18080.
    let listen = serve.iter().position(|a| a == "--listen").unwrap() + 1;
    assert_eq!(
        port_of(&serve[listen]),
        port_of(&check[2]),
        "serve and check agree on the port"
    );
    serve[listen] = serve[listen].replace(":18080", ":0");
    for token in [None, Some("a-token-set-as-the-dockerfile-says")] {
        let server = Serve::start(&serve, token);
        let mut argv = check.clone();
        argv[2] = argv[2].replace("18080", port_of(&server.url));
        let output = run(&argv);
        assert!(
            output.status.success(),
            "{argv:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // With nothing listening, the check fails (exit 1), quickly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let output = run(&[
        "terminus".into(),
        "health".into(),
        format!("http://127.0.0.1:{port}"),
        "--timeout".into(),
        "2s".into(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("unhealthy: "));
}

fn client() -> reqwest::blocking::Client {
    crate::common::http_client()
        .timeout(DEADLINE)
        .build()
        .unwrap()
}

#[test]
fn health_answers_without_the_token_and_says_only_that_the_server_is_up() {
    let server = MockServer::builder()
        .control_token(ControlToken::new("the-token"))
        .start()
        .expect("the mock starts");
    let health = client()
        .get(server.uri() + "/__terminus/health")
        .send()
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().unwrap(), json!({ "status": "ok" }));
    // Everything else still needs it.
    let world = client()
        .get(server.uri() + "/__terminus/world")
        .send()
        .unwrap();
    assert_eq!(world.status(), 401);
    let reset = client()
        .post(server.uri() + "/__terminus/reset")
        .header("Content-Type", "application/json")
        .send()
        .unwrap();
    assert_eq!(reset.status(), 401);
    // Whatever name the probe reaches it by (a container's name, a service's).
    let named = client()
        .get(server.uri() + "/__terminus/health")
        .header("Host", "terminus:18080")
        .send()
        .unwrap();
    assert_eq!(named.status(), 200);
}

#[test]
fn terminus_health_refuses_a_url_it_cannot_probe() {
    let output = run(&[
        "terminus".into(),
        "health".into(),
        "https://127.0.0.1:1".into(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("only plain http://"));
}
