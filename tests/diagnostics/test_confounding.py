"""The confounding audit on synthetic latents whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from biovae.diagnostics.confounding import audit, audit_covariate, categorical_predictability
from biovae.errors import DataError


def two_groups(n: int = 600, shift: float = 2.0, k: int = 4, dim: int = 2, seed: int = 0):
    """Labels a/b; dimension ``dim`` is N(0,1) for a and N(shift,1) for b, others N(0,1)."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.5, "a", "b").astype(object)
    z = rng.normal(size=(n, k))
    z[:, dim] += shift * (labels == "b")
    return z, labels


def test_attribution_and_skill_match_gaussian_closed_forms():
    z, labels = two_groups(shift=2.0)
    r = audit_covariate(z, labels)
    # AUROC of one dimension separating N(0,1) from N(d,1) is Φ(d/√2); Bayes accuracy Φ(d/2)
    assert r["attribution"][2] == pytest.approx(norm.cdf(2.0 / np.sqrt(2)), abs=0.03)
    others = [a for k, a in enumerate(r["attribution"]) if k != 2]
    assert max(others) < 0.58
    assert r["carrying_dimensions"] == [2]
    assert r["balanced_accuracy"] == pytest.approx(norm.cdf(1.0), abs=0.05)
    assert r["auroc"] == pytest.approx(norm.cdf(2.0 / np.sqrt(2)), abs=0.04)
    assert r["chance"] == 0.5


def test_unrelated_covariate_is_at_chance():
    z, _ = two_groups()
    labels = np.where(np.random.default_rng(9).random(len(z)) < 0.5, "x", "y").astype(object)
    r = audit_covariate(z, labels)
    assert abs(r["balanced_accuracy"] - 0.5) < 0.07 and r["carrying_dimensions"] == []


def test_verdict_flags_a_dominant_batch_and_not_the_reverse():
    rng = np.random.default_rng(1)
    n = 500
    batch = rng.integers(0, 5, n)
    disease = np.where(rng.random(n) < 0.5, "CRC", "control").astype(object)
    z = rng.normal(size=(n, 5))
    z[:, 0] += 3.0 * batch  # the batch is spread along z1
    z[:, 3] += 0.5 * (disease == "CRC")  # the disease barely moves z4
    cols = {"batch": np.array([f"s{b}" for b in batch], dtype=object), "disease": disease}
    out = audit(z, cols, ["batch"], ["disease"])
    v = out["verdict"]
    # Bayes accuracy with levels 3σ apart along one axis: 2·(0.93) + 3·(0.87) over 5 ≈ 0.89
    assert v["technical_dominates"] and out["covariates"]["batch"]["balanced_accuracy"] > 0.8
    assert out["covariates"]["batch"]["carrying_dimensions"][0] == 0
    z[:, 0] = rng.normal(size=n)  # remove the batch, strengthen the disease
    z[:, 3] += 3.0 * (disease == "CRC")
    v = audit(z, cols, ["batch"], ["disease"])["verdict"]
    assert not v["technical_dominates"] and v["biological_skill"] > v["technical_skill"]


def test_continuous_covariate_and_missing_values():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(300, 3))
    age = 50 + 10 * z[:, 1] + rng.normal(size=300)
    age[:20] = np.nan
    r = audit_covariate(z, age)
    assert r["kind"] == "continuous" and r["records"] == 280 and r["missing"] == 20
    assert r["r2"] > 0.95 and r["carrying_dimensions"] == [1]


def test_continuous_skill_does_not_depend_on_the_units_of_the_code():
    # an autoencoder's code may be of any scale: ridge's penalty must act on standardised z
    # (unscaled, a code 1000× smaller lost most of its R² to the penalty: 0.93 -> 0.21)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 4))
    y = z[:, 0] + 0.3 * rng.normal(size=200)
    r2 = [audit_covariate(z * scale, y)["r2"] for scale in (1.0, 1e-3, 1e3)]
    assert r2[0] > 0.9 and r2 == pytest.approx([r2[0]] * 3, abs=1e-6)


def test_bad_inputs_are_data_errors():
    z, labels = two_groups(n=50)
    with pytest.raises(DataError, match="single level"):
        audit_covariate(z, np.array(["a"] * 50, dtype=object))
    one = np.array(["a"] * 50, dtype=np.str_)
    with pytest.raises(DataError, match=r"^covariate 'study': it has a single level \('a'\)"):
        audit(z, {"g": labels, "study": one}, [], [])
    with pytest.raises(DataError, match="not among"):
        audit(z, {"g": labels}, ["batch"], ["g"])
    for empty in (np.full(50, np.nan), np.array([None] * 50, dtype=object), np.full(50, "NA")):
        with pytest.raises(DataError, match=r"^covariate 'e': it has no values \(all 50 missing"):
            audit(z, {"g": labels, "e": empty})
    with pytest.raises(DataError, match="no values"):
        categorical_predictability(z[:0], np.array([], dtype=str))


def test_an_integer_coded_batch_is_audited_as_batches():
    rng = np.random.default_rng(0)
    batch = np.repeat(np.arange(12), 8)  # 12 batches coded 0..11: too many levels to guess
    label = np.tile(["CRC", "control"], 48)
    centres = rng.normal(0, 5, (12, 4))
    z = np.c_[
        centres[batch] + rng.normal(0, 0.3, (96, 4)), (label == "CRC") + rng.normal(0, 0.8, 96)
    ]
    as_codes = audit(z, {"batch": batch.astype(float), "label": label}, ["batch"], ["label"])
    assert as_codes["covariates"]["batch"]["kind"] == "categorical"
    assert as_codes["verdict"]["technical_dominates"]
    guessed = audit(z, {"batch": batch.astype(float)})["covariates"]["batch"]
    assert guessed["kind"] == "continuous"  # without --technical/--categorical: a number
    forced = audit(z, {"batch": batch.astype(float)}, categorical=["batch"])
    assert forced["covariates"]["batch"]["kind"] == "categorical"


def test_a_level_spelled_none_is_a_level_not_missing():
    rng = np.random.default_rng(1)
    level = np.repeat(["none", "low", "high"], 30).astype(object)
    z = rng.normal(size=(90, 3))
    z[:, 0] += 3 * (level == "none")
    result = audit_covariate(z, level)
    assert result["missing"] == 0 and result["records"] == 90
    assert audit_covariate(z, np.array([None, *level[1:]], dtype=object))["missing"] == 1


def test_numbers_with_r_style_missing_values_are_numbers():
    import pandas as pd

    from biovae.data._columns import text_table_obs, to_obs

    age = text_table_obs(pd.Series(["43", "NA", "61", "57"], dtype=object))
    assert age.dtype == np.float64 and np.isnan(age[1]) and age[0] == 43.0
    assert text_table_obs(pd.Series(["a", "NA", "b"], dtype=object)).tolist() == ["a", "NA", "b"]
    assert text_table_obs(pd.Series(["1_0", "10"], dtype=object)).tolist() == ["1_0", "10"]
    # in memory (AnnData, DataFrames) text stays text: plate "01" is not the number 1
    assert to_obs(pd.Series(["01", "02"], dtype=object)).tolist() == ["01", "02"]


def test_a_measured_technical_covariate_stays_a_number():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(120, 3))
    depth = np.exp(rng.normal(10, 0.5, 120))  # a read depth: every value its own
    label = np.tile(["a", "b"], 60)
    result = audit(z, {"depth": depth, "label": label}, ["depth"], ["label"])
    assert result["covariates"]["depth"]["kind"] == "continuous"


def test_a_level_with_a_single_record_is_left_out_not_the_whole_audit():
    # an alignment's focus sequence is its own source; one batch may hold a single sample
    z, labels = two_groups(n=120, shift=3.0)
    labels = labels.copy()
    labels[0] = "focus"
    out = audit(z, {"group": labels, "batch": np.tile(["p", "q"], 60)}, ["batch"], ["group"])
    group = out["covariates"]["group"]
    assert group["levels"] == ["a", "b"] and group["rare_levels"] == ["focus"]
    assert group["records"] == 119 and group["missing"] == 0
    assert group["balanced_accuracy"] > 0.8 and not out["verdict"]["technical_dominates"]
    assert out["covariates"]["batch"]["rare_levels"] == []
    with pytest.raises(DataError, match=r"fewer than two of its levels .*\('a'; 1 with one"):
        audit_covariate(z[:3], np.array(["a", "a", "b"], dtype=object))


def test_a_dimension_carries_a_rare_level_only_beyond_chance():
    labels = np.array(["rare"] * 5 + ["common"] * 145)
    spurious = detected = 0
    for seed in range(40):
        z = np.random.default_rng(seed).normal(size=(150, 10))
        # noise: a symmetric AUROC of 0.65 with 5 records is chance for a quarter of dimensions
        spurious += len(audit_covariate(z, labels, 5, 0, True)["carrying_dimensions"])
        z[:5, 0] += 2.5  # the rare level shifted on dimension 0
        result = audit_covariate(z, labels, 5, 0, True)
        detected += result["carrying_dimensions"] == [0]
        assert len(result["attribution_p"]) == 10
    assert spurious <= 4 and detected >= 36, (spurious, detected)
    # a continuous covariate: |ρ| ≥ 0.3 alone is chance for a third of dimensions at 12 records
    spurious = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        noise = rng.normal(size=12)
        spurious += len(
            audit_covariate(rng.normal(size=(12, 10)), noise, 3, 0, False)["carrying_dimensions"]
        )
    assert spurious <= 2, spurious


def test_numbers_beside_unknown_are_audited_as_numbers(tmp_path):
    import pandas as pd

    from biovae.data.tables import read_obs_table

    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 3))
    age = np.round(50 + 10 * z[:, 1])
    meta = pd.DataFrame({"id": [f"s{i}" for i in range(200)], "age": age.astype(int)})
    meta["age"] = meta["age"].astype(object)
    meta.loc[:19, "age"] = "unknown"  # a metadata table as exported: read back as text
    meta.to_csv(tmp_path / "meta.tsv", sep="\t", index=False)
    _, obs = read_obs_table(tmp_path / "meta.tsv")
    result = audit(z, obs)["covariates"]["age"]
    assert result["kind"] == "continuous" and result["records"] == 180
    assert result["missing"] == 20 and result["r2"] > 0.9 and result["carrying_dimensions"] == [1]
    nullable = pd.Series(age, dtype="Int64").where(np.arange(200) >= 20)  # pd.NA: object array
    assert audit_covariate(z, nullable.to_numpy())["kind"] == "continuous"
    plates = np.array([f"{i:02d}" for i in range(40)] * 5, dtype=object)  # text stays text
    assert audit_covariate(z, plates)["levels"][:2] == ["00", "01"]


def test_a_covariate_of_another_length_is_a_data_error():
    z, labels = two_groups(n=50)
    with pytest.raises(DataError, match=r"^covariate 'g' has shape \(49,\), but .* 50 records"):
        audit(z, {"g": labels[:49]})


def test_one_covariate_cannot_be_both_technical_and_biological():
    z, labels = two_groups(n=50)
    with pytest.raises(DataError, match="'g' is named both technical and biological"):
        audit(z, {"g": labels}, ["g"], ["g"])


def noise_audit(n: int, seed: int) -> dict:
    """Balanced batch b0/b1 and condition c0/c1 drawn independently of pure-noise latents."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 8))
    batch = np.array([f"b{i}" for i in rng.permutation(np.arange(n) % 2)])
    condition = np.array([f"c{i}" for i in rng.permutation(np.arange(n) % 2)])
    return audit(z, {"batch": batch, "condition": condition}, ["batch"], ["condition"])


def test_pure_noise_gives_no_dominance_verdict():
    # before: κ 0.1 apart by chance alone made "batch dominates the map" in 13 of 40 seeds
    verdicts = [noise_audit(60, seed)["verdict"] for seed in range(30)]
    assert sum(v["technical_dominates"] for v in verdicts) <= 1
    assert sum("beyond chance" in v["text"] for v in verdicts) >= 20, verdicts[0]["text"]


def test_skill_standard_errors_match_the_spread_over_repeats():
    kappas, ses = [], []
    for seed in range(30):
        batch = noise_audit(120, seed)["covariates"]["batch"]
        kappas.append(batch["kappa"])
        ses.append(batch["kappa_se"])
    assert 0.6 < np.mean(ses) / np.std(kappas) < 1.6, (np.mean(ses), np.std(kappas))
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 3))
    r2 = audit_covariate(z, z[:, 0] + rng.normal(size=200))
    assert 0.01 < r2["r2_se"] < 0.15
    # a majority-only prediction (recalls 1 and 0) is not certain: its error is not zero
    rare = audit_covariate(z, np.array(["common"] * 190 + ["rare"] * 10))
    assert rare["balanced_accuracy"] == 0.5 and rare["balanced_accuracy_se"] > 0.02


def test_a_batch_holding_one_condition_is_confounded_not_dominant():
    rng = np.random.default_rng(4)
    batch = np.repeat(["b0", "b1", "b2"], 60)
    condition = np.where(batch == "b0", "control", "CRC")  # every batch holds one condition
    z = rng.normal(size=(180, 4))
    z[:, 1] += 3.0 * (batch == "b1") - 3.0 * (batch == "b2")
    cols = {"batch": batch, "condition": condition}
    v = audit(z, cols, ["batch"], ["condition"])["verdict"]
    assert v["confounded"] and not v["technical_dominates"]
    assert "confounded" in v["text"] and "cannot tell" in v["text"]
    condition = condition.copy()
    condition[[60, 120]] = "control"  # one record breaks the nesting: a verdict again
    v = audit(z, {"batch": batch, "condition": condition}, ["batch"], ["condition"])["verdict"]
    assert not v["confounded"] and v["technical_dominates"]


def test_fewer_than_two_folds_is_a_config_error_not_a_rare_level():
    from biovae.errors import ConfigError

    z, labels = two_groups(n=60)
    for values in (labels, z[:, 0] + 1.0):  # before: "level 'a' has a single record"
        with pytest.raises(ConfigError, match=r"n_splits must be >= 2 .*got 1"):
            audit_covariate(z, values, n_splits=1)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5])
def test_a_seed_numpy_cannot_take_is_a_config_error_naming_it(seed):
    """audit(seed=-1) raised numpy's "Seed must be between 0 and 2**32 - 1", naming no
    parameter (and a float seed a TypeError)."""
    from biovae.errors import ConfigError

    z, labels = two_groups(n=60)
    for values in (labels, z[:, 0] + 1.0):
        with pytest.raises(ConfigError, match=r"^seed must be a whole number .*got "):
            audit(z, {"c": values}, seed=seed)


def test_an_integer_age_guessed_as_levels_is_audited_as_a_number_when_named_continuous():
    # 1,000 records of whole-year ages take 42 values: few enough for the guess to read them
    # as 42 levels (balanced accuracy near chance), though the map holds age almost exactly
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1000, 3))
    age = np.round(52 + 7 * z[:, 1] + rng.normal(size=1000))
    assert audit(z, {"age": age})["covariates"]["age"]["kind"] == "categorical"
    r = audit(z, {"age": age}, ["age"], continuous=["age"])["covariates"]["age"]
    # best linear prediction: R² = 49 / (49 + 1 + 1/12), the noise and the rounding unexplained
    assert r["kind"] == "continuous" and r["r2"] == pytest.approx(49 / (50 + 1 / 12), abs=0.01)
    assert r["carrying_dimensions"] == [1]  # a technical number, named continuous, stays one
    with pytest.raises(DataError, match="'age' is named both categorical and continuous"):
        audit(z, {"age": age}, categorical=["age"], continuous=["age"])
    with pytest.raises(DataError, match="'sex' is not among the audited"):
        audit(z, {"age": age}, continuous=["sex"])
    sex = np.where(z[:, 0] > 0, "male", "female").astype(object)
    with pytest.raises(DataError, match=r"^covariate .sex. is named continuous but holds text su"):
        audit(z, {"sex": sex}, continuous=["sex"])
    with pytest.raises(DataError, match=r"^covariate 'c': it has a single value \(3\.5\)"):
        audit(z, {"c": np.full(1000, 3.5)}, continuous=["c"])


def test_the_table_readers_spellings_of_missing_values_are_missing_not_levels():
    # "N/A", "null", "?" are missing to the table reader in a column of numbers; in a text
    # column they were audited as three more levels (chance 1/5 instead of 1/2)
    z, labels = two_groups(n=200, shift=3.0)
    labels = labels.copy()
    spellings = ["N/A", "n/a", "null", "NULL", "?", "<NA>", " NA ", "NaN"]
    labels[: len(spellings) * 3] = spellings * 3
    r = audit_covariate(z, labels)
    assert r["levels"] == ["a", "b"] and r["chance"] == 0.5
    assert r["missing"] == 24 and r["records"] == 176


def test_balanced_accuracy_and_auroc_are_those_of_the_pooled_held_out_predictions():
    # the same folds and classifier, computed with scikit-learn directly: balanced accuracy
    # and AUROC of the predictions each record got from the fold that held it out
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    labels = rng.choice(np.array(["x", "y", "z"]), 150, p=[0.6, 0.3, 0.1])
    z = rng.normal(size=(150, 3)) + (labels == "y")[:, None] * [1.5, 0, 0]
    r = audit_covariate(z, labels, n_splits=4, seed=3)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(4, shuffle=True, random_state=3)
    proba = cross_val_predict(clf, z, labels, cv=cv, method="predict_proba")
    expected = balanced_accuracy_score(labels, np.array(["x", "y", "z"])[proba.argmax(1)])
    assert r["balanced_accuracy"] == pytest.approx(expected, abs=1e-12) and r["folds"] == 4
    assert r["auroc"] == pytest.approx(roc_auc_score(labels, proba, multi_class="ovr"), abs=1e-12)
    assert r["chance"] == pytest.approx(1 / 3)  # balanced accuracy's chance, whatever the shares


def test_a_technical_count_is_a_number_not_codes_of_levels():
    # before: whole numbers with at most half as many values as records were batch codes, so
    # a gene count per cell of 600 cells (some 200 values) was audited as ~200 levels, its
    # singletons left out, "not predicted beyond chance" although the map holds it
    rng = np.random.default_rng(7)
    z = rng.normal(size=(600, 3))
    n_genes = np.round(1500 + 60 * z[:, 0] + 6 * rng.normal(size=600))
    cell = np.tile(["a", "b"], 300)
    out = audit(z, {"n_genes": n_genes, "cell": cell}, ["n_genes"], ["cell"])
    r = out["covariates"]["n_genes"]
    # R² of the best linear prediction: 60² / (60² + 6² + 1/12), the rounding unexplained
    assert r["kind"] == "continuous" and r["r2"] == pytest.approx(3600 / 3636.08, abs=0.01)
    assert out["verdict"]["technical_dominates"]
    # a spike-in count of 100 cells: 45 values (half as many as cells), 17 of them seen once
    spike = np.round(30 + 14 * z[:100, 1] + rng.normal(size=100))
    r = audit(z[:100], {"spike": spike, "cell": cell[:100]}, ["spike"], ["cell"])
    assert r["covariates"]["spike"]["kind"] == "continuous"
    assert r["covariates"]["spike"]["carrying_dimensions"] == [1]
