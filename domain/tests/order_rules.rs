//! Given/when/then tests of every order rule, and who may buy what.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use gavel_domain::clock::ManualClock;
use gavel_domain::order::{
    Order, OrderCommand, OrderError, OrderEvent, OrderServices, OrderStatus, PlacedOrder,
    DEFAULT_PAYMENT_TIMEOUT,
};
use gavel_domain::{Currency, Money};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::new("USD").unwrap())
}

fn at(now: DateTime<Utc>) -> TestFramework<Order> {
    TestFramework::with(OrderServices {
        clock: Arc::new(ManualClock::new(now)),
    })
}

fn placed() -> PlacedOrder {
    PlacedOrder {
        order_id: Uuid::from_u128(1),
        buyer_id: Uuid::from_u128(2),
        seller_id: Uuid::from_u128(3),
        listing_id: Uuid::from_u128(4),
        sku: "AJ1-CHI-42".into(),
        quantity: 2,
        unit_price: usd(12_000),
        total: usd(24_000),
        reserved_at: t0(),
        expires_at: t0() + DEFAULT_PAYMENT_TIMEOUT,
    }
}

fn paid() -> OrderEvent {
    OrderEvent::OrderPaid {
        payment_id: "pay_1".into(),
        amount: usd(24_000),
        at: t0(),
    }
}

fn confirm(payment: &str, minor: i64) -> OrderCommand {
    OrderCommand::ConfirmPayment {
        payment_id: payment.into(),
        amount: usd(minor),
    }
}

#[test]
fn placing_an_order_twice_records_it_once() {
    at(t0())
        .given_no_previous_events()
        .when(OrderCommand::Place(placed()))
        .then_expect_events(vec![OrderEvent::OrderPlaced(placed())]);
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed())])
        .when(OrderCommand::Place(placed()))
        .then_expect_events(vec![]);
}

#[test]
fn a_payment_of_the_total_pays_the_order_and_confirming_twice_counts_once() {
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed())])
        .when(confirm("pay_1", 24_000))
        .then_expect_events(vec![paid()]);
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed()), paid()])
        .when(confirm("pay_1", 24_000))
        .then_expect_events(vec![]);
}

#[test]
fn a_payment_of_another_amount_is_refused() {
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed())])
        .when(confirm("pay_1", 100))
        .then_expect_error(OrderError::AmountMismatch {
            paid: usd(100),
            total: usd(24_000),
        });
}

#[test]
fn an_unpaid_order_expires_only_when_its_time_is_up() {
    at(t0() + Duration::minutes(14))
        .given(vec![OrderEvent::OrderPlaced(placed())])
        .when(OrderCommand::Expire)
        .then_expect_error(OrderError::NotYetExpired {
            expires_at: placed().expires_at,
        });
    let end = t0() + Duration::minutes(15);
    at(end)
        .given(vec![OrderEvent::OrderPlaced(placed())])
        .when(OrderCommand::Expire)
        .then_expect_events(vec![OrderEvent::OrderExpired { at: end }]);
    at(end)
        .given(vec![OrderEvent::OrderPlaced(placed()), paid()])
        .when(OrderCommand::Expire)
        .then_expect_events(vec![]);
}

#[test]
fn a_payment_after_expiry_is_refused() {
    at(t0())
        .given(vec![
            OrderEvent::OrderPlaced(placed()),
            OrderEvent::OrderExpired { at: t0() },
        ])
        .when(confirm("pay_1", 24_000))
        .then_expect_error(OrderError::NotAwaitingPayment {
            status: OrderStatus::Expired,
        });
}

#[test]
fn a_failed_payment_cancels_the_order_once() {
    let cancelled = OrderEvent::OrderCancelled {
        payment_id: "pay_1".into(),
        at: t0(),
    };
    let fail = OrderCommand::FailPayment {
        payment_id: "pay_1".into(),
    };
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed())])
        .when(fail.clone())
        .then_expect_events(vec![cancelled.clone()]);
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed()), cancelled])
        .when(fail)
        .then_expect_events(vec![]);
}

#[test]
fn only_a_paid_order_completes_and_completing_twice_changes_nothing() {
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed())])
        .when(OrderCommand::Complete)
        .then_expect_error(OrderError::NotPaid);
    at(t0())
        .given(vec![OrderEvent::OrderPlaced(placed()), paid()])
        .when(OrderCommand::Complete)
        .then_expect_events(vec![OrderEvent::OrderCompleted { at: t0() }]);
    at(t0())
        .given(vec![
            OrderEvent::OrderPlaced(placed()),
            paid(),
            OrderEvent::OrderCompleted { at: t0() },
        ])
        .when(OrderCommand::Complete)
        .then_expect_events(vec![]);
}

#[test]
fn commands_on_an_unknown_order_are_not_found() {
    at(t0())
        .given_no_previous_events()
        .when(confirm("pay_1", 24_000))
        .then_expect_error(OrderError::NotFound);
}
