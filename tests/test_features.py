"""The fast features (helpers.features) equal the course's DictVectorizer exactly."""

from __future__ import annotations

import numpy as np

import helpers
from helpers.features import course_fit_features, fit_features, to_records, transform_features


def test_fast_features_equal_the_course_dictvectorizer(synthetic_dir):
    train = helpers.load_month("green", "2023-01", "synthetic", synthetic_dir, 20_000)
    valid = helpers.load_month("green", "2023-02", "synthetic", synthetic_dir, 20_000)
    dv_course, X_course = course_fit_features(train.df)
    dv_fast, X_fast = fit_features(train.df)
    assert dv_fast.feature_names_ == dv_course.feature_names_
    assert X_fast.shape == X_course.shape and (X_fast != X_course).nnz == 0
    V_course = dv_course.transform(to_records(valid.df))  # unseen pairs are ignored by both
    V_fast = transform_features(dv_fast, valid.df)
    assert (V_fast != V_course).nnz == 0
    assert X_fast.indices.dtype == np.int32
    # the fitted vectoriser still works the course's way
    assert (dv_fast.transform(to_records(valid.df)) != V_course).nnz == 0
