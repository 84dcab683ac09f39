"""The SageMaker SDK's high-level k-means notebook (kmeans_mnist), cell by cell, unchanged except for
the number of training rows (NOTEBOOK_ROWS, to keep CI quick)."""

import gzip
import os
import pickle
import time

import boto3
import sagemaker
from sagemaker import KMeans, get_execution_role
from sagemaker.utils import S3DataConfig

rows = int(os.environ.get("NOTEBOOK_ROWS", "50000"))
started = last = time.perf_counter()


def timing(cell):
    global last
    now = time.perf_counter()
    print(f"[time] {cell}: {now - last:.1f} s")
    last = now


role = get_execution_role()
print("role:", role)
sess = sagemaker.Session()
bucket = sess.default_bucket()
print("bucket:", bucket)
data_key = "kmeans_lowlevel_example/data"
data_location = "s3://{}/{}".format(bucket, data_key)
output_location = "s3://{}/kmeans_example/output".format(bucket)

fetcher = S3DataConfig(sess, "example-notebooks-data-config", "config/data_config.json")
data_bucket = fetcher.get_data_bucket()
s3 = boto3.client("s3")
s3.download_file(data_bucket, "datasets/image/MNIST/mnist.pkl.gz", "mnist.pkl.gz")
with gzip.open("mnist.pkl.gz", "rb") as f:
    train_set, valid_set, test_set = pickle.load(f, encoding="latin1")
print("train rows:", len(train_set[0]))
timing("set-up and download")

kmeans = KMeans(
    role=role,
    instance_count=2,
    instance_type="ml.c4.xlarge",
    output_path=output_location,
    k=10,
    data_location=data_location,
)
records = kmeans.record_set(train_set[0][:rows])
timing("record_set (the SDK encodes and uploads the shards)")
kmeans.fit(records)
timing("fit")

kmeans_predictor = kmeans.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")
timing("deploy")
result = kmeans_predictor.predict(valid_set[0][0:100])
clusters = [r.label["closest_cluster"].float32_tensor.values[0] for r in result]
distances = [r.label["distance_to_cluster"].float32_tensor.values[0] for r in result]
print("predictions:", len(clusters), "clusters:", sorted(set(int(c) for c in clusters)))
print("mean distance:", sum(distances) / len(distances))

kmeans_predictor.delete_endpoint()
timing("predict, delete_endpoint")
print(f"[time] total: {time.perf_counter() - started:.1f} s")

# Not in the notebook: attach to the finished job, as a later session would (the SDK sleeps 5 s).
attached = KMeans.attach(kmeans.latest_training_job.name)
print("attached:", attached.k, attached.model_data)
print("NOTEBOOK DONE")
