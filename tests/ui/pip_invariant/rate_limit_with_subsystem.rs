use pip_runtime::pip_invariant;

#[pip_invariant("payments.per_tenant", key = tenant, subsystem = "billing")]
fn submit(tenant: &str) -> u64 {
    tenant.len() as u64
}

fn main() {
    let _ = submit("acme");
}
