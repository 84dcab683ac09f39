"""A generic Estimator whose job fails: fit() must raise UnexpectedStatusException with the reason."""

import numpy as np
import sagemaker
from sagemaker import image_uris
from sagemaker.amazon.amazon_estimator import RecordSet  # noqa: F401  (the notebooks import it)
from sagemaker.estimator import Estimator
from sagemaker.exceptions import UnexpectedStatusException
from sagemaker.inputs import TrainingInput

sess = sagemaker.Session()
bucket = sess.default_bucket()
rows = np.random.default_rng(0).random((50, 4))
np.savetxt("train.csv", rows, delimiter=",")
train = sess.upload_data("train.csv", bucket=bucket, key_prefix="failing/train")

estimator = Estimator(
    image_uris.retrieve("kmeans", sess.boto_region_name),
    role=sagemaker.get_execution_role(),
    instance_count=1,
    instance_type="ml.m5.large",
    output_path=f"s3://{bucket}/failing/output",
    sagemaker_session=sess,
)
estimator.set_hyperparameters(mini_batch_size=10)
try:
    estimator.fit({"train": TrainingInput(train, content_type="text/csv;label_size=0")})
except UnexpectedStatusException as error:
    print("UnexpectedStatusException:", error)
else:
    raise SystemExit("fit() should have raised")
