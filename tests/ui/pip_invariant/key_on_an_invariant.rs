use pip_runtime::pip_invariant;

#[pip_invariant("payments.balance_non_negative", key = balance)]
fn withdraw(account: &mut Account, amount: i64) -> i64 {
    account.balance -= amount;
    account.balance
}

struct Account {
    balance: i64,
}

fn main() {
    let _ = withdraw(&mut Account { balance: 1 }, 1);
}
