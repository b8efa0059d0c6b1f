use pip_runtime::pip_invariant;

#[pip_invariant("payments.balance_non_negative")]
struct Account {
    balance: i64,
}

fn main() {
    let _ = Account { balance: 1 }.balance;
}
