//! A provider defined entirely outside the crate, as `src/provider/<name>/mod.rs` would define it: one type
//! implementing `Provider`, and one registration line (here the builder's `provider`, in the crate
//! `ProviderId::ALL`). The mock serves it on its port beside the built-in providers, routes only its own requests
//! to it, and gives it the world's accounts and its authenticate-then-decide seam, the world's instances through
//! their store, and the refusals every provider shares ([`BatchRefusal`]) to answer with its own codes; the
//! built-in providers answer as before.

use serde_json::{Map, Value, json};
use terminus::harness::http1::Connection;
use terminus::message::{Reply, Request};
use terminus::mock::MockServer;
use terminus::provider::{Call, Problem, Provider, ProviderId, SignForm};
use terminus::signing::{Trace, Unusable};
use terminus::world::refusal::{self, BatchRefusal};
use terminus::world::{Account, SharedWorld, World};

/// "Example Cloud": `POST /example/whoami` with `X-Example-Key: SECRET_ID:SECRET_KEY` answers the account's owner;
/// `POST /example/states` with `X-Example-Ids: ID,ID` the states of at most two instances.
#[derive(Debug)]
struct Example;

impl Provider for Example {
    fn name(&self) -> &'static str {
        "example"
    }

    fn serves(&self, request: &Request) -> bool {
        request.path().starts_with("/example/")
    }

    fn example_account(&self) -> Account {
        Account {
            secret_id: "EXAMPLEID".into(),
            secret_key: "EXAMPLEKEY".into(),
            ..Account::new_default()
        }
    }

    fn default_sign(&self) -> SignForm {
        SignForm::None
    }

    fn body_limit(&self, _request: &Request) -> usize {
        1024
    }

    fn action_of(&self, request: &Request) -> Option<String> {
        request.path().strip_prefix("/example/").map(str::to_owned)
    }

    fn handle(&self, request: &Request, world: &SharedWorld) -> Reply {
        let (id, key) = request
            .header("x-example-key")
            .and_then(|value| value.split_once(':'))
            .unwrap_or_default();
        let (world, known) = world.authenticate(
            |world| world.account(id).map(|account| account.secret_key.clone()),
            |secret_key| secret_key.is_some_and(|secret_key| secret_key.expose() == key),
        );
        let body = match (known, world.account(id)) {
            (true, Some(_)) if request.path() == "/example/states" => match states(request, &world)
            {
                Ok(states) => json!({ "states": states }),
                Err(refused) => json!({ "error": code(&refused) }),
            },
            (true, Some(account)) => json!({ "owner": account.owner }),
            _ => return Reply::json(401, br#"{"error":"unknown key"}"#.to_vec()),
        };
        Reply::json(200, serde_json::to_vec(&body).unwrap())
    }

    fn problem_reply(&self, _problem: Problem, _request: &Request, _world: &SharedWorld) -> Reply {
        Reply::json(500, br#"{"error":"problem"}"#.to_vec())
    }

    fn build_request(&self, call: &Call<'_>) -> Result<(Request, Option<Trace>), Unusable> {
        let request = Request {
            method: "POST".into(),
            target: format!("/example/{}", call.action.to_lowercase()),
            headers: vec![
                ("Host".into(), "example.invalid".into()),
                (
                    "X-Example-Key".into(),
                    format!(
                        "{}:{}",
                        call.credentials.secret_id,
                        call.credentials.secret_key().expose()
                    ),
                ),
                ("Content-Length".into(), "0".into()),
            ],
            body: Vec::new(),
        };
        Ok((request, None))
    }

    #[allow(clippy::type_complexity)]
    fn read_answer(&self, body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
        let value: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
        match value {
            Value::Object(fields) if fields.contains_key("error") => {
                Ok(Err(fields["error"].to_string()))
            }
            Value::Object(fields) => Ok(Ok(fields)),
            other => Err(format!("not an object: {other}")),
        }
    }
}

/// The states of the instances `X-Example-Ids` names: the shared batch rules, then a lookup by id in the world's
/// store.
fn states(request: &Request, world: &World) -> Result<Vec<String>, BatchRefusal> {
    let ids: Vec<String> = request
        .header("x-example-ids")
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    refusal::check_batch(&ids, 2)?;
    ids.iter()
        .map(|id| {
            let instance = world.spec().instances.get(id);
            let instance = instance.ok_or_else(|| BatchRefusal::NotFound(id.clone()))?;
            Ok(instance.state.name())
        })
        .collect()
}

/// Example Cloud's own code for each shared refusal.
fn code(refused: &BatchRefusal) -> String {
    match refused {
        BatchRefusal::Empty => "NO_IDS".to_owned(),
        BatchRefusal::TooLarge(count) => format!("TOO_MANY_IDS:{count}"),
        BatchRefusal::DuplicateId(id) => format!("ID_TWICE:{id}"),
        BatchRefusal::NotFound(id) => format!("NO_SUCH_INSTANCE:{id}"),
        _ => "REFUSED".to_owned(),
    }
}

static EXAMPLE: Example = Example;

fn exchange(server: &MockServer, request: &Request) -> (u16, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(20), async {
            let mut connection = Connection::open(server.address()).await.unwrap();
            let status = connection.exchange(&request.to_bytes()).await.unwrap();
            (status, connection.body().to_vec())
        })
        .await
        .expect("the mock answers within 20 s")
    })
}

#[test]
fn a_provider_outside_the_crate_is_served_beside_the_built_in_ones() {
    let provider = ProviderId::new(&EXAMPLE);
    let mut world = terminus::world::WorldSpec::default_world();
    world.accounts.push(provider.example_account());
    let server = MockServer::builder()
        .world(world)
        .provider(provider)
        .start()
        .unwrap();
    let credentials = terminus::signing::Credentials::new("EXAMPLEID", "EXAMPLEKEY");
    let params = Map::new();
    let call = Call {
        action: "WhoAmI",
        params: &params,
        region: None,
        version: None,
        credentials: &credentials,
        token: None,
        timestamp: 0,
        nonce: 0,
        sign: provider.default_sign(),
        method: "POST",
        headers: &[],
    };
    let (request, _) = provider.build_request(&call).unwrap();
    let (status, body) = exchange(&server, &request);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        provider.read_answer(&body).unwrap().unwrap()["owner"],
        "100000000001"
    );

    // A wrong key is its own refusal, decided on the world's accounts.
    let wrong = terminus::signing::Credentials::new("EXAMPLEID", "WRONG");
    let (request, _) = provider
        .build_request(&Call {
            credentials: &wrong,
            ..call.clone()
        })
        .unwrap();
    assert_eq!(exchange(&server, &request).0, 401);

    // The world's instances, found by id through their store, and the shared refusals in the example's own codes.
    let states = |ids: &str| {
        let (mut request, _) = provider
            .build_request(&Call {
                action: "States",
                ..call.clone()
            })
            .unwrap();
        request.headers.push(("X-Example-Ids".into(), ids.into()));
        let (status, body) = exchange(&server, &request);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    assert_eq!(
        states("ins-r8hr2upy,ins-09dx96dg")["states"],
        json!(["RUNNING", "RUNNING"])
    );
    assert_eq!(states("")["error"], "NO_IDS");
    assert_eq!(states("a,b,c")["error"], "TOO_MANY_IDS:3");
    assert_eq!(
        states("ins-r8hr2upy,ins-r8hr2upy")["error"],
        "ID_TWICE:ins-r8hr2upy"
    );
    assert_eq!(
        states("ins-r8hr2upy,ins-nothing0")["error"],
        "NO_SUCH_INSTANCE:ins-nothing0"
    );

    // The built-in providers still answer their own requests: the API 3.0 endpoint refuses an unsigned call in its
    // envelope, not the example's.
    let unsigned = Request::parse(b"POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}").unwrap();
    let (status, body) = exchange(&server, &unsigned);
    assert_eq!(status, 200);
    let code = ProviderId::Tencent.read_answer(&body).unwrap().unwrap_err();
    assert!(code.starts_with("AuthFailure"), "{code}");
}
