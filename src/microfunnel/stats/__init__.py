"""Statistics engine: pure functions on sufficient statistics.

Every analysis takes frozen, addable sufficient-statistic dataclasses (``ProportionStats``,
``MeanStats``, ``RatioStats``, ``CupedStats``) and returns a frozen result; degenerate data gives
a neutral result with codes in ``warnings`` (see ``messages``), never an exception.

>>> from microfunnel.stats import ProportionStats, z_test_proportions
>>> z_test_proportions(ProportionStats(1000, 100), ProportionStats(1000, 130)).significant
True
"""

from __future__ import annotations

from microfunnel.stats.association import (
    OddsRatio,
    fit_logistic,
    odds_ratio,
    roc_auc,
)
from microfunnel.stats.bandit import (
    thompson_weights,
)
from microfunnel.stats.bayesian import (
    BayesResult,
    BetaPrior,
    NormalPrior,
    bayes_means,
    bayes_proportions,
    beta_posterior_draws,
    chance_to_be_best,
    expected_loss_normal,
)
from microfunnel.stats.changepoint import (
    RateDrop,
    binomial_change_point,
    cusum_drops,
)
from microfunnel.stats.corrections import (
    AdjustedPValues,
    CorrectionMethod,
    Scope,
    adjust_pvalues,
)
from microfunnel.stats.cuped import (
    AdjustedArm,
    CupedAdjustment,
    CupedResult,
    cuped_adjust,
    cuped_test,
)
from microfunnel.stats.frequentist import (
    Alternative,
    EffectResult,
    TestKind,
    compare_moments,
    critical_value,
    welch_t_test,
    z_test_proportions,
)
from microfunnel.stats.group_sequential import (
    GroupSequentialBounds,
    Spending,
    crossing_probabilities,
    group_sequential_bounds,
    spent_alpha,
)
from microfunnel.stats.hierarchical import (
    PooledEffects,
    TauMethod,
    partial_pool,
)
from microfunnel.stats.messages import (
    WarningCode,
)
from microfunnel.stats.power import (
    Design,
    PowerResult,
    duration_days,
    inflation_factor,
    mde_means,
    mde_proportions,
    sample_size_means,
    sample_size_proportions,
)
from microfunnel.stats.sequential import (
    DEFAULT_TUNING_N,
    SequentialResult,
    msprt_log_evalue,
    msprt_rho2,
    msprt_test,
)
from microfunnel.stats.srm import (
    SrmResult,
    SrmSlice,
    srm_drilldown,
    srm_test,
)
from microfunnel.stats.stopping import (
    Action,
    Decision,
    Method,
    StoppingRule,
    decide,
)
from microfunnel.stats.suffstats import (
    CupedStats,
    MeanStats,
    ProportionStats,
    RatioStats,
)
from microfunnel.stats.survival import (
    KaplanMeier,
    LogRankResult,
    kaplan_meier,
    kaplan_meier_from_counts,
    logrank_test,
)

__all__ = [
    "DEFAULT_TUNING_N",
    "Action",
    "AdjustedArm",
    "AdjustedPValues",
    "Alternative",
    "BayesResult",
    "BetaPrior",
    "CorrectionMethod",
    "CupedAdjustment",
    "CupedResult",
    "CupedStats",
    "Decision",
    "Design",
    "EffectResult",
    "GroupSequentialBounds",
    "KaplanMeier",
    "LogRankResult",
    "MeanStats",
    "Method",
    "NormalPrior",
    "OddsRatio",
    "PooledEffects",
    "PowerResult",
    "ProportionStats",
    "RateDrop",
    "RatioStats",
    "Scope",
    "SequentialResult",
    "Spending",
    "SrmResult",
    "SrmSlice",
    "StoppingRule",
    "TauMethod",
    "TestKind",
    "WarningCode",
    "adjust_pvalues",
    "bayes_means",
    "bayes_proportions",
    "beta_posterior_draws",
    "binomial_change_point",
    "chance_to_be_best",
    "compare_moments",
    "critical_value",
    "crossing_probabilities",
    "cuped_adjust",
    "cuped_test",
    "cusum_drops",
    "decide",
    "duration_days",
    "expected_loss_normal",
    "fit_logistic",
    "group_sequential_bounds",
    "inflation_factor",
    "kaplan_meier",
    "kaplan_meier_from_counts",
    "logrank_test",
    "mde_means",
    "mde_proportions",
    "msprt_log_evalue",
    "msprt_rho2",
    "msprt_test",
    "odds_ratio",
    "partial_pool",
    "roc_auc",
    "sample_size_means",
    "sample_size_proportions",
    "spent_alpha",
    "srm_drilldown",
    "srm_test",
    "thompson_weights",
    "welch_t_test",
    "z_test_proportions",
]
