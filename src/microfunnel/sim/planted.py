"""The effects planted in the simulated shop: the ground truth analyses must recover.

Every number an analysis is expected to find is a named field of :class:`Planted`, so a test or a
page of documentation reads the truth from here instead of repeating a magic number. Both the
event-by-event simulator (:func:`microfunnel.sim.simulate`) and the vectorized bulk generator
(:func:`microfunnel.sim.simulate_arrow`) draw their journeys from these values.

Examples:
    >>> from microfunnel.sim import Planted
    >>> p = Planted()
    >>> p.shipping_to_payment("mobile") < p.shipping_to_payment("desktop")
    True
    >>> round(p.experiment_aov_lift, 3)
    0.08
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICES", "Planted"]

DEVICES = ("desktop", "mobile", "tablet")


@dataclass(frozen=True)
class Planted:
    """Known effects in the simulated shop (all probabilities are per session unless noted).

    Friction (a): of the sessions that send ``add_shipping_info``, the share that go on to
    ``add_payment_info`` is ``shipping_to_payment_<device>``: mobile shoppers drop far more often,
    so the shipping -> payment step is the funnel's bottleneck, worst on mobile.

    Tracking break (b): from day ``tracking_break_day`` (0 = the first simulated day) on,
    ``tracking_break_event`` is no longer sent from ``tracking_break_device``. Shoppers behave as
    before (``view_cart``, ``begin_checkout``, ``purchase`` keep coming); only the event is lost.
    ``None`` switches the break off.

    Loop (c): a share ``shipping_loop_rate`` of the sessions reaching ``add_shipping_info`` go
    ``add_shipping_info -> view_cart -> add_shipping_info`` before moving on.

    Experiment (d): ``experiment_id`` splits visitors 50/50 into ``control`` and ``treatment``
    (an ``experiment_exposure`` event in each visitor's first session). Treatment multiplies the
    per-session ``add_to_cart`` probability by ``1 + experiment_atc_lift`` and raises the chance
    that a cart gets a second item from ``cart_extra_item_rate`` to ``experiment_extra_item_rate``;
    so the average order value moves by :attr:`experiment_aov_lift` and revenue per session by
    :attr:`experiment_revenue_lift` (in expectation; later steps are untouched).

    A/A (e): ``aa_experiment_id`` splits 50/50 and changes nothing.

    SRM (f): ``srm_experiment_id`` assigns ``control`` with probability ``srm_control_share``
    (a sample-ratio mismatch an SRM check must flag) and changes nothing else.

    Micro-conversions: seeing the size guide or reading reviews in a session multiplies its
    ``add_to_cart`` probability by ``size_guide_atc_multiplier`` / ``review_read_atc_multiplier``;
    a video play barely moves it (``video_play_atc_multiplier``). Since later steps do not depend
    on them, purchase probability rises by the same factor.

    Bots: a share ``bot_share`` of visitors are bots: ``context.is_bot`` true, a crawler user
    agent, many page views ``bot_gap_seconds`` apart, and never a cart.
    """

    # (a) friction: add_shipping_info -> add_payment_info, per device
    shipping_to_payment_desktop: float = 0.80
    shipping_to_payment_tablet: float = 0.72
    shipping_to_payment_mobile: float = 0.42
    # (b) tracking break
    tracking_break_day: int | None = 20
    tracking_break_device: str = "desktop"
    tracking_break_event: str = "add_to_cart"
    # (c) loop
    shipping_loop_rate: float = 0.15
    # (d) experiment with a real effect
    experiment_id: str = "free_shipping_banner"
    experiment_atc_lift: float = 0.10
    cart_extra_item_rate: float = 0.25
    experiment_extra_item_rate: float = 0.35
    # (e) A/A
    aa_experiment_id: str = "aa_check"
    # (f) sample-ratio mismatch
    srm_experiment_id: str | None = "srm_demo"
    srm_control_share: float = 0.52
    # micro-conversions that predict purchase
    size_guide_atc_multiplier: float = 1.9
    review_read_atc_multiplier: float = 1.7
    video_play_atc_multiplier: float = 1.05
    # bots
    bot_share: float = 0.03
    bot_gap_seconds: float = 0.3

    def shipping_to_payment(self, device: str) -> float:
        """The planted share of ``add_shipping_info`` sessions that reach ``add_payment_info``."""
        rates = {
            "desktop": self.shipping_to_payment_desktop,
            "tablet": self.shipping_to_payment_tablet,
            "mobile": self.shipping_to_payment_mobile,
        }
        return rates[device]

    def tracking_broken(self, event: str, device: str, day: int) -> bool:
        """Whether ``event`` from ``device`` on simulated ``day`` is lost by the planted break."""
        return (
            self.tracking_break_day is not None
            and day >= self.tracking_break_day
            and event == self.tracking_break_event
            and device == self.tracking_break_device
        )

    @property
    def experiment_aov_lift(self) -> float:
        """Expected relative change of the average order value, treatment vs control.

        Every cart holds one item, plus a second with the extra-item rate; item prices do not
        depend on the arm, so the mean order value scales with the mean number of items.
        """
        return (1 + self.experiment_extra_item_rate) / (1 + self.cart_extra_item_rate) - 1

    @property
    def experiment_revenue_lift(self) -> float:
        """Expected relative change of revenue per session, treatment vs control."""
        return (1 + self.experiment_atc_lift) * (1 + self.experiment_aov_lift) - 1
