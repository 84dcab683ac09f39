"""A k-NN notebook written with the SDK's generic Estimator (as the AWS k-NN examples are), unchanged
except for the number of rows (NOTEBOOK_ROWS, to keep CI quick)."""

import gzip
import os
import pickle
import time

import boto3
import numpy as np
import sagemaker
from sagemaker import get_execution_role, image_uris
from sagemaker.deserializers import JSONDeserializer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer

rows = int(os.environ.get("NOTEBOOK_ROWS", "20000"))
started = time.perf_counter()

sess = sagemaker.Session()
role = get_execution_role()
bucket = sess.default_bucket()
prefix = "knn-mnist"
boto3.client("s3").download_file(
    f"sagemaker-sample-data-{sess.boto_region_name}", "algorithms/kmeans/mnist/mnist.pkl.gz", "mnist.pkl.gz"
)
with gzip.open("mnist.pkl.gz", "rb") as f:
    train_set, valid_set, _ = pickle.load(f, encoding="latin1")

train = np.column_stack([train_set[1][:rows], train_set[0][:rows]])
test = np.column_stack([valid_set[1][:1000], valid_set[0][:1000]])
np.savetxt("train.csv", train, delimiter=",", fmt="%g")
np.savetxt("test.csv", test, delimiter=",", fmt="%g")
train_uri = sess.upload_data("train.csv", bucket=bucket, key_prefix=f"{prefix}/train")
test_uri = sess.upload_data("test.csv", bucket=bucket, key_prefix=f"{prefix}/test")

knn = Estimator(
    image_uris.retrieve("knn", sess.boto_region_name),
    role,
    instance_count=1,
    instance_type="ml.m5.2xlarge",
    output_path=f"s3://{bucket}/{prefix}/output",
    sagemaker_session=sess,
)
knn.set_hyperparameters(feature_dim=784, k=10, sample_size=rows, predictor_type="classifier")
knn.fit({
    "train": TrainingInput(train_uri, content_type="text/csv;label_size=1"),
    "test": TrainingInput(test_uri, content_type="text/csv;label_size=1"),
})
job_name = knn.latest_training_job.name
metrics = sess.describe_training_job(job_name)["FinalMetricDataList"]
print("metrics:", {m["MetricName"]: round(m["Value"], 4) for m in metrics})

predictor = knn.deploy(1, "ml.m5.xlarge", serializer=CSVSerializer(), deserializer=JSONDeserializer())
answer = predictor.predict(valid_set[0][:100])
predicted = np.array([p["predicted_label"] for p in answer["predictions"]])
print("predictions:", len(predicted), "accuracy:", float((predicted == valid_set[1][:100]).mean()))
predictor.delete_model()
predictor.delete_endpoint()
print(f"[time] total: {time.perf_counter() - started:.1f} s")

attached = Estimator.attach(job_name)
print("attached:", attached.hyperparameters()["predictor_type"], attached.model_data)
print("NOTEBOOK DONE")
