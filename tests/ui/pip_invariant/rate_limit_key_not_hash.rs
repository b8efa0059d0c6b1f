use pip_runtime::pip_invariant;

struct Tenant {
    name: String,
}

#[pip_invariant("payments.per_tenant", key = tenant)]
fn submit(tenant: Tenant) -> usize {
    tenant.name.len()
}

fn main() {
    let _ = submit(Tenant { name: "acme".into() });
}
