use pip_runtime::pip_invariant;

// The spec's `requires` of refund_within_original names `refund` and `charge`; this
// function calls the charge `original`.
#[pip_invariant("payments.refund_within_original")]
fn refund(refund: &Refund, original: &Charge) -> u64 {
    original.amount - refund.amount
}

struct Refund {
    amount: u64,
}

struct Charge {
    amount: u64,
}

fn main() {
    let _ = refund(&Refund { amount: 1 }, &Charge { amount: 2 });
}
