"""Experiment tracking with the SDK: three linear-learner runs with different mini_batch_size and a
shared tag, a leaderboard from Search, deploying the winner, predicting with the CSV serializer, and
tracing the endpoint back to the job that made it."""

import gzip
import os
import pickle
import uuid

import boto3
import numpy as np
import sagemaker
from sagemaker import LinearLearner, get_execution_role
from sagemaker.deserializers import JSONDeserializer
from sagemaker.serializers import CSVSerializer

rows = int(os.environ.get("NOTEBOOK_ROWS", "50000"))
sess = sagemaker.Session()
role = get_execution_role()
bucket = sess.default_bucket()
experiment = "digits-" + uuid.uuid4().hex[:8]

boto3.client("s3").download_file(
    f"sagemaker-sample-data-{sess.boto_region_name}", "algorithms/kmeans/mnist/mnist.pkl.gz", "mnist.pkl.gz"
)
with gzip.open("mnist.pkl.gz", "rb") as f:
    train_set, valid_set, test_set = pickle.load(f, encoding="latin1")
train_x, train_y = train_set[0][:rows], (train_set[1][:rows] == 0).astype("float32")
valid_x, valid_y = valid_set[0][:2000], (valid_set[1][:2000] == 0).astype("float32")

estimators = []
for batch_size in (100, 500, 2000):
    estimator = LinearLearner(
        role=role,
        instance_count=1,
        instance_type="ml.m5.large",
        predictor_type="binary_classifier",
        epochs=3,
        output_path=f"s3://{bucket}/{experiment}/output",
        tags=[{"Key": "experiment", "Value": experiment}],
        sagemaker_session=sess,
    )
    train = estimator.record_set(train_x, labels=train_y)
    validation = estimator.record_set(valid_x, labels=valid_y, channel="validation")
    estimator.fit([train, validation], mini_batch_size=batch_size, wait=False)
    estimators.append(estimator)
for estimator in estimators:
    estimator.latest_training_job.wait(logs="None")

client = sess.sagemaker_client
leaderboard = client.search(
    Resource="TrainingJob",
    SearchExpression={"Filters": [
        {"Name": "Tags.experiment", "Operator": "Equals", "Value": experiment},
        {"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "Completed"},
    ]},
    SortBy="Metrics.train:objective_loss:final",
    SortOrder="Ascending",
)["Results"]
for record in leaderboard:
    job = record["TrainingJob"]
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    print("leaderboard:", job["TrainingJobName"], job["HyperParameters"]["mini_batch_size"],
          round(metrics["train:objective_loss:final"], 5))
best = leaderboard[0]["TrainingJob"]

winner = LinearLearner.attach(best["TrainingJobName"], sagemaker_session=sess)
predictor = winner.deploy(1, "ml.m5.large", serializer=CSVSerializer(), deserializer=JSONDeserializer())
answer = predictor.predict(test_set[0][:200])
predicted = np.array([p["predicted_label"] for p in answer["predictions"]])
print("winner accuracy:", float((predicted == (test_set[1][:200] == 0)).mean()))

# Lineage: endpoint -> endpoint config -> model -> ModelDataUrl -> the job that produced it.
endpoint = client.describe_endpoint(EndpointName=predictor.endpoint_name)
config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
model = client.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
found = client.search(
    Resource="TrainingJob",
    SearchExpression={"Filters": [{"Name": "ModelArtifacts.S3ModelArtifacts", "Operator": "Equals",
                                   "Value": model["PrimaryContainer"]["ModelDataUrl"]}]},
)["Results"]
print("lineage:", [r["TrainingJob"]["TrainingJobName"] for r in found], "best:", best["TrainingJobName"])
predictor.delete_model()
predictor.delete_endpoint()
print("NOTEBOOK DONE")
