//! Online payments: where a Checkout Session attempt and a refund stand, and which news may
//! move them. Stripe delivers events late, twice and out of order, so each state has a rank
//! and only news of a higher rank moves it: the state reached after any order of the same
//! events is the state reached after them in order.

use crate::vocabulary;

vocabulary! {
    /// A Checkout Session attempt.
    pub enum CheckoutState {
        /// Our row is written; Stripe has not answered yet (or the answer was lost).
        Creating = "creating",
        /// Stripe opened the session; the patient may pay.
        Open = "open",
        /// Stripe could not open it (the attempt is over; the next click makes a new one).
        Failed = "failed",
        /// Closed without payment.
        Expired = "expired",
        /// Paid.
        Complete = "complete",
    }
}

impl CheckoutState {
    /// Its rank: complete beats everything (a payment is a fact), expired and failed beat
    /// open, open beats creating.
    pub const fn rank(self) -> u8 {
        match self {
            CheckoutState::Creating => 0,
            CheckoutState::Open => 1,
            CheckoutState::Failed | CheckoutState::Expired => 2,
            CheckoutState::Complete => 3,
        }
    }

    /// Whether news that the session is `next` changes this state.
    pub const fn moves_to(self, next: CheckoutState) -> bool {
        next.rank() > self.rank()
    }

    /// Whether the patient can still pay through it.
    pub const fn is_live(self) -> bool {
        matches!(self, CheckoutState::Creating | CheckoutState::Open)
    }
}

vocabulary! {
    /// A refund, as Stripe reports it, after our `requested`.
    pub enum RefundState {
        /// Written by us; Stripe does not have it yet.
        Requested = "requested",
        /// Stripe has it; the money is on its way.
        Pending = "pending",
        /// Stripe needs something from the customer (rare for cards, Bancontact, iDEAL).
        RequiresAction = "requires_action",
        /// Done: the money went back.
        Succeeded = "succeeded",
        /// Stripe could not return the money.
        Failed = "failed",
        /// Cancelled before it went through.
        Canceled = "canceled",
    }
}

impl RefundState {
    /// Stripe's `status` word, if it is one we know.
    pub fn from_stripe(status: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|s| *s != RefundState::Requested && s.as_str() == status)
    }

    /// Its rank. A refund that succeeded can still fail later (the bank sends the money
    /// back); failed and canceled are final.
    pub const fn rank(self) -> u8 {
        match self {
            RefundState::Requested => 0,
            RefundState::Pending | RefundState::RequiresAction => 1,
            RefundState::Succeeded => 2,
            RefundState::Failed | RefundState::Canceled => 3,
        }
    }

    /// Whether news that the refund is `next` changes this state.
    pub const fn moves_to(self, next: RefundState) -> bool {
        next.rank() > self.rank()
    }

    /// Whether the money is back with the patient (it counts against what was paid).
    pub const fn returned(self) -> bool {
        matches!(self, RefundState::Succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn apply_checkout(order: &[CheckoutState]) -> CheckoutState {
        order.iter().fold(
            CheckoutState::Creating,
            |s, &n| if s.moves_to(n) { n } else { s },
        )
    }

    fn apply_refund(order: &[RefundState]) -> RefundState {
        order.iter().fold(
            RefundState::Requested,
            |s, &n| if s.moves_to(n) { n } else { s },
        )
    }

    proptest! {
        #[test]
        fn any_order_and_any_repeats_of_the_same_news_end_in_the_same_checkout_state(
            news in proptest::collection::vec(0usize..5, 1..12),
            shuffle in proptest::collection::vec(any::<u32>(), 12),
            repeat in proptest::collection::vec(1usize..4, 12),
        ) {
            let news: Vec<CheckoutState> = news.iter().map(|&i| CheckoutState::ALL[i]).collect();
            let mut delivered: Vec<(u32, CheckoutState)> = Vec::new();
            for (i, n) in news.iter().enumerate() {
                for r in 0..repeat[i] {
                    delivered.push((shuffle[i].wrapping_add(r as u32 * 7919), *n));
                }
            }
            delivered.sort_by_key(|(k, _)| *k);
            let shuffled: Vec<CheckoutState> = delivered.into_iter().map(|(_, n)| n).collect();
            let a = apply_checkout(&news);
            let b = apply_checkout(&shuffled);
            // Expired and failed share a rank: whichever came first stays; neither is a payment.
            prop_assert_eq!(a.rank(), b.rank());
        }

        #[test]
        fn any_order_of_refund_news_ends_in_the_same_refund_state(
            news in proptest::collection::vec(1usize..6, 1..10),
            keys in proptest::collection::vec(any::<u32>(), 10),
        ) {
            let news: Vec<RefundState> = news.iter().map(|&i| RefundState::ALL[i]).collect();
            let mut shuffled: Vec<(u32, RefundState)> = news.iter().enumerate().map(|(i, n)| (keys[i], *n)).collect();
            shuffled.sort_by_key(|(k, _)| *k);
            let shuffled: Vec<RefundState> = shuffled.into_iter().map(|(_, n)| n).collect();
            prop_assert_eq!(apply_refund(&news).rank(), apply_refund(&shuffled).rank());
            prop_assert_eq!(apply_refund(&news).returned(), apply_refund(&shuffled).returned());
        }
    }

    #[test]
    fn a_payment_is_never_undone_by_an_expiry() {
        assert!(!CheckoutState::Complete.moves_to(CheckoutState::Expired));
        assert!(CheckoutState::Expired.moves_to(CheckoutState::Complete));
        assert!(CheckoutState::Open.moves_to(CheckoutState::Expired));
        assert!(!CheckoutState::Open.moves_to(CheckoutState::Creating));
    }

    #[test]
    fn refund_words_are_stripes() {
        assert_eq!(
            RefundState::from_stripe("succeeded"),
            Some(RefundState::Succeeded)
        );
        assert_eq!(RefundState::from_stripe("requested"), None);
        assert_eq!(RefundState::from_stripe("weird"), None);
        assert!(RefundState::Succeeded.moves_to(RefundState::Failed));
        assert!(!RefundState::Failed.moves_to(RefundState::Succeeded));
    }
}
