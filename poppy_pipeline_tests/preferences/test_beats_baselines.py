"""Both models beat popularity and the service's two models, on seeds and spans of the tests' choosing.

Each world is simulated with its tastes, read day by day into the evidence, and judged as the assets
judge it (held-out users in folds, the span's last fifth of days held out); the truth only judges.
"""

from datetime import date, timedelta

import numpy as np
import pytest

from poppy_pipeline.preferences.evaluation import POPULARITY, SERVICE_MF, SERVICE_NN
from poppy_pipeline.preferences.evidence import EvidenceBuilder
from poppy_pipeline.preferences.learning import learn, truth_matrix
from poppy_pipeline.preferences.models import fit_hierarchical
from poppy_pipeline.preferences.network import fit_network
from poppy_pipeline.simulation.interactions import simulate_day
from poppy_pipeline.simulation.settings import SimulationSettings
from poppy_pipeline.simulation.tastes import true_preferences
from poppy_pipeline_tests.conftest import make_model

pytestmark = pytest.mark.slow  # seconds per test: left out of make test-fast

# (settings, first day, days): the default world early in the growth period, a larger one later, a
# short span of a busier one.
WORLDS = {
    "seed 5, 100 users, March 2026": (SimulationSettings(seed=5), date(2026, 3, 2), 30),
    "seed 17, 600 users, February 2027": (
        SimulationSettings(seed=17, num_users=600, interactions_per_day=600 * 10 / 3),
        date(2027, 2, 1),
        28,
    ),
    "seed 23, 300 users, 10 days": (
        SimulationSettings(seed=23, num_users=300, interactions_per_day=3 * 300 * 10 / 3),
        date(2026, 9, 10),
        10,
    ),
}
MODELS = {"layer 3": fit_hierarchical, "layer 4": fit_network}
BASELINES = (POPULARITY, SERVICE_MF, SERVICE_NN)


@pytest.fixture(scope="module", params=list(WORLDS))
def world(request):
    settings, first, length = WORLDS[request.param]
    model, objects, users = make_model(settings)
    days = [str(first + timedelta(days=d)) for d in range(length)]
    builder = EvidenceBuilder(users, objects, days, held_out_days=round(0.2 * length), seed=settings.seed)
    for day in days:
        builder.add_day(simulate_day(model, date.fromisoformat(day)), day)
    evidence = builder.evidence()
    truth = truth_matrix(true_preferences(settings, users), evidence.user_ids)
    return request.param, evidence, truth, settings.seed


@pytest.mark.parametrize("name", list(MODELS))
def test_the_model_beats_popularity_and_the_service_s_models(world, name):
    label, evidence, truth, seed = world
    learned = learn(name, MODELS[name], evidence, truth, seed)
    summary = learned.report["evaluation"]
    assert learned.verdict.passed and learned.verdict.applicable, (label, learned.verdict.message)
    for baseline in BASELINES:
        for measure in ("spearman", "ndcg_at_3"):
            assert summary[name][measure] > summary[baseline][measure], (label, name, baseline, measure, summary)
    table = learned.table
    assert len(table) == len(evidence.user_ids) and np.isfinite(table.iloc[:, 1:].to_numpy()).all()
