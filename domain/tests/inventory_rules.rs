//! Given/when/then tests of every stock rule, named after the rule they check.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use gavel_domain::clock::ManualClock;
use gavel_domain::inventory::{
    Inventory, InventoryCommand, InventoryError, InventoryEvent, InventoryServices, Reservation,
    StockLevels,
};
use gavel_domain::listing::Actor;
use gavel_domain::{Currency, Money, Role};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

fn seller() -> Actor {
    Actor::new(Uuid::from_u128(100), [Role::Seller])
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::new("USD").unwrap())
}

fn levels(on_hand: u32, reserved: u32) -> StockLevels {
    StockLevels {
        on_hand,
        reserved,
        available: on_hand - reserved,
    }
}

fn framework() -> TestFramework<Inventory> {
    TestFramework::with(InventoryServices {
        clock: Arc::new(ManualClock::new(t0())),
    })
}

fn opened() -> InventoryEvent {
    InventoryEvent::InventoryOpened {
        seller_id: seller().user_id,
        sku: "AJ1-CHI-42".into(),
        at: t0(),
    }
}

fn received(quantity: u32, on_hand: u32) -> InventoryEvent {
    InventoryEvent::StockReceived {
        quantity,
        reason: "delivery".into(),
        levels: levels(on_hand, 0),
        at: t0(),
    }
}

fn receive(quantity: u32) -> InventoryCommand {
    InventoryCommand::Receive {
        actor: seller(),
        sku: "AJ1-CHI-42".into(),
        quantity,
        reason: "delivery".into(),
    }
}

fn reservation(order: u128, quantity: u32) -> Reservation {
    Reservation {
        order_id: Uuid::from_u128(order),
        buyer_id: Uuid::from_u128(2000),
        listing_id: Uuid::from_u128(1),
        quantity,
        unit_price: usd(12_000),
    }
}

fn reserved(order: u128, quantity: u32, after: StockLevels) -> InventoryEvent {
    let r = reservation(order, quantity);
    InventoryEvent::StockReserved {
        order_id: r.order_id,
        buyer_id: r.buyer_id,
        listing_id: r.listing_id,
        quantity,
        unit_price: r.unit_price,
        levels: after,
        at: t0(),
    }
}

fn state(events: &[InventoryEvent]) -> Inventory {
    let mut inventory = Inventory::default();
    for event in events {
        inventory.apply(event.clone());
    }
    inventory
}

#[test]
fn the_first_receipt_opens_the_sku_for_its_seller() {
    framework()
        .given_no_previous_events()
        .when(receive(7))
        .then_expect_events(vec![opened(), received(7, 7)]);
}

#[test]
fn only_sellers_keep_stock_and_only_the_owner_changes_it() {
    let buyer = Actor::new(Uuid::from_u128(5), [Role::Buyer]);
    framework()
        .given_no_previous_events()
        .when(InventoryCommand::Receive {
            actor: buyer,
            sku: "X".into(),
            quantity: 1,
            reason: "r".into(),
        })
        .then_expect_error(InventoryError::NotASeller);
    let other = Actor::new(Uuid::from_u128(6), [Role::Seller]);
    framework()
        .given(vec![opened(), received(7, 7)])
        .when(InventoryCommand::Receive {
            actor: other,
            sku: "AJ1-CHI-42".into(),
            quantity: 1,
            reason: "r".into(),
        })
        .then_expect_error(InventoryError::NotOwner);
}

#[test]
fn a_reservation_holds_units_and_available_is_on_hand_minus_reserved() {
    framework()
        .given(vec![opened(), received(7, 7)])
        .when(InventoryCommand::Reserve(reservation(1, 3)))
        .then_expect_events(vec![reserved(1, 3, levels(7, 3))]);
}

#[test]
fn a_reservation_beyond_available_is_sold_out_and_available_never_goes_negative() {
    framework()
        .given(vec![opened(), received(2, 2), reserved(1, 2, levels(2, 2))])
        .when(InventoryCommand::Reserve(reservation(2, 1)))
        .then_expect_error(InventoryError::SoldOut {
            available: 0,
            requested: 1,
        });
}

#[test]
fn reserving_again_for_the_same_order_changes_nothing() {
    framework()
        .given(vec![opened(), received(7, 7), reserved(1, 3, levels(7, 3))])
        .when(InventoryCommand::Reserve(reservation(1, 3)))
        .then_expect_events(vec![]);
}

#[test]
fn releasing_returns_the_units_once() {
    let given = vec![opened(), received(7, 7), reserved(1, 3, levels(7, 3))];
    let release = InventoryEvent::StockReleased {
        order_id: Uuid::from_u128(1),
        quantity: 3,
        levels: levels(7, 0),
        at: t0(),
    };
    framework()
        .given(given.clone())
        .when(InventoryCommand::Release {
            order_id: Uuid::from_u128(1),
        })
        .then_expect_events(vec![release.clone()]);
    let mut after = given;
    after.push(release);
    framework()
        .given(after.clone())
        .when(InventoryCommand::Release {
            order_id: Uuid::from_u128(1),
        })
        .then_expect_events(vec![]);
    // A released order cannot reserve again: its id is spent.
    framework()
        .given(after)
        .when(InventoryCommand::Reserve(reservation(1, 3)))
        .then_expect_events(vec![]);
}

#[test]
fn shipping_takes_the_units_off_hand_once() {
    let given = vec![opened(), received(7, 7), reserved(1, 3, levels(7, 3))];
    let shipped = InventoryEvent::StockShipped {
        order_id: Uuid::from_u128(1),
        quantity: 3,
        levels: levels(4, 0),
        at: t0(),
    };
    framework()
        .given(given.clone())
        .when(InventoryCommand::Ship {
            order_id: Uuid::from_u128(1),
        })
        .then_expect_events(vec![shipped.clone()]);
    let mut after = given;
    after.push(shipped);
    framework()
        .given(after.clone())
        .when(InventoryCommand::Ship {
            order_id: Uuid::from_u128(1),
        })
        .then_expect_events(vec![]);
    assert_eq!(state(&after).levels(), levels(4, 0));
}

#[test]
fn a_count_sets_on_hand_with_its_difference_but_never_below_what_is_reserved() {
    let count = |on_hand| InventoryCommand::Count {
        actor: seller(),
        sku: "AJ1-CHI-42".into(),
        on_hand,
        reason: "stocktake".into(),
    };
    let given = vec![opened(), received(7, 7), reserved(1, 3, levels(7, 3))];
    framework()
        .given(given.clone())
        .when(count(5))
        .then_expect_events(vec![InventoryEvent::StockCounted {
            counted: 5,
            difference: -2,
            reason: "stocktake".into(),
            levels: levels(5, 3),
            at: t0(),
        }]);
    framework()
        .given(given)
        .when(count(2))
        .then_expect_error(InventoryError::CountBelowReserved { reserved: 3 });
}

#[test]
fn low_stock_is_raised_once_per_downward_crossing() {
    let threshold = InventoryEvent::LowStockThresholdSet {
        threshold: Some(2),
        at: t0(),
    };
    let low = |available| InventoryEvent::LowStock {
        available,
        threshold: 2,
        at: t0(),
    };
    // 4 available, reserve 2: crosses to 2.
    let given = vec![opened(), received(4, 4), threshold];
    framework()
        .given(given.clone())
        .when(InventoryCommand::Reserve(reservation(1, 2)))
        .then_expect_events(vec![reserved(1, 2, levels(4, 2)), low(2)]);
    // Still below: no second event.
    let mut below = given;
    below.extend([reserved(1, 2, levels(4, 2)), low(2)]);
    framework()
        .given(below.clone())
        .when(InventoryCommand::Reserve(reservation(2, 1)))
        .then_expect_events(vec![reserved(2, 1, levels(4, 3))]);
    // Back above (release), then down again: a new crossing.
    below.push(InventoryEvent::StockReleased {
        order_id: Uuid::from_u128(1),
        quantity: 2,
        levels: levels(4, 0),
        at: t0(),
    });
    framework()
        .given(below)
        .when(InventoryCommand::Reserve(reservation(3, 3)))
        .then_expect_events(vec![reserved(3, 3, levels(4, 3)), low(1)]);
}

#[test]
fn malformed_skus_reasons_and_quantities_are_refused() {
    framework()
        .given_no_previous_events()
        .when(InventoryCommand::Receive {
            actor: seller(),
            sku: "has space".into(),
            quantity: 1,
            reason: "r".into(),
        })
        .then_expect_error_message("a SKU is 1 to 64 letters, digits, '-', '_' or '.'");
    framework()
        .given(vec![opened(), received(7, 7)])
        .when(receive(0))
        .then_expect_error_message("receive at least one unit");
    framework()
        .given(vec![opened(), received(7, 7)])
        .when(InventoryCommand::Receive {
            actor: seller(),
            sku: "AJ1-CHI-42".into(),
            quantity: 1,
            reason: " ".into(),
        })
        .then_expect_error_message("give a reason of 1 to 500 characters");
}

#[test]
fn reserving_from_a_sku_never_stocked_is_not_found() {
    framework()
        .given_no_previous_events()
        .when(InventoryCommand::Reserve(reservation(1, 1)))
        .then_expect_error(InventoryError::NotFound);
}
