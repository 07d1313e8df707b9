"""``experiments.yaml`` for the simulated shop: its planted experiments, declared as a team would.

The demo project gets this file, so its dashboard, CLI and flags endpoint show the planted
experiment (a real lift on ``add_to_cart``), the A/A check and the sample-ratio mismatch, plus a
triggered popup test and a personalization rule with a holdout that have no traffic yet.

>>> from microfunnel.experiments.definitions import parse_definitions
>>> import yaml
>>> defs = parse_definitions(yaml.safe_load(demo_experiments_yaml()))
>>> sorted(defs.experiments)[:3]
['aa_check', 'discount_popup', 'free_shipping_banner']
"""

from __future__ import annotations

from microfunnel.sim.planted import Planted
from microfunnel.sim.shop import DEFAULT_START

__all__ = ["demo_experiments_yaml"]

_TEMPLATE = """\
# Experiments and features served at /api/features/<write key>.
# Each experiment declares its hypothesis, arms, targeting, trigger, metrics, method and
# stopping rule before launch; `microfunnel experiment analyze KEY` reads them.
version: 1

metrics:
  revenue_per_visitor:
    kind: revenue
    event: purchase
    cap: 0.99
    description: purchase value per exposed visitor, capped at the 99th percentile
  checkout_error_rate:
    kind: conversion
    event: checkout_error
    higher_is_better: false
  items_per_cart:
    kind: ratio
    numerator: {{kind: count, event: add_to_cart}}
    denominator: {{kind: conversion, event: add_to_cart}}
  checkout_funnel:
    kind: funnel
    steps: [add_to_cart, begin_checkout, add_payment_info, purchase]

experiments:
  - key: {experiment}
    name: Free-shipping banner on product pages
    hypothesis: >-
      Shoppers hesitate at the product page because shipping costs are unknown; a banner
      promising free shipping over 50 EUR raises add-to-cart and fills carts.
    feature: free-shipping-banner
    variations:
      - {{key: control, value: false}}
      - {{key: treatment, value: true}}
    weights: [0.5, 0.5]
    primary: add_to_cart
    secondary: [purchase, revenue_per_visitor, items_per_cart, checkout_funnel]
    guardrails: [checkout_error_rate]
    method: frequentist
    stopping: {{rule: msprt, alpha: 0.05, looks: 10, min_sample: 2000}}
    mde: {mde}
    start: {start}
    duration_days: 28
    segments: [device, utm_source]
    window_hours: 72
    status: running

  - key: {aa}
    name: A/A check of the assignment pipeline
    hypothesis: Both arms are identical; any declared difference is a false positive.
    variations: [control, treatment]
    primary: add_to_cart
    secondary: [purchase]
    guardrails: [checkout_error_rate]
    stopping: {{rule: msprt, alpha: 0.05, looks: 10}}
    mde: 0.05
    start: {start}
    duration_days: 28
    status: running

  - key: {srm}
    name: Recommendation widget (broken assignment)
    hypothesis: A recommendation widget raises add-to-cart.
    variations: [control, treatment]
    weights: [0.5, 0.5]
    primary: add_to_cart
    guardrails: [checkout_error_rate]
    mde: 0.05
    start: {start}
    duration_days: 28
    status: running

  - key: discount_popup
    name: Discount popup for lingering mobile shoppers
    hypothesis: >-
      Mobile shoppers who linger on a product page hesitate on price; a 10 % popup tips
      them over.
    feature: discount-popup
    variations:
      - {{key: control, value: false}}
      - {{key: popup, value: true}}
    trigger: {{device: mobile, session_duration: {{$gt: 120}}, scroll_depth: {{$gte: 50}}}}
    primary: add_to_cart
    secondary: [revenue_per_visitor]
    guardrails: [checkout_error_rate]
    method: bayesian
    mde: 0.08
    namespace: {{id: pdp, range: [0, 0.5]}}
    status: draft

  - key: hero_image
    name: Hero image (bandit)
    hypothesis: One of three hero images sells best; send traffic to it while learning.
    feature: hero-image
    variations:
      - {{key: studio, value: studio}}
      - {{key: lifestyle, value: lifestyle}}
      - {{key: model, value: model}}
    primary: add_to_cart
    adaptive: true
    namespace: {{id: pdp, range: [0.5, 1]}}
    status: running

features:
  size-guide-prompt:
    type: boolean
    default: false
    rules:
      - type: force
        id: returning-mobile
        condition: {{device: mobile, returning: true}}
        value: true
        holdout: 0.1
"""


def demo_experiments_yaml(planted: Planted | None = None) -> str:
    """The demo project's experiments.yaml, matching ``planted`` (the defaults by default)."""
    p = planted or Planted()
    return _TEMPLATE.format(
        experiment=p.experiment_id,
        aa=p.aa_experiment_id,
        srm=p.srm_experiment_id or "srm_demo",
        mde=p.experiment_atc_lift,
        start=DEFAULT_START.isoformat(),
    )


DEMO_HYPOTHESES = """\
# Ideas waiting to become experiments, ranked on the Experiments page by PXL or ICE.
hypotheses:
  - key: mobile-payment-step
    problem: Most mobile shoppers who enter shipping details never reach payment.
    change: Wallet buttons (Apple Pay, Google Pay) on the mobile shipping step.
    expected_lift: 0.15
    rationale: The funnel's bottleneck is shipping -> payment, and it is worst on mobile.
    metrics: [add_payment_info, purchase]
    risks: Wallet fees on small orders.
    ice: {impact: 9, confidence: 7, ease: 5}
    pxl: {above_fold: true, noticeable_5s: true, adds_or_removes: true, high_traffic: true,
          analytics: true, ease: 1}
  - key: size-guide-inline
    problem: Shoppers who open the size guide buy far more often, but few find it.
    change: Show the size table inline under the size picker.
    expected_lift: 0.05
    rationale: size_guide_open is the strongest driver of purchase (an association, not a cause).
    metrics: [add_to_cart]
    risks: A longer product page on mobile.
    ice: {impact: 6, confidence: 5, ease: 8}
    pxl: {noticeable_5s: true, adds_or_removes: true, high_traffic: true, analytics: true, ease: 2}
  - key: cart-shipping-loop
    problem: Some shoppers go back from shipping to the cart and then return to shipping.
    change: Editable cart summary on the shipping step.
    expected_lift: 0.03
    rationale: The shipping -> cart -> shipping loop in Paths.
    metrics: [add_payment_info]
    risks: Clutter on the shipping step.
    ice: {impact: 4, confidence: 4, ease: 6}
    pxl: {adds_or_removes: true, analytics: true, ease: 2}
"""


def demo_hypotheses_yaml() -> str:
    """The demo project's hypotheses.yaml: ideas drawn from what the demo data shows."""
    return DEMO_HYPOTHESES
