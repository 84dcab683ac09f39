"""k-NN hyperparameters: defaults, SageMaker's failure texts, and the cross-hyperparameter rules."""

from __future__ import annotations

import logging

import pytest

from sagemaker_algorithms.common.errors import ClientError
from sagemaker_algorithms.knn.hyperparameters import SCHEMA

BASE = {"k": "10", "sample_size": "5000", "predictor_type": "classifier", "feature_dim": "784"}


def failure(provided) -> str:
    with pytest.raises(ClientError) as caught:
        SCHEMA.validate(provided)
    return caught.value.failure_text


def test_defaults_and_types():
    values = SCHEMA.validate(BASE)
    assert values["k"] == 10 and values["sample_size"] == 5000 and values["feature_dim"] == 784
    assert values["predictor_type"] == "classifier"
    assert values["index_type"] == "faiss.Flat" and values["index_metric"] == "L2"
    assert values["faiss_index_ivf_nlists"] == "auto" and values["faiss_index_pq_m"] is None
    assert values["mini_batch_size"] == 5000 and values["epochs"] == 1
    assert values["dimension_reduction_type"] is None and values["dimension_reduction_target"] is None


def test_container_defaults_file():
    defaults = SCHEMA.defaults
    assert defaults["feature_dim"] == "auto" and defaults["index_type"] == "faiss.Flat"
    assert defaults["_kvstore"] == "dist_async" and defaults["_faiss_index_nprobe"] == "5"
    assert "k" not in defaults and "predictor_type" not in defaults


def test_missing_required():
    assert failure({}) == ("ClientError: No value(s) were specified for 'k', 'sample_size', 'predictor_type', "
                           "'feature_dim' which are required hyperparameter(s) (caused by ValidationError)")
    assert failure({"k": "3", "sample_size": "10", "feature_dim": "4"}) == (
        "ClientError: No value(s) were specified for 'predictor_type' which are required hyperparameter(s) "
        "(caused by ValidationError)")


@pytest.mark.parametrize("name, value, choices", [
    ("predictor_type", "binary_classifier", "'classifier', 'regressor'"),
    ("dimension_reduction_type", "pca", "'sign', 'fjlt'"),
    ("index_type", "faiss.HNSW", "'faiss.Flat', 'faiss.IVFFlat', 'faiss.IVFPQ'"),
    ("index_metric", "l2", "'L2', 'INNER_PRODUCT', 'COSINE'"),
    ("faiss_index_pq_m", "5", "'1', '2', '3', '4', '8', '12', '16', '20', '24', '28', '32', '40', '48', '56', "
                              "'64', '96'"),
])
def test_enum_texts(name, value, choices):
    assert failure({**BASE, name: value}) == (
        f"ClientError: The value '{value}' is not valid for the '{name}' hyperparameter which accepts one of the "
        f"following: {choices} (caused by ValidationError)")


@pytest.mark.parametrize("name", ["k", "sample_size", "feature_dim", "mini_batch_size", "epochs",
                                  "dimension_reduction_target"])
def test_positive_integer_texts(name):
    provided = {**BASE, "dimension_reduction_type": "sign", "dimension_reduction_target": "8", name: "0"}
    assert failure(provided) == (
        f"ClientError: The value '0' is not valid for the '{name}' hyperparameter which expects one of the "
        "following: a string which matches the pattern '^([1-9][0-9]*)$'; or an integer greater than 1 "
        "(caused by ValidationError)")


def test_nlists_auto_or_integer():
    assert SCHEMA.validate({**BASE, "faiss_index_ivf_nlists": "64"})["faiss_index_ivf_nlists"] == 64
    assert "matches the pattern '^(auto|[1-9][0-9]*)$'" in failure({**BASE, "faiss_index_ivf_nlists": "many"})


def test_pq_m_and_ivfpq():
    values = SCHEMA.validate({**BASE, "index_type": "faiss.IVFPQ", "faiss_index_pq_m": "16"})
    assert values["faiss_index_pq_m"] == "16"
    assert SCHEMA.validate({**BASE, "faiss_index_pq_m": 8})["faiss_index_pq_m"] == "8"  # JSON numbers too


@pytest.mark.parametrize("metric", ["INNER_PRODUCT", "COSINE"])
def test_ivfpq_accepts_only_l2(metric):
    assert failure({**BASE, "index_type": "faiss.IVFPQ", "index_metric": metric}) == (
        f"ClientError: The value '{metric}' is not valid for the 'index_metric' hyperparameter which accepts only "
        "'L2' when 'index_type' is 'faiss.IVFPQ' (caused by ValidationError)")
    assert SCHEMA.validate({**BASE, "index_type": "faiss.IVFFlat", "index_metric": metric})["index_metric"] == metric


def test_reduction_needs_a_target():
    assert failure({**BASE, "dimension_reduction_type": "fjlt"}) == (
        "ClientError: 'dimension_reduction_target' is a dependency of 'dimension_reduction_type' "
        "(caused by ValidationError)")


def test_reduction_target_below_feature_dim():
    assert failure({**BASE, "dimension_reduction_type": "sign", "dimension_reduction_target": "784"}) == (
        "ClientError: The value '784' is not valid for the 'dimension_reduction_target' hyperparameter which "
        "expects an integer greater than 0 and less than feature_dim (784) (caused by ValidationError)")
    values = SCHEMA.validate({**BASE, "dimension_reduction_type": "sign", "dimension_reduction_target": "783"})
    assert values["dimension_reduction_target"] == 783


def test_target_without_type_is_ignored(caplog):
    with caplog.at_level(logging.WARNING):
        values = SCHEMA.validate({**BASE, "dimension_reduction_target": "20"})
    assert values["dimension_reduction_target"] is None
    assert "'dimension_reduction_target' is ignored" in caplog.text


def test_unknown_and_hidden_keys():
    assert failure({**BASE, "n_neighbors": "3"}) == (
        "ClientError: Additional hyperparameters are not allowed ('n_neighbors' was unexpected) "
        "(caused by ValidationError)")
    assert SCHEMA.validate({**BASE, "_tuning_objective_metric": "test:accuracy", "_faiss_index_nprobe": "9"})["k"] == 10


def test_sdk_style_values():
    # the SDK's KNN sends str() of every value; JSON-typed values are accepted as well
    values = SCHEMA.validate({"k": 3, "sample_size": 100, "predictor_type": "regressor", "feature_dim": 4,
                              "index_metric": "COSINE"})
    assert values["k"] == 3 and values["predictor_type"] == "regressor" and values["index_metric"] == "COSINE"


def test_the_sdk_estimators_hyperparameters_validate():
    from unittest.mock import MagicMock

    from sagemaker.amazon.knn import KNN

    session = MagicMock(boto_region_name="us-east-1", sagemaker_config={})
    estimator = KNN(role="arn:aws:iam::123456789012:role/SageMakerRole", instance_count=1,
                    instance_type="ml.m5.large", k=10, sample_size=500, predictor_type="regressor",
                    dimension_reduction_type="fjlt", dimension_reduction_target=5, index_type="faiss.IVFPQ",
                    faiss_index_pq_m=4, sagemaker_session=session)
    estimator.feature_dim = 784  # what fit() sets from the RecordSet
    values = SCHEMA.validate(estimator.hyperparameters())
    assert values["predictor_type"] == "regressor" and values["dimension_reduction_target"] == 5
    assert values["faiss_index_pq_m"] == "4" and values["feature_dim"] == 784
