use pip_runtime::pip_invariant;

// The spec says `ensures result.healthy`, written for a balancer returning an `Upstream`;
// this one returns a `Result`, whose `Ok` value the check must name `ok`.
#[pip_invariant("gateway.healthy_upstream_chosen")]
fn pick() -> Result<Upstream, String> {
    Ok(Upstream { healthy: true })
}

struct Upstream {
    healthy: bool,
}

fn main() {
    let _ = pick().map(|u| u.healthy);
}
