use pip_runtime::pip_invariant;

#[pip_invariant("shop.stock_non_negative")]
fn take(stock: i64, n: i64) -> i64 {
    stock - n
}

fn main() {
    assert_eq!(take(3, 1), 2);
}
