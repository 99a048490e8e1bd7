//! Who may buy from which listing, and at what price.

mod support;

use gavel_domain::listing::{Actor, FixedPriceTerms, ListingEvent, ListingTerms};
use gavel_domain::order::{purchase_terms, PurchaseError};
use gavel_domain::Role;
use support::*;

fn stocked(sku: Option<&str>) -> Vec<ListingEvent> {
    vec![created(ListingTerms::FixedPrice(FixedPriceTerms {
        price: usd("120.00"),
        quantity: 2,
        sku: sku.map(str::to_string),
    }))]
}

#[test]
fn a_buyer_buys_a_stocked_fixed_price_listing_at_its_current_price() {
    let mut events = stocked(Some("AJ1"));
    events.push(ListingEvent::ListingRepriced {
        old_price: usd("120.00"),
        new_price: usd("110.00"),
        at: t0(),
    });
    let terms = purchase_terms(&state(&events), &bidder(1), 2).unwrap();
    assert_eq!(terms.seller_id, seller().user_id);
    assert_eq!(terms.sku, "AJ1");
    assert_eq!(terms.unit_price, usd("110.00"));
}

#[test]
fn purchases_are_refused_for_the_reasons_a_buyer_can_act_on() {
    let listing = state(&stocked(Some("AJ1")));
    assert_eq!(
        purchase_terms(&listing, &Actor::new(seller().user_id, [Role::Buyer]), 1),
        Err(PurchaseError::OwnListing)
    );
    assert_eq!(
        purchase_terms(&listing, &bidder(1), 3),
        Err(PurchaseError::InvalidQuantity { max: 2 })
    );
    assert_eq!(
        purchase_terms(&listing, &Actor::new(bidder(1).user_id, [Role::Seller]), 1),
        Err(PurchaseError::NotABuyer)
    );
    assert_eq!(
        purchase_terms(&state(&stocked(None)), &bidder(1), 1),
        Err(PurchaseError::NotStocked)
    );
    assert_eq!(
        purchase_terms(
            &state(&[auction_created(auction_terms("100.00"))]),
            &bidder(1),
            1
        ),
        Err(PurchaseError::NotFixedPrice)
    );
    assert_eq!(
        purchase_terms(&state(&[]), &bidder(1), 1),
        Err(PurchaseError::NotFound)
    );
    let mut withdrawn = stocked(Some("AJ1"));
    withdrawn.push(ListingEvent::ListingWithdrawn { at: t0() });
    assert_eq!(
        purchase_terms(&state(&withdrawn), &bidder(1), 1),
        Err(PurchaseError::NotActive)
    );
}
