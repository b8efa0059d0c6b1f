//! The books: accounts, charges and refunds, with the invariants and the rate limit of
//! `specs/payments.pips` on the functions that move money.
//!
//! Every function here works on copies that the caller commits only when it returns `Ok`:
//! a `deny` policy refuses the call *after* the body ran when an `ensures` fails, so the
//! body must never have touched the real books by then.

use std::collections::BTreeMap;

use pip_runtime::{Violation, pip_invariant};
use serde::{Deserialize, Serialize};

/// A tenant's account; the books keep it by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account id, unique across tenants.
    pub id: String,
    /// The tenant that owns it: only that tenant's requests may use it.
    pub tenant: String,
    /// Balance in minor units (cents).
    pub balance: i64,
}

/// A payment taken from an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// Its number, given by [`Books::charge`] from 1 on.
    pub id: u64,
    /// The tenant whose request took the payment.
    pub tenant: String,
    /// The account the amount was taken from; refunds of the charge go back to it.
    pub account: String,
    /// Amount taken, in minor units (cents).
    pub amount: i64,
    /// Amount refunded so far, in minor units; past `amount` is a recorded `refund_within_original` violation, not a refusal.
    pub refunded: i64,
}

/// A refund request: part or all of what is left of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The number of the charge it refunds.
    pub charge: u64,
    /// Amount to give back, in minor units (cents).
    pub amount: i64,
}

/// What [`transfer`] moved; equal amounts, as `transfer_conserves_money` ensures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Taken from the source account.
    pub debited: i64,
    /// Added to the destination account.
    pub credited: i64,
}

/// Why an operation on the books was refused.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// An invariant of the spec failed (policy `deny`) or the rate limit refused the call.
    #[error("{0}")]
    Violation(Box<Violation>),
    /// No account or charge of that id (a charge of another tenant counts as none); the text names which.
    #[error("{0} not found")]
    NotFound(String),
    /// [`Books::open`] was given an id the books hold already.
    #[error("account `{0}` already exists")]
    Exists(String),
    /// The account does not belong to the tenant.
    #[error("account `{account}` does not belong to tenant `{tenant}`")]
    WrongTenant {
        /// The account id the request named, which another tenant owns.
        account: String,
        /// The tenant whose request named it.
        tenant: String,
    },
}

impl From<Violation> for BankError {
    fn from(v: Violation) -> Self {
        BankError::Violation(Box::new(v))
    }
}

/// Admits one payment submission of `tenant`: the spec's `per_tenant` limit (100 per 1s per
/// tenant). A refusal carries `retry_after`.
#[pip_invariant("payments.per_tenant", key = tenant)]
pub fn admit_payment(tenant: &str) -> Result<(), BankError> {
    Ok(())
}

/// Takes `amount` from `account` (a copy the caller commits on `Ok`).
#[pip_invariant("payments.balance_non_negative", subsystem = "billing")]
pub fn withdraw(account: &mut Account, amount: i64) -> Result<i64, BankError> {
    account.balance = account.balance.saturating_sub(amount);
    Ok(account.balance)
}

/// Moves `amount` from `from` to `to` (copies the caller commits on `Ok`).
#[pip_invariant("payments.transfer_conserves_money", subsystem = "billing")]
pub fn transfer(from: &mut Account, to: &mut Account, amount: i64) -> Result<Transfer, BankError> {
    from.balance = from.balance.saturating_sub(amount);
    to.balance = to.balance.saturating_add(amount);
    Ok(Transfer { debited: amount, credited: amount })
}

/// Gives `refund.amount` of `charge` back to `account` (copies the caller commits on `Ok`).
/// The spec's policy is `record`: a refund above the charge goes ahead (a goodwill gesture
/// is the business's call) and is recorded as evidence.
#[pip_invariant("payments.refund_within_original", subsystem = "billing")]
pub fn refund(charge: &mut Charge, refund: &Refund, account: &mut Account) -> Result<i64, BankError> {
    charge.refunded = charge.refunded.saturating_add(refund.amount);
    account.balance = account.balance.saturating_add(refund.amount);
    Ok(account.balance)
}

/// The service's accounts and charges, in memory only (the ledger is the durable record).
#[derive(Debug, Default)]
pub struct Books {
    /// Every account, by its id.
    pub accounts: BTreeMap<String, Account>,
    /// Every charge, by its number.
    pub charges: BTreeMap<u64, Charge>,
    next_charge: u64,
}

impl Books {
    /// Adds `account` with its balance as given; an existing id is refused.
    pub fn open(&mut self, account: Account) -> Result<(), BankError> {
        if self.accounts.contains_key(&account.id) {
            return Err(BankError::Exists(account.id));
        }
        self.accounts.insert(account.id.clone(), account);
        Ok(())
    }

    /// A copy of `tenant`'s account `id`.
    pub fn account(&self, tenant: &str, id: &str) -> Result<Account, BankError> {
        let a = self.accounts.get(id).ok_or_else(|| BankError::NotFound(format!("account `{id}`")))?;
        if a.tenant != tenant {
            return Err(BankError::WrongTenant { account: id.to_string(), tenant: tenant.to_string() });
        }
        Ok(a.clone())
    }

    /// Charges `amount` to `tenant`'s account `id`.
    pub fn charge(&mut self, tenant: &str, id: &str, amount: i64) -> Result<Charge, BankError> {
        admit_payment(tenant)?;
        let mut account = self.account(tenant, id)?;
        withdraw(&mut account, amount)?;
        self.next_charge += 1;
        let charge = Charge { id: self.next_charge, tenant: tenant.to_string(), account: id.to_string(), amount, refunded: 0 };
        self.accounts.insert(account.id.clone(), account);
        self.charges.insert(charge.id, charge.clone());
        Ok(charge)
    }

    /// Moves `amount` between two of `tenant`'s accounts.
    pub fn transfer(&mut self, tenant: &str, from: &str, to: &str, amount: i64) -> Result<(Transfer, Account, Account), BankError> {
        let mut a = self.account(tenant, from)?;
        let mut b = self.account(tenant, to)?;
        let moved = transfer(&mut a, &mut b, amount)?;
        // INVARIANT: `from != to` held (the `requires` above), so the two inserts do not
        // overwrite each other.
        self.accounts.insert(a.id.clone(), a.clone());
        self.accounts.insert(b.id.clone(), b.clone());
        Ok((moved, a, b))
    }

    /// Refunds part or all of a charge of `tenant`.
    pub fn refund(&mut self, tenant: &str, request: &Refund) -> Result<(Charge, Account), BankError> {
        let mut charge =
            self.charges.get(&request.charge).cloned().ok_or_else(|| BankError::NotFound(format!("charge {}", request.charge)))?;
        if charge.tenant != tenant {
            return Err(BankError::NotFound(format!("charge {}", request.charge)));
        }
        let mut account = self.account(tenant, &charge.account)?;
        refund(&mut charge, request, &mut account)?;
        self.accounts.insert(account.id.clone(), account.clone());
        self.charges.insert(charge.id, charge.clone());
        Ok((charge, account))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    fn books() -> Books {
        let mut b = Books::default();
        b.open(Account { id: "a".into(), tenant: "t".into(), balance: 100 }).unwrap();
        b.open(Account { id: "b".into(), tenant: "t".into(), balance: 0 }).unwrap();
        b
    }

    #[test]
    fn an_overdraft_is_denied_and_leaves_the_books_unchanged() {
        let mut b = books();
        let err = b.charge("t", "a", 150).unwrap_err();
        assert!(matches!(&err, BankError::Violation(v) if v.invariant == "balance_non_negative"), "{err}");
        assert_eq!(b.accounts["a"].balance, 100);
        assert!(b.charges.is_empty());
        assert_eq!(b.charge("t", "a", 60).unwrap().amount, 60);
        assert_eq!(b.accounts["a"].balance, 40);
    }

    #[test]
    fn a_transfer_to_the_same_account_is_denied() {
        let mut b = books();
        let err = b.transfer("t", "a", "a", 10).unwrap_err();
        assert!(matches!(&err, BankError::Violation(v) if v.invariant == "transfer_conserves_money"), "{err}");
        let (moved, a, bb) = b.transfer("t", "a", "b", 10).unwrap();
        assert_eq!((moved.debited, moved.credited, a.balance, bb.balance), (10, 10, 90, 10));
    }

    #[test]
    fn a_negative_or_overdrawing_transfer_is_denied_and_moves_nothing() {
        let mut b = books();
        for (amount, why) in [(-50, "a negative amount would credit the sender"), (0, "nothing to move"), (101, "an overdraft")] {
            let err = b.transfer("t", "a", "b", amount).unwrap_err();
            assert!(matches!(&err, BankError::Violation(v) if v.invariant == "transfer_conserves_money"), "{why}: {err}");
            assert_eq!((b.accounts["a"].balance, b.accounts["b"].balance), (100, 0), "{why}");
        }
    }

    /// The only test of this binary that refunds, so that it alone moves the counter.
    #[test]
    fn refunds_past_what_is_left_of_the_charge_or_negative_go_ahead_and_are_counted() {
        let violations = || {
            pip_runtime::runtime()
                .metrics()
                .invariant_violations
                .get_or_create(&pip_runtime::metrics::InvariantLabels {
                    spec: "payments".into(),
                    invariant: "refund_within_original".into(),
                    check: "requires".into(),
                    severity: "high".into(),
                })
                .get()
        };
        let mut b = books();
        let c = b.charge("t", "a", 60).unwrap();
        assert_eq!(b.accounts["a"].balance, 40);
        // Two refunds of 40 against a charge of 60: the second exceeds what is left. The
        // policy is `record`, so both go ahead (a goodwill gesture is the business's call)
        // and the second counts as a violation; so does a negative refund, which debits.
        assert_eq!(b.refund("t", &Refund { charge: c.id, amount: 40 }).unwrap().1.balance, 80);
        assert_eq!(violations(), 0, "the first refund is within the charge");
        let (charge, account) = b.refund("t", &Refund { charge: c.id, amount: 40 }).unwrap();
        assert_eq!((charge.refunded, account.balance), (80, 120));
        assert_eq!(violations(), 1, "the second exceeds what is left of the charge");
        assert_eq!(b.refund("t", &Refund { charge: c.id, amount: -5 }).unwrap().1.balance, 115);
        assert_eq!(violations(), 2, "a negative refund");
        assert!(matches!(b.refund("u", &Refund { charge: c.id, amount: 1 }), Err(BankError::NotFound(_))));
    }
}
