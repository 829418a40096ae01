//! The providers: each translates between its wire format and the world. Adding one is a folder here plus one
//! [`ProviderId`] variant and its arms below; nothing else dispatches on the provider.

pub mod tencent;

use crate::message::Request;
use crate::mock::{Reply, Shared};

/// A provider's API, as served by the mock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderId {
    /// Tencent Cloud CVM API 3.0.
    Tencent,
}

impl ProviderId {
    /// The provider a request is for, by its path.
    pub(crate) fn route(_request: &Request) -> Self {
        ProviderId::Tencent
    }

    /// The provider id used in case paths (`tencent`).
    pub fn name(self) -> &'static str {
        match self {
            ProviderId::Tencent => "tencent",
        }
    }

    /// Answers a request.
    pub(crate) fn handle(self, request: &Request, shared: &Shared) -> Reply {
        match self {
            ProviderId::Tencent => tencent::mock::handle(request, shared),
        }
    }

    /// The action a request names, read without verifying anything (fault filters use it).
    pub(crate) fn action_of(self, request: &Request) -> Option<String> {
        match self {
            ProviderId::Tencent => tencent::mock::action_of(request),
        }
    }

    /// The provider's error envelope for a condition met before its handler: a fault, an unreadable body.
    pub(crate) fn error(self, problem: Problem, request_id: &str) -> Reply {
        match self {
            ProviderId::Tencent => {
                let (status, code, message) = match problem {
                    Problem::Fault { code } => (
                        200,
                        code.unwrap_or_else(|| "InternalError".into()),
                        "Internal error.".into(),
                    ),
                    Problem::HttpFault { status } => {
                        (status, "InternalError".into(), "Internal error.".into())
                    }
                    Problem::TooLarge { limit } => (
                        200,
                        "RequestSizeLimitExceeded".into(),
                        format!("The request size exceeds the limit of {limit} bytes."),
                    ),
                    Problem::Unreadable(why) => (200, "InvalidParameter".into(), why),
                };
                tencent::mock::error_reply(status, &code, &message, request_id)
            }
        }
    }

    /// The most body bytes the server reads for this provider.
    pub(crate) fn body_limit(self) -> usize {
        match self {
            ProviderId::Tencent => tencent::mock::TC3_LIMIT,
        }
    }
}

/// A condition met before a provider's handler runs.
#[derive(Clone, Debug)]
pub(crate) enum Problem {
    /// An injected error (`None`: the provider's internal error).
    Fault { code: Option<String> },
    /// An injected HTTP status.
    HttpFault { status: u16 },
    /// The body is larger than the server reads.
    TooLarge { limit: usize },
    /// The request could not be read (a header that is not UTF-8, a body cut short).
    Unreadable(String),
}
