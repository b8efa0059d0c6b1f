use pip_runtime::pip_invariant;

struct Account {
    balance: i64,
}

// `deny` on a function returning Result<_, String>: String cannot hold a Violation.
#[pip_invariant("payments.balance_non_negative")]
fn withdraw(account: &mut Account, amount: i64) -> Result<i64, String> {
    account.balance -= amount;
    Ok(account.balance)
}

fn main() {
    let _ = withdraw(&mut Account { balance: 1 }, 1);
}
