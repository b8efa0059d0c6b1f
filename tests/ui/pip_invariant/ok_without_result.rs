use pip_runtime::pip_invariant;

// The spec says `ensures ok.tenant == request.tenant`: `ok` is the `Ok` value of a function
// returning `Result`, and this one returns a `Route`.
#[pip_invariant("gateway.routed_to_the_sender")]
fn route(request: &Request) -> Route {
    Route { tenant: request.tenant.clone() }
}

struct Request {
    tenant: String,
}

struct Route {
    tenant: String,
}

fn main() {
    let _ = route(&Request { tenant: "t1".into() }).tenant;
}
