use pip_runtime::pip_invariant;

// `ok` in the spec's `ensures` is the `Ok` value; an argument of the same name would hide it.
#[pip_invariant("gateway.routed_to_the_sender")]
fn route(request: &Request, ok: bool) -> Result<Route, Error> {
    if ok { Ok(Route { tenant: request.tenant.clone() }) } else { Err(Error) }
}

struct Request {
    tenant: String,
}

struct Route {
    tenant: String,
}

struct Error;

impl From<pip_runtime::invariant::Violation> for Error {
    fn from(_: pip_runtime::invariant::Violation) -> Self {
        Error
    }
}

fn main() {
    let _ = route(&Request { tenant: "t1".into() }, true).map(|r| r.tenant);
}
